"""The Coqui backend on a tiny random-weight multi-speaker VITS built offline: the real coqui-tts
config loading, checkpoint loading and synthesis, through CatalogNarrator."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from engine.contracts import Narration, Scene, Script
from engine.errors import ModelFailed, ModelMissing
from engine.narration.audio import read_wav
from engine.narration.narrator import CatalogNarrator
from engine.narration.random_vits import build_random_vits
from engine.narration.timing import PACING
from engine.narration.voices import VCTK_VITS, VOICES, XTTS_V2, list_voices
from engine.progress import StageProgress
from engine.spec import JobSpec, Pacing

import TTS  # noqa: E402,F401  the tts extra is part of the test install: missing is a failure
import torch  # noqa: E402,F401

SPEAKERS = ("p225", "p273", "p278")  # female_narrator_warm, male_narrator_deep, horror_whisper
SCRIPT = Script("t", (
    Scene("Dr. Hart lit the lamp at 9pm. The sea was calm.", ""),
    Scene("Then, in 1893, the light went out!", ""),
))


@pytest.fixture(scope="session")
def tiny_vits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_random_vits(tmp_path_factory.mktemp("models") / "tts" / VCTK_VITS, SPEAKERS)
    assert json.loads((folder / "config.json").read_text())["speakers_file"].startswith("/trained/elsewhere")
    return folder


@pytest.fixture(scope="session")
def narrator(tiny_vits: Path) -> Iterator[CatalogNarrator]:
    narrator = CatalogNarrator({VCTK_VITS: tiny_vits}, device="cpu", keep_loaded=True)
    yield narrator
    narrator.close()


def run(narrator: CatalogNarrator, workdir: Path, script: Script = SCRIPT,
        **spec_kw: object) -> tuple[Narration, list[str], list[str]]:
    notes: list[str] = []
    messages: list[str] = []
    progress = StageProgress("narration", sink=lambda s, p, m: messages.append(m), detail=notes.append,
                             cancel=threading.Event())
    spec = JobSpec(topic="t", **spec_kw)  # type: ignore[arg-type]
    return narrator.narrate(script, spec, workdir, progress=progress), notes, messages


def test_speaks_each_scene_through_coqui(narrator: CatalogNarrator, tmp_path: Path) -> None:
    narration, notes, messages = run(narrator, tmp_path, voice_id="male_narrator_deep")
    assert any("Coqui VITS" in n and "p273" in n for n in notes)
    assert narration.sample_rate == 22050
    assert [s.wav.name for s in narration.scenes] == ["scene_01.wav", "scene_02.wav"]
    for text, scene in zip((s.narration for s in SCRIPT.scenes), narration.scenes):
        audio, rate = read_wav(scene.wav)
        assert rate == 22050 and scene.duration == pytest.approx(len(audio) / rate, abs=1e-3)
        assert np.abs(audio).max() > 0.01
        assert [w.text for w in scene.words] == text.split()
        for a, b in zip(scene.words, scene.words[1:]):
            assert 0 <= a.start < a.end <= b.start + 1e-3
        assert scene.words[-1].end <= scene.duration - PACING[Pacing.MODERATE].scene_tail + 1e-3
    assert "Narrating scene 2 of 2" in messages
    assert narrator.loaded == ("coqui:vctk-vits:p273:male_narrator_deep",)


def test_word_timings_follow_the_models_durations(tiny_vits: Path) -> None:
    """The engine's word groups come from VITS's own predicted durations: one group per word
    here (no phonemizer to merge words), inside the audio, and scaled by the length scale."""
    from engine.narration.coqui_engine import CoquiEngine

    engine = CoquiEngine(tiny_vits, VOICES["female_narrator_warm"], device="cpu")
    try:
        text = "the lamp went dark again"
        normal = engine.synthesize(text, length_scale=1.0, noise=0.0)
        slow = engine.synthesize(text, length_scale=2.0, noise=0.0)
    finally:
        engine.close()
    assert normal.words is not None and len(normal.words) == 5
    assert [n for _, _, n in normal.words] == [len(w) for w in text.split()]
    assert normal.words[-1][1] <= len(normal.audio) / normal.sample_rate + 1e-6
    assert slow.words is not None and slow.words[-1][1] > normal.words[-1][1] * 1.4


def test_pauses_and_rate_follow_pacing(narrator: CatalogNarrator, tmp_path: Path) -> None:
    script = Script("t", (Scene("The sea was calm tonight. The lamp burned bright and steady.", ""),))
    gaps, spans = {}, {}
    for pacing in (Pacing.SLOW, Pacing.FAST):
        narration, _, _ = run(narrator, tmp_path / pacing.value, script, pacing=pacing)
        words = narration.scenes[0].words
        gaps[pacing] = words[5].start - words[4].end  # between "tonight." and "The"
        spans[pacing] = words[-1].end - words[5].start
    slow, fast = PACING[Pacing.SLOW], PACING[Pacing.FAST]
    assert gaps[Pacing.SLOW] >= slow.sentence_pause - 0.01
    assert gaps[Pacing.FAST] >= fast.sentence_pause - 0.01
    assert gaps[Pacing.SLOW] > gaps[Pacing.FAST] + 0.3
    assert spans[Pacing.SLOW] > spans[Pacing.FAST] * 1.15


def test_missing_speaker_names_it_and_the_fix(narrator: CatalogNarrator, tmp_path: Path) -> None:
    with pytest.raises(ModelMissing) as err:
        run(narrator, tmp_path, voice_id="female_energetic")  # speaker p228: not in the tiny model
    message = str(err.value)
    assert "'p228'" in message and "vctk-vits" in message and "download_models.py --tts" in message
    assert "p273" in message  # lists the speakers it does have


def test_missing_checkpoint_or_config(tmp_path: Path) -> None:
    folder = tmp_path / VCTK_VITS
    folder.mkdir()
    narrator = CatalogNarrator({VCTK_VITS: folder}, device="cpu")
    with pytest.raises(ModelMissing, match=r"no config\.json.*download_models\.py --tts"):
        narrator.narrate(SCRIPT, JobSpec(topic="t"), tmp_path / "job", progress=StageProgress("narration"))
    (folder / "config.json").write_text(json.dumps({"model": "vits", "audio": {"sample_rate": 22050}}))
    with pytest.raises(ModelMissing, match=r"No model checkpoint.*download_models\.py --tts"):
        narrator.narrate(SCRIPT, JobSpec(topic="t"), tmp_path / "job", progress=StageProgress("narration"))


def test_xtts_folder_without_weights_says_how_to_get_them(tmp_path: Path) -> None:
    folder = tmp_path / XTTS_V2
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model": "xtts", "audio": {"sample_rate": 22050}}))
    narrator = CatalogNarrator({XTTS_V2: folder}, device="cpu")
    with pytest.raises(ModelMissing, match=r"lacks model\.pth.*download_models\.py --xtts"):
        narrator.narrate(SCRIPT, JobSpec(topic="t", voice_id="xtts_male_cinematic"), tmp_path / "job",
                         progress=StageProgress("narration"))


def test_model_of_the_wrong_kind_is_refused(tiny_vits: Path, tmp_path: Path) -> None:
    narrator = CatalogNarrator({XTTS_V2: tiny_vits}, device="cpu")
    with pytest.raises(ModelFailed, match="holds a VITS model"):
        narrator.narrate(SCRIPT, JobSpec(topic="t", voice_id="xtts_female_storyteller"), tmp_path,
                         progress=StageProgress("narration"))


def test_voices_without_their_model_fall_back_to_the_embedded_voice(narrator: CatalogNarrator) -> None:
    listed = {v["id"]: v for v in list_voices({VCTK_VITS: Path("/x")})}
    assert listed["male_narrator_deep"]["installed"] and not listed["xtts_male_cinematic"]["installed"]
    assert narrator.engine_kind(VOICES["xtts_male_cinematic"]) == "embedded"
    assert narrator.engine_kind(VOICES["male_narrator_deep"]) == "coqui"


def test_released_after_the_stage_unless_kept(tiny_vits: Path, tmp_path: Path) -> None:
    narrator = CatalogNarrator({"vctk_vits": tiny_vits}, device="cpu")  # name matching ignores - and _
    script = Script("t", (Scene("Hello.", ""),))
    narration, notes, _ = run(narrator, tmp_path, script, voice_id="horror_whisper")
    assert any("Coqui VITS" in n for n in notes)
    assert narrator.loaded == ()
    assert [w.text for w in narration.scenes[0].words] == ["Hello."]
