"""The request bodies as pydantic models, validated once at the edge and converted to the
engine's own frozen types; the answers are in server/http_responses.py. /api/openapi.json is
generated from both (server/openapi.py) and a frontend makes its TypeScript types from it, so a
model *is* the contract.

How to add to it:

- A request field: one line in its model, ``name: Type = Field(default=..., description=...)``
  (``default=`` by keyword, so mypy sees it). Strings are ``Line`` (one line: names, ids, paths)
  or ``Text`` (free text), trimmed, with their length on the Field (``min_length``/``max_length``);
  numbers are ``StrictInt``/``StrictFloat`` with ``ge``/``le``; ``StrictBool``; a choice is an
  engine Enum annotated with its ``Choices`` (values and a line each, for /api/options). A client's
  ``null`` means the default. The 400 for a wrong value is written from the field's JSON Schema
  (http_validation): put the limits on the Field and the message names them. A rule across fields
  raises ``refuse("sentence")`` in a ``field_validator`` of the field the sentence is about.
- A request body: a ``RequestBody`` subclass (strict types; unknown fields ignored). Its handler
  calls ``http_validation.validate(Model, await read_json(request))``, then converts (here:
  ``VideoRequest.to_spec`` -> engine.JobSpec, which stays the engine's frozen dataclass).
- An answer: a ``ResponseBody`` subclass in http_responses.py; the handler answers
  ``web.json_response(Model(...).to_json())``.
- Then one row in openapi.ENDPOINTS: the route, its body, its answers and its errors.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Callable, Mapping

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from engine import spec
from engine.languages import CODES, LANGUAGES, normalize_code
from engine.narration.voice_packs import packs
from engine.narration.voices import VOICES, resolve_voice
from engine.presets import IMAGE_STYLES, STORY_TYPES, nearest
from engine.spec import AspectRatio, HookIntensity, ImageMode, JobSpec, Pacing, Quality
from server.http_input import Line, NotFound, RequestInvalid, Text, enum_member, refuse
from server.http_validation import validate

__all__ = [  # and the edge's errors, NotFound and RequestInvalid, where handlers have always found them
    "Character", "Choices", "NotFound", "RequestBody", "RequestInvalid", "VideoRequest", "options",
    "parse_video_request", "validate", "voice_choices",
]

MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Choices:
    """Field metadata: the values a choice field takes, each with a line for GET /api/options.
    On an Enum field a string is matched trimmed and case-blind (``"Fast "`` is ``Pacing.FAST``).
    ``nearest``: on a str field, any short name is taken and VideoRequest.to_spec maps it to the
    nearest value with a note (the values are then the schema's ``examples``, not an ``enum``)."""

    values: Mapping[str, str]
    nearest: bool = False

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        inner = handler(source)
        if isinstance(source, type) and issubclass(source, Enum):
            return core_schema.no_info_before_validator_function(enum_member(source), inner)
        return inner

    def __get_pydantic_json_schema__(self, core: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core)
        if self.nearest:
            schema["examples"] = list(self.values)
        return schema


IMAGE_MODES = Choices({
    ImageMode.AI_ONLY.value: (
        "Every scene painted by local SDXL (draft art when no SDXL weights are installed)."
    ),
    ImageMode.MANUAL_ONLY.value: (
        "Only your own images (manual_image_paths), reused with new motion if fewer than scenes."
    ),
    ImageMode.STOCK_ONLY.value: (
        "Images from the offline stock library, matched to stock_keywords and each scene."
    ),
    ImageMode.MIXED.value: "Your images first, then stock matches, then SDXL for the rest.",
})
PACINGS = Choices({
    Pacing.SLOW.value: "Long sentences, calm delivery, slow camera moves, long crossfades.",
    Pacing.MODERATE.value: "Balanced narration and motion.",
    Pacing.DYNAMIC.value: "Varied rhythm, livelier camera, shorter transitions.",
    Pacing.FAST.value: "Short punchy sentences, brisk speech, quick cuts.",
})
HOOKS = Choices({
    HookIntensity.LOW.value: "A gentle opening that sets the scene.",
    HookIntensity.MEDIUM.value: "An intriguing question or image up front.",
    HookIntensity.HIGH.value: "A striking claim or moment of danger in the first line.",
    HookIntensity.EXTREME.value: "Open mid-crisis with a shock; the first seconds grab hard.",
})
ASPECTS = Choices({
    AspectRatio.LANDSCAPE.value: "1920x1080 landscape (YouTube).",
    AspectRatio.PORTRAIT.value: "1080x1920 portrait (Shorts, Reels, TikTok).",
    AspectRatio.SQUARE.value: "1080x1080 square.",
})
QUALITIES = Choices({
    Quality.DRAFT.value: (
        "720p, fastest encoder settings: previews and CPU-only machines (about a third of the time)"
    ),
    Quality.STANDARD.value: "1080p",
    Quality.HIGH.value: "1080p at a higher quality setting; 2160p with an NVIDIA encoder",
})


LANGUAGE_CHOICES = Choices({code: f"{lang.name} ({lang.native})" for code, lang in LANGUAGES.items()})


def voice_choices() -> dict[str, str]:
    """The English catalog, then the voices per language ("[es] ..."): GET /api/voices says which
    are installed."""
    return {v.id: v.description for v in VOICES.values()} | {
        p.id: f"[{p.language}] {p.description}" for p in packs()}


#: A preset's name: unknown names map to the nearest (VideoRequest.to_spec says so in the job).
PresetName = Annotated[Line, Field(min_length=1, max_length=64)]
#: A file on this machine (checked by paths.path_checker when the request is converted).
PathName = Annotated[Line, Field(min_length=1, max_length=1024)]
Keyword = Annotated[Line, Field(min_length=1, max_length=50)]


class RequestBody(BaseModel):
    """What a client sends: strict JSON types (no "10" for 10), unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _null_is_default(cls, data: Any) -> Any:
        """A field sent as ``null`` takes its default (a required one is then missing)."""
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data


# -- the video request ------------------------------------------------------------------------------


class Character(RequestBody):
    """A character who keeps their name and looks in every scene."""

    name: Line = Field(min_length=1, max_length=60, description="The character's name.")
    description: Text = Field(
        default="", max_length=300, description="Age, looks, clothes: what every scene should show."
    )
    image: PathName | None = Field(
        default=None,
        description="A reference portrait: the filename /api/upload answered, or an image path under an "
        "allowed folder. Without it one is made per job from the name and description.",
    )


class ScriptPart(RequestBody):
    """One scene of your own script."""

    narration: Text = Field(
        min_length=1, max_length=2000, description="What the narrator says in this scene."
    )
    image_prompt: Text | None = Field(
        default=None, max_length=600,
        description="What the scene's picture shows (derived from the narration when absent).",
    )


class VideoRequest(RequestBody):
    """POST /api/generate-video: the story to tell and how it should look and sound."""

    topic: Text = Field(min_length=1, max_length=300, description="What the video is about.")
    story_type: Annotated[PresetName, Choices(STORY_TYPES, nearest=True)] = Field(
        default="mystery", description="Kind of story; unknown names map to the nearest type."
    )
    image_style: Annotated[PresetName, Choices(IMAGE_STYLES, nearest=True)] = Field(
        default="cinematic", description="Look of the scene images; unknown names map to the nearest style."
    )
    image_mode: Annotated[ImageMode, IMAGE_MODES] = Field(
        default=ImageMode.AI_ONLY, description="Where scene images come from."
    )
    voice_id: Annotated[PresetName, Choices(voice_choices(), nearest=True)] = Field(
        default="male_narrator_deep", description="Narrator voice; unknown ids map to the nearest voice."
    )
    duration: StrictFloat = Field(
        default=1.0, ge=0.25, le=30, allow_inf_nan=False, description="Target length in minutes."
    )
    hook_intensity: Annotated[HookIntensity, HOOKS] = Field(
        default=HookIntensity.MEDIUM, description="How hard the opening grabs."
    )
    pacing: Annotated[Pacing, PACINGS] = Field(
        default=Pacing.MODERATE, description="Rhythm of speech, camera and cuts."
    )
    num_scenes: StrictInt | None = Field(
        default=None, ge=1, le=60, description="Number of scenes (default: one per ~10 s, at least 3)."
    )
    characters: list[Character] = Field(
        default=[], max_length=10, description="Characters who keep their names and looks in every scene."
    )
    manual_image_paths: list[PathName] = Field(
        default=[],
        max_length=60,
        validate_default=True,  # so that _manual_needs_images sees an absent list
        description="Your own images (paths on this machine or from /api/upload).",
    )
    stock_keywords: list[Keyword] = Field(
        default=[], max_length=20, description="Words to match in the offline stock library."
    )
    aspect_ratio: Annotated[AspectRatio, ASPECTS] = Field(
        default=AspectRatio.LANDSCAPE, description="Frame shape."
    )
    fps: StrictInt = Field(default=30, ge=12, le=60, description="Frames per second.")
    quality: Annotated[Quality, QUALITIES] = Field(default=Quality.STANDARD, description="Render quality.")
    language: Annotated[Line, LANGUAGE_CHOICES] = Field(
        default="en", min_length=2, max_length=16,
        description="The story's language (a code such as es, ja, ar; es-MX is es): script, voice and "
                    "captions. /api/options lists what speaks each language on this machine.",
    )
    captions: StrictBool = Field(default=True, description="Burn in word-highlighted captions.")
    music: Line | None = Field(
        default=None,
        max_length=1024,
        description="Optional music bed: path to an audio file on this machine (ducked under the voice).",
    )
    seed: StrictInt | None = Field(
        default=None,
        ge=0,
        le=MAX_SEED,
        description="Seed for repeatable images and draft scripts (drawn at random when absent).",
    )
    script: (Annotated[Text, Field(min_length=1, max_length=120_000)]
             | Annotated[list[ScriptPart], Field(min_length=1, max_length=60)] | None) = Field(
        default=None,
        description="Your own narration instead of a written script: text with scenes separated by blank "
                    "lines, or a list of {narration, image_prompt?}. No language model is used; the video "
                    "has one scene per part, and without a duration its length follows the words.",
    )

    @field_validator("manual_image_paths")
    @classmethod
    def _manual_needs_images(cls, paths: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("image_mode") is ImageMode.MANUAL_ONLY and not paths:
            raise refuse("must list at least one image when image_mode is manual_only")
        return paths

    @field_validator("language")
    @classmethod
    def _known_language(cls, code: str) -> str:
        found = normalize_code(code)
        if found is None:
            raise refuse(f"must be one of: {', '.join(CODES)}")
        return found

    def to_spec(self, *, check_path: Callable[[str, str], str] | None = None) -> JobSpec:
        """The engine's frozen JobSpec. ``check_path(field, path)`` vets local file paths (manual
        images, music): it returns the resolved path or raises RequestInvalid."""
        notes: list[str] = []
        story_type, image_style = self._nearest("story_type", notes), self._nearest("image_style", notes)
        voice_id = self.voice_id  # another language: the narrator maps it to a voice installed for it
        if self.language == "en":
            voice, voice_note = resolve_voice(self.voice_id)
            voice_id = voice.id
            notes += [voice_note] if voice_note else []
        check = check_path or (lambda field, path: path)
        built = JobSpec(
            topic=self.topic,
            story_type=story_type,
            image_style=image_style,
            image_mode=self.image_mode,
            voice_id=voice_id,
            duration_minutes=self.duration,
            hook_intensity=self.hook_intensity,
            pacing=self.pacing,
            num_scenes=self.num_scenes or default_num_scenes(self.duration),
            characters=tuple(
                spec.Character(c.name, c.description,
                               check(f"characters[{i}].image", c.image) if c.image else None)
                for i, c in enumerate(self.characters)
            ),
            manual_image_paths=tuple(
                check(f"manual_image_paths[{i}]", p) for i, p in enumerate(self.manual_image_paths)
            ),
            stock_keywords=tuple(self.stock_keywords),
            aspect_ratio=self.aspect_ratio,
            fps=self.fps,
            quality=self.quality,
            captions=self.captions,
            music=check("music", self.music) if self.music is not None else None,
            seed=self.seed if self.seed is not None else secrets.randbelow(MAX_SEED + 1),
            language=self.language,
            notes=tuple(notes),
        )
        return built if self.script is None else self._own_script(built)

    def _own_script(self, built: JobSpec) -> JobSpec:
        from engine.errors import BadInput
        from engine.script.own import parse_script, with_own_script

        given = self.script if isinstance(self.script, str) else [
            {"narration": p.narration, "image_prompt": p.image_prompt} for p in self.script or ()]
        try:
            own = parse_script(given)
        except BadInput as exc:
            raise RequestInvalid("script", exc.message) from None
        return with_own_script(built, own, duration_given="duration" in self.model_fields_set)

    def _nearest(self, name: str, notes: list[str]) -> str:
        """A preset field's value: a known name as it is, an unknown one mapped, with a note."""
        asked: str = getattr(self, name)
        field = type(self).model_fields[name]
        values = next(m for m in field.metadata if isinstance(m, Choices)).values
        if asked.lower() in values:
            return asked.lower()
        picked = nearest(asked, values, str(field.default))
        notes.append(f"{name} {asked!r} is not one we know; using the nearest, {picked!r}")
        return picked


def default_num_scenes(duration_minutes: float) -> int:
    return max(3, min(60, round(duration_minutes * 60 / 10)))


def parse_video_request(body: Any, *, check_path: Callable[[str, str], str] | None = None) -> JobSpec:
    """A decoded JSON body -> engine.JobSpec, or RequestInvalid naming the first wrong field."""
    return validate(VideoRequest, body).to_spec(check_path=check_path)


def options() -> dict[str, list[dict[str, str]]]:
    """Every allowed value of each choice field, with its one-line description (GET /api/options)."""
    return {
        name: [{"value": k, "description": v} for k, v in choices.values.items()]
        for name, field in VideoRequest.model_fields.items()
        for choices in field.metadata
        if isinstance(choices, Choices)
    }
