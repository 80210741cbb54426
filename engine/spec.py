"""JobSpec: one validated video request, frozen. Built once at the HTTP edge (server/schemas.py)
or by a CLI/test; everything downstream reads it and nothing changes it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from engine.languages import language


class ImageMode(str, Enum):
    AI_ONLY = "ai_only"
    MANUAL_ONLY = "manual_only"
    STOCK_ONLY = "stock_only"
    MIXED = "mixed"


class Pacing(str, Enum):
    SLOW = "slow"
    MODERATE = "moderate"
    DYNAMIC = "dynamic"
    FAST = "fast"


class HookIntensity(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    EXTREME = "extreme"


class AspectRatio(str, Enum):
    LANDSCAPE = "16:9"
    PORTRAIT = "9:16"
    SQUARE = "1:1"

    @property
    def frame_size(self) -> tuple[int, int]:
        """Output video (width, height)."""
        return {"16:9": (1920, 1080), "9:16": (1080, 1920), "1:1": (1080, 1080)}[self.value]

    @property
    def sdxl_bucket(self) -> tuple[int, int]:
        """SDXL generation (width, height) for this aspect."""
        return {"16:9": (1344, 768), "9:16": (768, 1344), "1:1": (1024, 1024)}[self.value]


class Quality(str, Enum):
    """Render quality. ``draft``: 720p with the fastest encoder settings (previews, CPU-only
    machines); ``standard``: 1080p; ``high``: 1080p at a higher quality setting, 2160p when an
    NVIDIA encoder is present. The frame sizes follow the aspect ratio (the short side)."""

    DRAFT = "draft"
    STANDARD = "standard"
    HIGH = "high"


@dataclass(frozen=True)
class Character:
    name: str
    description: str = ""
    #: The creator's reference portrait: a path under an allowed folder (an upload id resolved to
    #: its path at the edge, engine.images.cast.resolve_image_ref); None: generated once per job.
    image: str | None = None


@dataclass(frozen=True)
class ScriptScene:
    """One scene of a creator's own script (or of a storyboard being rendered)."""

    narration: str
    image_prompt: str = ""  # empty: derived from the narration
    seed: int | None = None  # the picture's seed (None: derived from the job's seed and the index)
    image: str | None = None  # a picture file for this scene (a storyboard's manual image)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OwnScript:
    """The creator's own narration: no script writer (and no language model) is used."""

    scenes: tuple[ScriptScene, ...]
    title: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "scenes": [s.to_dict() for s in self.scenes]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "OwnScript":
        return cls(scenes=tuple(ScriptScene(**s) for s in d["scenes"]), title=str(d.get("title", "")))


@dataclass(frozen=True)
class JobSpec:
    topic: str
    story_type: str = "mystery"
    image_style: str = "cinematic"
    image_mode: ImageMode = ImageMode.AI_ONLY
    voice_id: str = "male_narrator_deep"
    duration_minutes: float = 1.0
    hook_intensity: HookIntensity = HookIntensity.MEDIUM
    pacing: Pacing = Pacing.MODERATE
    num_scenes: int = 6
    characters: tuple[Character, ...] = ()
    manual_image_paths: tuple[str, ...] = ()
    stock_keywords: tuple[str, ...] = ()
    aspect_ratio: AspectRatio = AspectRatio.LANDSCAPE
    fps: int = 30
    captions: bool = True
    music: str | None = None
    seed: int = 0
    quality: Quality = Quality.STANDARD
    #: The story's language (engine.languages code): the script's, the voice's and the captions'.
    language: str = "en"
    #: The creator's own script (POST ``script``, or a storyboard's scenes when it is rendered).
    script: OwnScript | None = None
    #: The storyboard this job renders (its artifacts are reused by key), if any.
    storyboard_id: str | None = None
    #: Lines the edge wants in the job's details (e.g. "story_type 'ghost' -> scary_horror").
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.quality, Quality):  # the edge passes the request's string
            object.__setattr__(self, "quality", Quality(self.quality))
        object.__setattr__(self, "language", language(self.language).code)  # "es-MX" -> "es"

    def files(self) -> tuple[str, ...]:
        """Every file of the creator's that this job reads (manual images, music, portraits, a
        scene's own picture): what the retention sweep must keep while the job or storyboard lives."""
        scenes = self.script.scenes if self.script is not None else ()
        return (*self.manual_image_paths, *((self.music,) if self.music else ()),
                *(c.image for c in self.characters if c.image), *(s.image for s in scenes if s.image))

    @property
    def duration_seconds(self) -> float:
        return self.duration_minutes * 60.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("image_mode", "hook_intensity", "pacing", "aspect_ratio", "quality"):
            d[key] = getattr(self, key).value
        d["characters"] = [asdict(c) for c in self.characters]
        d["manual_image_paths"] = list(self.manual_image_paths)
        d["stock_keywords"] = list(self.stock_keywords)
        d["notes"] = list(self.notes)
        d["script"] = self.script.to_dict() if self.script is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "JobSpec":
        """Inverse of to_dict (trusted input: a spec we stored ourselves)."""
        return cls(
            topic=d["topic"],
            story_type=d["story_type"],
            image_style=d["image_style"],
            image_mode=ImageMode(d["image_mode"]),
            voice_id=d["voice_id"],
            duration_minutes=float(d["duration_minutes"]),
            hook_intensity=HookIntensity(d["hook_intensity"]),
            pacing=Pacing(d["pacing"]),
            num_scenes=int(d["num_scenes"]),
            characters=tuple(Character(**c) for c in d.get("characters", ())),
            manual_image_paths=tuple(d.get("manual_image_paths", ())),
            stock_keywords=tuple(d.get("stock_keywords", ())),
            aspect_ratio=AspectRatio(d.get("aspect_ratio", "16:9")),
            fps=int(d.get("fps", 30)),
            captions=bool(d.get("captions", True)),
            music=d.get("music"),
            seed=int(d.get("seed", 0)),
            quality=Quality(d.get("quality", "standard")),
            language=str(d.get("language", "en")),
            script=OwnScript.from_dict(d["script"]) if d.get("script") else None,
            storyboard_id=d.get("storyboard_id"),
            notes=tuple(d.get("notes", ())),
        )
