"""The timeline as data: what the compositor renders, frozen, loadable from and savable to JSON.

Scene i starts at the sum of the durations before it; the video lasts the sum of the durations;
crossfades are centred on scene boundaries. Relative paths in a JSON file resolve against the
file's folder. Validation errors raise :class:`engine.errors.BadInput` naming the field.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Mapping

from engine import tempnames
from engine.errors import BadInput

#: Camera moves a scene may ask for. ``auto`` picks one so that neighbouring scenes differ.
MOTIONS: Final[tuple[str, ...]] = (
    "zoom_in", "zoom_out", "pan_left", "pan_right", "pan_up", "pan_down", "static", "auto",
)
CODECS: Final[tuple[str, ...]] = ("auto", "libx264", "h264_nvenc")
PRESETS: Final[tuple[str, ...]] = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
)


@dataclass(frozen=True)
class CaptionWord:
    """One spoken word, in seconds from the start of the video."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Caption:
    """A short chunk of words shown together; the word being spoken is highlighted."""

    text: str
    start: float
    end: float
    words: tuple[CaptionWord, ...] = ()


@dataclass(frozen=True)
class TimelineScene:
    image: Path
    duration: float
    motion: str = "auto"


@dataclass(frozen=True)
class VideoSettings:
    """Encoder choice: ``auto`` uses h264_nvenc when a probe shows it works, else libx264.
    ``crf`` is libx264's constant rate factor (NVENC gets the same number as its CQ)."""

    codec: str = "auto"
    crf: int = 20
    preset: str = "veryfast"


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    fps: float
    scenes: tuple[TimelineScene, ...]
    #: Crossfade length in seconds, centred on each scene boundary (0 = hard cuts).
    transition: float = 0.6
    #: One WAV spanning the video (see soundtrack.place_clips); None = no voice.
    narration: Path | None = None
    #: Music bed, looped or trimmed to the video, ducked under the voice; None = no music.
    music: Path | None = None
    captions: tuple[Caption, ...] = ()
    video: VideoSettings = field(default_factory=VideoSettings)
    #: How far the camera travels per scene, as a fraction of the frame (0 = still images).
    motion_strength: float = 0.10
    #: Fade from black at the start and to black at the end, in seconds.
    fade: float = 0.5
    #: Music bed level under the voice, in LU relative to the narration's loudness.
    music_level: float = -15.0
    #: The captions' language (engine.languages code): their font, direction and line breaking.
    language: str = "en"

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def duration(self) -> float:
        return math.fsum(s.duration for s in self.scenes)

    @property
    def frame_count(self) -> int:
        return max(1, round(self.duration * self.fps))

    def scene_starts(self) -> tuple[float, ...]:
        starts, t = [], 0.0
        for s in self.scenes:
            starts.append(t)
            t += s.duration
        return tuple(starts)

    # -- JSON ---------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], base: Path | None = None) -> "Timeline":
        """Build from parsed JSON; relative paths resolve against ``base`` (default: the CWD)."""
        if not isinstance(d, Mapping):
            raise BadInput("timeline: expected a JSON object at the top level")
        for key in ("width", "height", "fps", "scenes"):
            if key not in d:
                raise BadInput(f"timeline: missing required field '{key}'")
        unknown = set(d) - _TIMELINE_KEYS
        if unknown:
            raise BadInput(f"timeline: unknown field(s) {', '.join(sorted(unknown))}")
        base = base or Path.cwd()
        scenes_raw = d["scenes"]
        if not isinstance(scenes_raw, list):
            raise BadInput("timeline: 'scenes' must be a list of {image, duration, motion}")
        scenes = tuple(_scene_from(s, i, base) for i, s in enumerate(scenes_raw))
        captions_raw = d.get("captions") or []
        if not isinstance(captions_raw, list):
            raise BadInput("timeline: 'captions' must be a list")
        video_raw = d.get("video") or {}
        if not isinstance(video_raw, Mapping):
            raise BadInput("timeline: 'video' must be an object {codec, crf, preset}")
        unknown = set(video_raw) - {"codec", "crf", "preset"}
        if unknown:
            raise BadInput(f"timeline: video: unknown field(s) {', '.join(sorted(unknown))}")
        defaults = VideoSettings()
        video = VideoSettings(
            codec=_str(video_raw.get("codec", defaults.codec), "video.codec"),
            crf=_int(video_raw.get("crf", defaults.crf), "video.crf"),
            preset=_str(video_raw.get("preset", defaults.preset), "video.preset"),
        )
        return cls(
            width=_int(d["width"], "width"),
            height=_int(d["height"], "height"),
            fps=_num(d["fps"], "fps"),
            scenes=scenes,
            transition=_num(d.get("transition", 0.6), "transition"),
            narration=_path(d.get("narration"), "narration", base),
            music=_path(d.get("music"), "music", base),
            captions=tuple(_caption_from(c, i) for i, c in enumerate(captions_raw)),
            video=video,
            motion_strength=_num(d.get("motion_strength", 0.10), "motion_strength"),
            fade=_num(d.get("fade", 0.5), "fade"),
            music_level=_num(d.get("music_level", -15.0), "music_level"),
            language=_str(d.get("language", "en"), "language"),
        )

    @classmethod
    def from_json(cls, path: Path | str) -> "Timeline":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BadInput(f"timeline file not found: {path}") from None
        except OSError as e:
            raise BadInput(f"timeline file {path} could not be read: {e.strerror or e}") from e
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise BadInput(f"timeline file {path} is not valid JSON: {e}") from e
        return cls.from_dict(data, base=path.resolve().parent)

    def to_dict(self, base: Path | None = None) -> dict[str, Any]:
        """Plain JSON data; paths are written relative to ``base`` when they lie inside it."""

        def rel(p: Path | None) -> str | None:
            if p is None:
                return None
            if base is not None:
                try:
                    return Path(p).resolve().relative_to(base.resolve()).as_posix()
                except ValueError:
                    pass
            return str(p)

        return {
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "transition": self.transition,
            "motion_strength": self.motion_strength,
            "fade": self.fade,
            "music_level": self.music_level,
            "language": self.language,
            "scenes": [
                {"image": rel(s.image), "duration": s.duration, "motion": s.motion} for s in self.scenes
            ],
            "narration": rel(self.narration),
            "music": rel(self.music),
            "captions": [
                {
                    "text": c.text,
                    "start": c.start,
                    "end": c.end,
                    "words": [{"text": w.text, "start": w.start, "end": w.end} for w in c.words],
                }
                for c in self.captions
            ],
            "video": {"codec": self.video.codec, "crf": self.video.crf, "preset": self.video.preset},
        }

    def to_json(self, path: Path | str) -> Path:
        """Write JSON with paths relative to the file's folder (so the job folder can move)."""
        path = Path(path)
        data = self.to_dict(base=path.resolve().parent)
        return tempnames.write_text_atomic(path, json.dumps(data, indent=2) + "\n")


