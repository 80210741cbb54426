"""The Coqui backend on a tiny random-weight multi-speaker VITS built offline: the real coqui-tts
config loading, checkpoint loading and synthesis, through CatalogNarrator. And XTTS voice cloning on
a tiny random-weight XTTS v2 (real Xtts loading, latents and inference): the speaker latents are
computed once per voice from a clip read with soundfile."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from engine.contracts import Narration, Scene, Script
from engine.errors import ModelFailed, ModelMissing
from engine.narration.audio import read_wav
from engine.narration.narrator import CatalogNarrator
from engine.narration.random_vits import build_random_vits, build_random_xtts
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


# -- XTTS: speaker latents once per voice ---------------------------------------------------------------

XTTS_VOICE = "xtts_male_cinematic"


def write_clip(path: Path, seconds: float, pitch: float, rate: int = 44100) -> Path:
    """A stereo 32-bit float WAV (not what XTTS works at: it must be mixed down and resampled)."""
    import soundfile

    t = np.arange(int(rate * seconds)) / rate
    voice = 0.3 * np.sin(2 * np.pi * pitch * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.stack([voice, 0.5 * voice], axis=1).astype(np.float32), rate,
                    subtype="FLOAT")
    return path


@pytest.fixture(scope="session")
def tiny_xtts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_random_xtts(tmp_path_factory.mktemp("models") / "tts" / XTTS_V2)
    write_clip(folder / "voices" / f"{XTTS_VOICE}.wav", 2.0, 140.0)
    return folder


@pytest.fixture
def latent_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts calls to XTTS's own latent methods (the real ones still run), and makes any audio
    load through torchaudio (which needs FFmpeg's libraries through torchcodec) fail the test."""
    import torchaudio
    from TTS.tts.models.xtts import Xtts

    calls = {"get_gpt_cond_latents": 0, "get_speaker_embedding": 0}
    for name in calls:
        real = getattr(Xtts, name)

        def counted(self: Xtts, *args: object, _real: Any = real, _name: str = name, **kw: object) -> Any:
            calls[_name] += 1
            return _real(self, *args, **kw)

        monkeypatch.setattr(Xtts, name, counted)

    def no_torchaudio_load(*args: object, **kw: object) -> None:
        raise AssertionError("the reference clip went through torchaudio.load")

    monkeypatch.setattr(torchaudio, "load", no_torchaudio_load)
    return calls


def test_xtts_latents_are_computed_once_for_every_sentence(
        tiny_xtts: Path, tmp_path: Path, latent_calls: dict[str, int]) -> None:
    narrator = CatalogNarrator({XTTS_V2: tiny_xtts}, device="cpu", keep_loaded=True)
    script = Script("t", (Scene("The lamp went out. The sea was calm.", ""),
                          Scene("Nobody came. The keeper waited.", "")))
    try:
        narration, notes, _ = run(narrator, tmp_path / "one", script, voice_id=XTTS_VOICE)
        assert latent_calls == {"get_gpt_cond_latents": 1, "get_speaker_embedding": 1}
        assert narration.sample_rate == 24000
        for scene in narration.scenes:
            audio, rate = read_wav(scene.wav)
            assert rate == 24000 and np.abs(audio).max() > 0  # four sentences, each spoken
        assert any("Coqui XTTS" in n for n in notes)
        run(narrator, tmp_path / "two", script, voice_id=XTTS_VOICE)  # the next job: model kept
        assert latent_calls == {"get_gpt_cond_latents": 1, "get_speaker_embedding": 1}
    finally:
        narrator.close()


def test_xtts_latents_follow_an_edited_clip(tiny_xtts: Path, tmp_path: Path,
                                            latent_calls: dict[str, int]) -> None:
    """A kept engine notices that the clip changed and clones again; the new latents differ."""
    from engine.narration.coqui_engine import CoquiEngine

    clip = write_clip(tmp_path / "mine.wav", 2.0, 120.0, rate=16000)
    engine = CoquiEngine(tiny_xtts, VOICES[XTTS_VOICE], device="cpu", reference_clip=clip)
    try:
        first = [t.clone() for t in engine._conditioning()]
        engine.synthesize("One.", length_scale=1.0, noise=1.0)
        assert latent_calls["get_speaker_embedding"] == 1
        write_clip(clip, 3.0, 220.0, rate=16000)
        engine.synthesize("Two.", length_scale=1.0, noise=1.0)
        engine.synthesize("Three.", length_scale=1.0, noise=1.0)
        assert latent_calls == {"get_gpt_cond_latents": 2, "get_speaker_embedding": 2}
        second = engine._conditioning()
        assert not torch.equal(first[1], second[1])
    finally:
        engine.close()


def test_xtts_clip_that_is_not_audio_is_a_clear_error(tiny_xtts: Path, tmp_path: Path) -> None:
    from engine.narration.coqui_engine import CoquiEngine

    clip = tmp_path / "notes.wav"
    clip.write_text("not audio", encoding="utf-8")
    with pytest.raises(ModelFailed, match=r"notes\.wav could not be read.*WAV or FLAC"):
        CoquiEngine(tiny_xtts, VOICES[XTTS_VOICE], device="cpu", reference_clip=clip)


def test_xtts_builtin_speaker_needs_no_clip(tiny_xtts: Path, tmp_path: Path,
                                            latent_calls: dict[str, int]) -> None:
    """A voice in speakers_xtts.pth speaks from its stored latents: nothing is cloned."""
    from engine.narration.coqui_engine import CoquiEngine

    folder = tmp_path / XTTS_V2
    folder.mkdir()
    for name in ("config.json", "model.pth", "vocab.json"):
        (folder / name).symlink_to(tiny_xtts / name)
    voice = VOICES["xtts_female_storyteller"]
    torch.manual_seed(1)
    torch.save({voice.speaker: {"gpt_cond_latent": torch.randn(1, 32, 64),
                                "speaker_embedding": torch.randn(1, 512, 1)}}, folder / "speakers_xtts.pth")
    engine = CoquiEngine(folder, voice, device="cpu")
    try:
        speech = engine.synthesize("Hello there.", length_scale=1.0, noise=1.0)
    finally:
        engine.close()
    assert speech.sample_rate == 24000 and len(speech.audio) > 0
    assert latent_calls == {"get_gpt_cond_latents": 0, "get_speaker_embedding": 0}
