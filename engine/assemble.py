"""Turns a job's artifacts (images, narration) into a compositor Timeline: scene lengths from the
voice, narration placed at scene offsets, captions from word timings, frame size and encoder
settings from the requested quality, and the whole held longer to reach the requested duration
when the voice runs short.

Everything about scene i depends only on scenes 1..i, so the compositor can start on the first
scenes while later ones are still being painted and narrated (``partial_timeline``), and the
final timeline (``build_timeline``) starts with exactly the scenes it already rendered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from engine.compose.captions import chunk_captions
from engine.compose.pacing import fade_for, motion_strength_for, transition_for
from engine.compose.soundtrack import place_clips
from engine.compose.timeline import Caption, CaptionWord, Timeline, TimelineScene, VideoSettings
from engine.contracts import Narration, SceneAudio
from engine.errors import BadInput
from engine.spec import JobSpec, Quality


@dataclass(frozen=True)
class RenderSettings:
    width: int
    height: int
    video: VideoSettings


#: Short side of the frame and encoder settings per quality (libx264 names; NVENC maps them).
_DRAFT = (720, VideoSettings("auto", 23, "ultrafast"))
_STANDARD = (1080, VideoSettings("auto", 20, "veryfast"))
_HIGH_CPU = (1080, VideoSettings("auto", 18, "medium"))
_HIGH_NVENC = (2160, VideoSettings("h264_nvenc", 19, "slow"))


def render_settings(spec: JobSpec, nvenc: Callable[[], bool] | None = None) -> RenderSettings:
    """Frame size and encoder for the spec's quality and aspect ratio. ``nvenc`` tells whether an
    NVIDIA encoder works here (asked only for ``high``; default: a real probe with ffmpeg)."""
    if spec.quality is Quality.DRAFT:
        short, video = _DRAFT
    elif spec.quality is Quality.HIGH:
        if nvenc is None:
            from engine.compose import ffmpeg as ff

            def nvenc() -> bool:
                return ff.nvenc_works(ff.find_ffmpeg())
        short, video = _HIGH_NVENC if nvenc() else _HIGH_CPU
    else:
        short, video = _STANDARD
    w, h = spec.aspect_ratio.frame_size  # 1080p sizes
    scale = short / min(w, h)
    return RenderSettings(_even(w * scale), _even(h * scale), video)


def _even(v: float) -> int:
    return max(16, 2 * round(v / 2))


#: How much longer than its share so far the voice may still run in the scenes left, as a
#: margin held back from the holds (so an underestimated last scene does not overrun the end).
_RESERVE = 1.15


def scene_durations(natural: Sequence[float], target_seconds: float,
                    weights: Sequence[float] | None = None) -> list[float]:
    """Each scene lasts as long as its audio (which carries its own lead-in and end pause), and
    is held longer where the voice ran short of its share of the requested length: scene i's
    share ends at ``target * (weights of scenes 1..i) / (all weights)`` (weights: each scene's
    predicted speech length, or its words; equal when not given), and the scene ends at the
    later of its speech's end and that point — but no later than leaves room for the scenes
    still to come at the pace the voice has kept so far (plus a margin). So the video lasts
    what the creator asked for when the voice is shorter, speech is never cut to shorten it,
    and scene i's length depends on scenes 1..i only (the compositor can start before the last
    scene is narrated)."""
    n = len(natural)
    weights = list(weights) if weights is not None else [1.0] * n
    if len(weights) < n:
        raise BadInput(f"{len(weights)} scene weights for {n} scenes")
    total_w = sum(weights) or 1.0
    shares = [target_seconds * w / total_w for w in weights]
    out: list[float] = []
    end = spoken = shared = 0.0
    for i, d in enumerate(natural):
        spoken += d
        shared += shares[i]
        pace = spoken / shared if shared > 0 else 1.0
        room = target_seconds - _RESERVE * pace * sum(shares[i + 1:])
        new_end = max(end + d, min(shared, room))
        out.append(new_end - end)
        end = new_end
    return out


def scene_weights(texts: Sequence[str]) -> list[float]:
    """Words per scene (characters in Chinese/Japanese; at least one), the share each scene gets
    of the requested length."""
    from engine.script.speakable import word_count

    return [float(max(1, word_count(t))) for t in texts]


def _captions(scenes: Sequence[SceneAudio], starts: Sequence[float],
              durations: Sequence[float], language: str = "en") -> tuple[Caption, ...]:
    """Captions chunked scene by scene (a caption never spans a cut), so appending a scene
    never changes the captions before it."""
    out: list[Caption] = []
    for s, start, d in zip(scenes, starts, durations):
        words = [CaptionWord(w.text, start + w.start, start + w.end) for w in s.words]
        for c in chunk_captions(words, language=language):
            end = min(c.end, start + d)
            if end > c.start:
                out.append(Caption(c.text, c.start, end, c.words))
    return tuple(out)


def partial_timeline(spec: JobSpec, images: Sequence[Path], scenes: Sequence[SceneAudio],
                     settings: RenderSettings, weights: Sequence[float] | None = None,
                     narration_track: Path | None = None) -> Timeline:
    """The timeline of the first ``min(len(images), len(scenes))`` scenes (no narration track
    unless given: the soundtrack is made from the final timeline)."""
    k = min(len(images), len(scenes))
    if k == 0:
        raise BadInput("a timeline needs at least one scene with its picture and voice")
    durations = scene_durations([s.duration for s in scenes[:k]], spec.duration_seconds,
                                weights if weights is not None else [1.0] * spec.num_scenes)
    starts = [sum(durations[:i]) for i in range(k)]
    return Timeline(
        width=settings.width,
        height=settings.height,
        fps=spec.fps,
        scenes=tuple(TimelineScene(image=Path(img), duration=d, motion="auto")
                     for img, d in zip(images[:k], durations)),
        transition=transition_for(spec.pacing),
        motion_strength=motion_strength_for(spec.pacing),
        fade=fade_for(spec.pacing),
        narration=narration_track,
        music=Path(spec.music) if spec.music else None,
        captions=_captions(scenes[:k], starts, durations, spec.language) if spec.captions else (),
        video=settings.video,
        language=spec.language,
    )


def build_timeline(spec: JobSpec, images: list[Path], narration: Narration, workdir: Path, *,
                   weights: Sequence[float] | None = None,
                   settings: RenderSettings | None = None) -> Timeline:
    """The final timeline: every scene, and the narration placed at the scene offsets in one WAV
    (``workdir/audio/narration.wav``)."""
    if len(images) != len(narration.scenes):
        raise BadInput(f"{len(images)} images but {len(narration.scenes)} narrated scenes")
    settings = settings or render_settings(spec)
    weights = list(weights) if weights is not None else [1.0] * len(narration.scenes)
    partial = partial_timeline(spec, images, narration.scenes, settings, weights)
    starts = partial.scene_starts()
    clips = [(s.wav, start) for s, start in zip(narration.scenes, starts)]
    track = place_clips(clips, partial.duration, workdir / "audio" / "narration.wav")
    return partial_timeline(spec, images, narration.scenes, settings, weights, narration_track=track)