_TIMELINE_KEYS: Final = frozenset({
    "width", "height", "fps", "scenes", "transition", "narration", "music", "captions", "video",
    "motion_strength", "fade", "music_level", "language",
})


def _num(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise BadInput(f"timeline: '{name}' must be a number, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise BadInput(f"timeline: '{name}' must be a finite number, got {v!r}")
    return f


def _int(v: Any, name: str) -> int:
    f = _num(v, name)
    if f != int(f):
        raise BadInput(f"timeline: '{name}' must be a whole number, got {v!r}")
    return int(f)


def _str(v: Any, name: str) -> str:
    if not isinstance(v, str):
        raise BadInput(f"timeline: '{name}' must be a string, got {v!r}")
    return v


def _path(v: Any, name: str, base: Path) -> Path | None:
    if v is None or v == "":
        return None
    p = Path(_str(v, name)).expanduser()
    return p if p.is_absolute() else base / p


def _scene_from(s: Any, i: int, base: Path) -> TimelineScene:
    where = f"scenes[{i}]"
    if not isinstance(s, Mapping):
        raise BadInput(f"timeline: {where} must be an object {{image, duration, motion}}")
    for key in ("image", "duration"):
        if key not in s:
            raise BadInput(f"timeline: {where} is missing '{key}'")
    unknown = set(s) - {"image", "duration", "motion"}
    if unknown:
        raise BadInput(f"timeline: {where}: unknown field(s) {', '.join(sorted(unknown))}")
    image = _path(s["image"], f"{where}.image", base)
    if image is None:
        raise BadInput(f"timeline: {where}.image is empty")
    return TimelineScene(
        image=image,
        duration=_num(s["duration"], f"{where}.duration"),
        motion=_str(s.get("motion", "auto"), f"{where}.motion"),
    )


def _caption_from(c: Any, i: int) -> Caption:
    where = f"captions[{i}]"
    if not isinstance(c, Mapping):
        raise BadInput(f"timeline: {where} must be an object {{text, start, end, words}}")
    for key in ("text", "start", "end"):
        if key not in c:
            raise BadInput(f"timeline: {where} is missing '{key}'")
    words_raw = c.get("words") or []
    if not isinstance(words_raw, list):
        raise BadInput(f"timeline: {where}.words must be a list")
    words = []
    for j, w in enumerate(words_raw):
        wh = f"{where}.words[{j}]"
        if not isinstance(w, Mapping) or not {"text", "start", "end"} <= set(w):
            raise BadInput(f"timeline: {wh} must be an object {{text, start, end}}")
        words.append(CaptionWord(_str(w["text"], f"{wh}.text"), _num(w["start"], f"{wh}.start"),
                                 _num(w["end"], f"{wh}.end")))
    return Caption(
        text=_str(c["text"], f"{where}.text"),
        start=_num(c["start"], f"{where}.start"),
        end=_num(c["end"], f"{where}.end"),
        words=tuple(words),
    )


def _validate(t: Timeline) -> None:
    for name in ("width", "height"):
        v = getattr(t, name)
        if isinstance(v, bool) or not isinstance(v, int):
            raise BadInput(f"timeline: '{name}' must be a whole number of pixels, got {v!r}")
        if not 16 <= v <= 8192 or v % 2:
            raise BadInput(f"timeline: '{name}' must be an even number of pixels between 16 and 8192, "
                           f"got {v}")
    if not (isinstance(t.fps, (int, float)) and math.isfinite(t.fps) and 1 <= t.fps <= 120):
        raise BadInput(f"timeline: 'fps' must be between 1 and 120, got {t.fps!r}")
    if not t.scenes:
        raise BadInput("timeline: 'scenes' is empty; a video needs at least one scene")
    for i, s in enumerate(t.scenes):
        if not isinstance(s.duration, (int, float)) or not math.isfinite(s.duration) or s.duration <= 0:
            raise BadInput(f"timeline: scenes[{i}].duration must be a positive number of seconds, "
                           f"got {s.duration!r}")
        if s.duration * t.fps < 1:
            raise BadInput(f"timeline: scenes[{i}].duration {s.duration}s is shorter than one frame "
                           f"at {t.fps} fps")
        if s.motion not in MOTIONS:
            raise BadInput(f"timeline: scenes[{i}].motion {s.motion!r} is not one of {', '.join(MOTIONS)}")
    for name in ("transition", "fade"):
        v = getattr(t, name)
        if not math.isfinite(v) or v < 0 or v > 10:
            raise BadInput(f"timeline: '{name}' must be between 0 and 10 seconds, got {v!r}")
    if not 0 <= t.motion_strength <= 0.5:
        raise BadInput(f"timeline: 'motion_strength' must be between 0 and 0.5, got {t.motion_strength!r}")
    if not -40 <= t.music_level <= 0:
        raise BadInput(f"timeline: 'music_level' must be between -40 and 0 LU, got {t.music_level!r}")
    v = t.video
    if v.codec not in CODECS:
        raise BadInput(f"timeline: video.codec {v.codec!r} is not one of {', '.join(CODECS)}")
    if v.preset not in PRESETS:
        raise BadInput(f"timeline: video.preset {v.preset!r} is not one of {', '.join(PRESETS)}")
    if isinstance(v.crf, bool) or not isinstance(v.crf, int) or not 0 <= v.crf <= 51:
        raise BadInput(f"timeline: video.crf must be a whole number 0-51, got {v.crf!r}")
    for i, c in enumerate(t.captions):
        if not c.end > c.start:
            raise BadInput(f"timeline: captions[{i}] ends ({c.end}) before it starts ({c.start})")
        for j, w in enumerate(c.words):
            if w.end < w.start:
                raise BadInput(f"timeline: captions[{i}].words[{j}] ends before it starts")
