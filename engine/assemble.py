"""Turns a job's artifacts (images, narration) into a compositor Timeline: scene lengths from the
voice, narration placed at scene offsets, captions from word timings, and the whole held longer
to reach the requested duration when the voice runs short."""

from __future__ import annotations

from pathlib import Path

from engine.compose.captions import chunk_captions
from engine.compose.pacing import fade_for, motion_strength_for, transition_for
from engine.compose.soundtrack import place_clips
from engine.compose.timeline import CaptionWord, Timeline, TimelineScene
from engine.contracts import Narration
from engine.errors import BadInput
from engine.spec import JobSpec


def scene_durations(narration: Narration, target_seconds: float) -> list[float]:
    """Each scene lasts as long as its audio (which carries its own lead-in and end pause); if the
    whole is shorter than the requested length, the difference is shared out as longer holds, so
    the video lasts what the creator asked for (speech is never cut to shorten it)."""
    natural = [s.duration for s in narration.scenes]
    short = target_seconds - sum(natural)
    if short <= 0:
        return natural
    return [d + short / len(natural) for d in natural]


def build_timeline(spec: JobSpec, images: list[Path], narration: Narration, workdir: Path) -> Timeline:
    if len(images) != len(narration.scenes):
        raise BadInput(f"{len(images)} images but {len(narration.scenes)} narrated scenes")
    durations = scene_durations(narration, spec.duration_seconds)
    starts = [sum(durations[:i]) for i in range(len(durations))]
    total = sum(durations)

    clips = [(s.wav, start) for s, start in zip(narration.scenes, starts)]
    track = place_clips(clips, total, workdir / "audio" / "narration.wav")

    words = [
        CaptionWord(w.text, start + w.start, start + w.end)
        for s, start in zip(narration.scenes, starts)
        for w in s.words
    ]
    width, height = spec.aspect_ratio.frame_size
    return Timeline(
        width=width,
        height=height,
        fps=spec.fps,
        scenes=tuple(
            TimelineScene(image=img, duration=d, motion="auto") for img, d in zip(images, durations)
        ),
        transition=transition_for(spec.pacing),
        motion_strength=motion_strength_for(spec.pacing),
        fade=fade_for(spec.pacing),
        narration=track,
        music=Path(spec.music) if spec.music else None,
        captions=chunk_captions(words) if spec.captions else (),
    )
