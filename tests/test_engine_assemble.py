"""A job's artifacts become a timeline: scenes as long as their voice, narration at scene
offsets, captions on the words, held longer when the voice is shorter than asked."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from engine.assemble import build_timeline, render_settings, scene_durations
from engine.contracts import Narration, SceneAudio, Word
from engine.spec import AspectRatio, JobSpec, Pacing, Quality


def _wav(path: Path, seconds: float, rate: int = 22050) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tone = (0.3 * np.sin(np.arange(int(seconds * rate)) * 2 * np.pi * 220 / rate) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(tone.tobytes())
    return path


def _narration(tmp: Path, lengths: list[float]) -> Narration:
    scenes = []
    for i, length in enumerate(lengths):
        words = (Word("hello", 0.1, 0.5), Word("there.", 0.6, length - 0.2))
        scenes.append(SceneAudio(_wav(tmp / "audio" / f"scene_{i + 1:02d}.wav", length), length, words))
    return Narration(tuple(scenes), 22050)


def test_scenes_last_their_voice_and_are_held_to_the_requested_length() -> None:
    assert scene_durations([4.0, 5.0, 3.0], 10.0) == [4.0, 5.0, 3.0]  # never cut speech
    held = scene_durations([4.0, 5.0, 3.0], 15.0)  # equal shares: each scene ends by 5, 10, 15 s
    assert sum(held) == pytest.approx(15.0) and held == pytest.approx([5.0, 5.0, 5.0])
    # shares follow the weights (words): scene ends due at 4, 12, 16 s; scene 2's voice is short
    assert scene_durations([4.0, 5.0, 3.0], 16.0, [1, 2, 1]) == pytest.approx([4.0, 8.0, 4.0])
    # a long scene pushes the later ones; the total still reaches the request when it can
    assert scene_durations([9.0, 2.0, 2.0], 15.0) == pytest.approx([9.0, 2.0, 4.0])


def test_a_scenes_length_depends_only_on_the_scenes_before_it() -> None:
    """What lets the compositor start on scene 1 before the last scene is narrated."""
    natural, weights = [3.2, 6.1, 2.5, 4.4, 1.9], [10, 30, 12, 20, 8]
    full = scene_durations(natural, 30.0, weights)
    for k in range(1, len(natural)):
        assert scene_durations(natural[:k], 30.0, weights) == pytest.approx(full[:k])


def test_build_timeline_places_voice_and_captions_at_scene_offsets(tmp_path: Path) -> None:
    narration = _narration(tmp_path, [4.0, 5.0, 3.0])
    images = [tmp_path / f"img{i}.png" for i in range(3)]
    spec = JobSpec(topic="t", duration_minutes=0.25, num_scenes=3, pacing=Pacing.FAST)
    timeline = build_timeline(spec, images, narration, tmp_path)
    assert [s.duration for s in timeline.scenes] == pytest.approx([5.0, 5.0, 5.0])
    assert (timeline.width, timeline.height, timeline.fps) == (1920, 1080, 30)
    assert timeline.narration is not None
    with wave.open(str(timeline.narration)) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(15.0, abs=0.01)
    words = [w for c in timeline.captions for w in c.words]
    # The second scene starts at 5.0 s: its first word is at 5.1 s on the video's clock.
    assert [round(w.start, 3) for w in words] == [0.1, 0.6, 5.1, 5.6, 10.1, 10.6]
    no_captions = build_timeline(
        JobSpec(topic="t", duration_minutes=0.25, num_scenes=3, captions=False), images, narration, tmp_path
    )
    assert no_captions.captions == ()


@pytest.mark.parametrize("quality, aspect, nvenc, size, codec, preset", [
    (Quality.DRAFT, AspectRatio.LANDSCAPE, False, (1280, 720), "auto", "ultrafast"),
    (Quality.DRAFT, AspectRatio.PORTRAIT, False, (720, 1280), "auto", "ultrafast"),
    (Quality.STANDARD, AspectRatio.SQUARE, True, (1080, 1080), "auto", "veryfast"),
    (Quality.HIGH, AspectRatio.LANDSCAPE, False, (1920, 1080), "auto", "medium"),
    (Quality.HIGH, AspectRatio.LANDSCAPE, True, (3840, 2160), "h264_nvenc", "slow"),
])
def test_quality_sets_the_frame_size_and_encoder(quality: Quality, aspect: AspectRatio, nvenc: bool,
                                                 size: tuple[int, int], codec: str, preset: str) -> None:
    spec = JobSpec(topic="t", quality=quality, aspect_ratio=aspect)
    s = render_settings(spec, nvenc=lambda: nvenc)
    assert ((s.width, s.height), s.video.codec, s.video.preset) == (size, codec, preset)
    assert JobSpec.from_dict(spec.to_dict()) == spec
    assert JobSpec(topic="t", quality="draft").quality is Quality.DRAFT  # type: ignore[arg-type]
