"""The HTTP edge: the video request's fields, validated once, turned into an engine.JobSpec.

FIELDS is the single description of the request; validation, defaults, /api/options and the
OpenAPI document are all derived from it."""

from __future__ import annotations

import json
import math
import re
import secrets
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from engine.narration.voices import VOICES, resolve_voice
from engine.presets import IMAGE_STYLES, STORY_TYPES, nearest
from engine.spec import AspectRatio, Character, HookIntensity, ImageMode, JobSpec, Pacing

MAX_SEED = 2**32 - 1
#: Deepest JSON nesting a body may have; the video request itself needs 3 (body, characters, item).
MAX_JSON_DEPTH = 32
#: Integers with more digits than this are never a valid value of any field; they stay undecoded.
MAX_INT_DIGITS = 20
#: Path fields: the string is a file name on this machine.
PATH_FIELDS = frozenset({"manual_image_paths", "music"})
#: Control characters refused in every string; free text may keep tab, newline and carriage return.
_CONTROL_ANY = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class RequestInvalid(Exception):
    """A field of a request is wrong; becomes a 400 naming the field and what is allowed."""

    def __init__(self, field: str, message: str, allowed: Any = None, status: int = 400) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.allowed = allowed
        self.status = status

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "error": f"{self.field}: {self.message}",
            "field": self.field,
            "status": self.status,
        }
        if self.allowed is not None:
            body["allowed"] = self.allowed
        return body


class NotFound(Exception):
    """Nothing at this address (an unknown job or video); becomes a 404 that keeps its reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def shown(text: str, limit: int = 80) -> str:
    """``text`` quoted for an error message, cut to ``limit`` characters (a hostile value can be huge)."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


class HugeInt:
    """A JSON integer too long to be any field's value, kept as its digits (never converted: a
    400-digit number must be a 400 naming its field, not an OverflowError somewhere later)."""

    def __init__(self, digits: str) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"a {len(self.digits.lstrip('-'))}-digit number"


def _parse_int(text: str) -> int | HugeInt:
    return HugeInt(text) if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def json_depth_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``raw`` nests arrays/objects deeper than ``limit``, found without recursion:
    strings are blanked, every other byte but brackets dropped, then innermost pairs peeled."""
    brackets = _JSON_STRING.sub(b'""', raw).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        peeled = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if peeled == brackets:
            return False  # unbalanced: not JSON at all, json.loads says so
        brackets = peeled
    return bool(brackets)


def decode_json_body(raw: bytes) -> Any:
    """Bytes -> JSON value, or RequestInvalid("body") for anything that is not a sane JSON document:
    invalid UTF-8 or JSON, nesting deeper than MAX_JSON_DEPTH. Long integers become HugeInt."""
    too_deep = RequestInvalid("body", f"is nested deeper than {MAX_JSON_DEPTH} levels of arrays/objects")
    if json_depth_exceeds(raw):
        raise too_deep
    try:
        return json.loads(raw, parse_int=_parse_int)
    except RecursionError:
        raise too_deep from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestInvalid("body", f"is not valid JSON ({exc})") from None


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages ("got number", not "got HugeInt")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, HugeInt)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def check_text(field: str, text: str, *, multiline: bool = False) -> str:
    """Refuse what no file name or prompt can carry: lone surrogates (they can't be encoded as UTF-8),
    NUL and other control characters (tab/newline/CR allowed in ``multiline`` free text)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RequestInvalid(
            field,
            f"contains a lone surrogate (\\u{ord(text[exc.start]):04x} at character {exc.start}); "
            "send valid Unicode text",
        ) from None
    bad = (_CONTROL_TEXT if multiline else _CONTROL_ANY).search(text)
    if bad is not None:
        what = "a NUL byte" if bad.group() == "\x00" else f"a control character (\\x{ord(bad.group()):02x})"
        allowed = "" if not multiline else " (tab and newline are fine)"
        raise RequestInvalid(field, f"contains {what} at character {bad.start()}; remove it{allowed}")
    return text


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # string | enum | number | integer | boolean | array | characters
    description: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: Mapping[str, str] | None = None  # allowed values with one-line descriptions
    lenient: bool = False  # unknown choice -> nearest preset (with a note) instead of a 400
    max_items: int | None = None
    max_length: int | None = None
    nullable: bool = False


IMAGE_MODES: Mapping[str, str] = {
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
}
PACINGS: Mapping[str, str] = {
    Pacing.SLOW.value: "Long sentences, calm delivery, slow camera moves, long crossfades.",
    Pacing.MODERATE.value: "Balanced narration and motion.",
    Pacing.DYNAMIC.value: "Varied rhythm, livelier camera, shorter transitions.",
    Pacing.FAST.value: "Short punchy sentences, brisk speech, quick cuts.",
}
HOOKS: Mapping[str, str] = {
    HookIntensity.LOW.value: "A gentle opening that sets the scene.",
    HookIntensity.MEDIUM.value: "An intriguing question or image up front.",
    HookIntensity.HIGH.value: "A striking claim or moment of danger in the first line.",
    HookIntensity.EXTREME.value: "Open mid-crisis with a shock; the first seconds grab hard.",
}
ASPECTS: Mapping[str, str] = {
    AspectRatio.LANDSCAPE.value: "1920x1080 landscape (YouTube).",
    AspectRatio.PORTRAIT.value: "1080x1920 portrait (Shorts, Reels, TikTok).",
    AspectRatio.SQUARE.value: "1080x1080 square.",
}


def voice_choices() -> dict[str, str]:
    return {v.id: v.description for v in VOICES.values()}


FIELDS: tuple[Field, ...] = (
    Field("topic", "string", "What the video is about.", default=None, minimum=1, maximum=300),
    Field(
        "story_type",
        "enum",
        "Kind of story; unknown names map to the nearest type.",
        "mystery",
        choices=STORY_TYPES,
        lenient=True,
    ),
    Field(
        "image_style",
        "enum",
        "Look of the scene images; unknown names map to the nearest style.",
        "cinematic",
        choices=IMAGE_STYLES,
        lenient=True,
    ),
    Field(
        "image_mode", "enum", "Where scene images come from.", ImageMode.AI_ONLY.value, choices=IMAGE_MODES
    ),
    Field(
        "voice_id",
        "enum",
        "Narrator voice; unknown ids map to the nearest voice.",
        "male_narrator_deep",
        choices=None,
        lenient=True,
    ),
    Field("duration", "number", "Target length in minutes.", 1.0, minimum=0.25, maximum=30),
    Field("hook_intensity", "enum", "How hard the opening grabs.", HookIntensity.MEDIUM.value, choices=HOOKS),
    Field("pacing", "enum", "Rhythm of speech, camera and cuts.", Pacing.MODERATE.value, choices=PACINGS),
    Field(
        "num_scenes",
        "integer",
        "Number of scenes (default: one per ~10 s, at least 3).",
        None,
        minimum=1,
        maximum=60,
        nullable=True,
    ),
    Field(
        "characters",
        "characters",
        "Characters who keep their names and looks in every scene.",
        (),
        max_items=10,
    ),
    Field(
        "manual_image_paths",
        "array",
        "Your own images (paths on this machine or from /api/upload).",
        (),
        max_items=60,
        max_length=1024,
    ),
    Field(
        "stock_keywords",
        "array",
        "Words to match in the offline stock library.",
        (),
        max_items=20,
        max_length=50,
    ),
    Field("aspect_ratio", "enum", "Frame shape.", AspectRatio.LANDSCAPE.value, choices=ASPECTS),
    Field("fps", "integer", "Frames per second.", 30, minimum=12, maximum=60),
    Field("quality", "enum", "Render quality.", "standard", choices={
        "draft": "720p, fastest encoder settings: previews and CPU-only machines (about a third of the time)",
        "standard": "1080p", "high": "1080p at a higher quality setting; 2160p with an NVIDIA encoder"}),
    Field("captions", "boolean", "Burn in word-highlighted captions.", True),
    Field(
        "music",
        "string",
        "Optional music bed: path to an audio file on this machine (ducked under the voice).",
        None,
        maximum=1024,
        nullable=True,
    ),
    Field(
        "seed",
        "integer",
        "Seed for repeatable images and draft scripts (drawn at random when absent).",
        None,
        minimum=0,
        maximum=MAX_SEED,
        nullable=True,
    ),
)
CHARACTER_NAME_MAX = 60
CHARACTER_DESCRIPTION_MAX = 300


def field_choices(f: Field) -> Mapping[str, str]:
    return voice_choices() if f.name == "voice_id" else (f.choices or {})


def _check_string(f: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise RequestInvalid(f.name, f"must be a string, got {json_type(value)}")
    text = check_text(f.name, value.strip(), multiline=f.name not in PATH_FIELDS)
    lo, hi = int(f.minimum or 0), int(f.maximum or 10_000)
    if not lo <= len(text) <= hi:
        raise RequestInvalid(f.name, f"must be {lo}-{hi} characters, got {len(text)}")
    return text


def _check_number(f: Field, value: Any, integer: bool) -> float | int:
    allowed = {"min": f.minimum, "max": f.maximum}
    lo, hi = f.minimum or 0, f.maximum if f.maximum is not None else math.inf
    want = "an integer" if integer else "a number"
    if isinstance(value, HugeInt):  # hundreds of digits: out of every range, never converted
        raise RequestInvalid(f.name, f"must be {want} between {lo:g} and {hi:g}, got {value!r}", allowed)
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok:
        got = value if isinstance(value, float) and math.isfinite(value) else json_type(value)
        raise RequestInvalid(f.name, f"must be {want}, got {got}", allowed)
    if (isinstance(value, float) and not math.isfinite(value)) or not lo <= value <= hi:
        raise RequestInvalid(f.name, f"must be between {lo:g} and {hi:g}, got {value}", allowed)
    return value


def _check_enum(f: Field, value: Any, notes: list[str]) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise RequestInvalid(
            f.name, "must be a non-empty string of at most 64 characters", sorted(field_choices(f))
        )
    check_text(f.name, value)
    if f.name == "voice_id":
        voice, note = resolve_voice(value)
        if note:
            notes.append(note)
        return voice.id
    choices = field_choices(f)
    key = value.strip().lower()
    if key in choices:
        return key
    if not f.lenient:
        raise RequestInvalid(f.name, f"unknown value {value!r}", sorted(choices))
    picked = nearest(value, choices, str(f.default))
    notes.append(f"{f.name} {value!r} is not one we know; using the nearest, {picked!r}")
    return picked


def _check_strings(f: Field, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise RequestInvalid(f.name, f"must be a list of strings, got {json_type(value)}")
    if len(value) > (f.max_items or 0):
        raise RequestInvalid(f.name, f"at most {f.max_items} items, got {len(value)}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or len(item) > (f.max_length or 0):
            raise RequestInvalid(
                f"{f.name}[{i}]", f"must be a non-empty string of at most {f.max_length} characters"
            )
        out.append(check_text(f"{f.name}[{i}]", item.strip()))
    return tuple(out)


def _check_characters(f: Field, value: Any) -> tuple[Character, ...]:
    if not isinstance(value, list):
        raise RequestInvalid(
            f.name, f"must be a list of {{name, description}} objects, got {json_type(value)}"
        )
    if len(value) > (f.max_items or 0):
        raise RequestInvalid(f.name, f"at most {f.max_items} characters, got {len(value)}")
    out = []
    for i, item in enumerate(value):
        where = f"{f.name}[{i}]"
        if not isinstance(item, dict):
            raise RequestInvalid(where, "must be an object with 'name' and 'description'")
        name, desc = item.get("name"), item.get("description", "")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= CHARACTER_NAME_MAX:
            raise RequestInvalid(f"{where}.name", f"must be a string of 1-{CHARACTER_NAME_MAX} characters")
        if desc is None:
            desc = ""
        if not isinstance(desc, str) or len(desc) > CHARACTER_DESCRIPTION_MAX:
            raise RequestInvalid(
                f"{where}.description", f"must be a string of at most {CHARACTER_DESCRIPTION_MAX} characters"
            )
        check_text(f"{where}.name", name)
        check_text(f"{where}.description", desc, multiline=True)
        out.append(Character(name.strip(), desc.strip()))
    return tuple(out)


def _check(f: Field, value: Any, notes: list[str]) -> Any:
    if value is None and f.nullable:
        return None
    checkers: dict[str, Callable[[], Any]] = {
        "string": lambda: _check_string(f, value),
        "enum": lambda: _check_enum(f, value, notes),
        "number": lambda: float(_check_number(f, value, integer=False)),
        "integer": lambda: int(_check_number(f, value, integer=True)),
        "boolean": lambda: _check_bool(f, value),
        "array": lambda: _check_strings(f, value),
        "characters": lambda: _check_characters(f, value),
    }
    return checkers[f.kind]()


def _check_bool(f: Field, value: Any) -> bool:
    if not isinstance(value, bool):
        raise RequestInvalid(f.name, f"must be true or false, got {json_type(value)}")
    return value


def default_num_scenes(duration_minutes: float) -> int:
    return max(3, min(60, round(duration_minutes * 60 / 10)))


def parse_video_request(body: Any, *, check_path: Callable[[str, str], str] | None = None) -> JobSpec:
    """Validate a decoded JSON body into a JobSpec. ``check_path(field, path)`` vets local file
    paths (manual images, music) and returns the resolved path or raises RequestInvalid."""
    if not isinstance(body, dict):
        raise RequestInvalid("body", f"must be a JSON object, got {json_type(body)}")
    notes: list[str] = []
    values: dict[str, Any] = {}
    for f in FIELDS:
        if f.name not in body or (body[f.name] is None and not f.nullable and f.name != "topic"):
            if f.name == "topic":
                raise RequestInvalid("topic", "is required: a string of 1-300 characters")
            values[f.name] = f.default
            continue
        values[f.name] = _check(f, body[f.name], notes)
    mode = ImageMode(values["image_mode"])
    if mode is ImageMode.MANUAL_ONLY and not values["manual_image_paths"]:
        raise RequestInvalid(
            "manual_image_paths", "must list at least one image when image_mode is manual_only"
        )
    if check_path is not None:
        values["manual_image_paths"] = tuple(
            check_path(f"manual_image_paths[{i}]", p) for i, p in enumerate(values["manual_image_paths"])
        )
        if values["music"] is not None:
            values["music"] = check_path("music", values["music"])
    seed = values["seed"] if values["seed"] is not None else secrets.randbelow(MAX_SEED + 1)
    num_scenes = values["num_scenes"] or default_num_scenes(values["duration"])
    return JobSpec(
        topic=values["topic"],
        story_type=values["story_type"],
        image_style=values["image_style"],
        image_mode=mode,
        voice_id=values["voice_id"],
        duration_minutes=values["duration"],
        hook_intensity=HookIntensity(values["hook_intensity"]),
        pacing=Pacing(values["pacing"]),
        num_scenes=num_scenes,
        characters=values["characters"],
        manual_image_paths=values["manual_image_paths"],
        stock_keywords=values["stock_keywords"],
        aspect_ratio=AspectRatio(values["aspect_ratio"]),
        fps=values["fps"],
        quality=values["quality"],
        captions=values["captions"],
        music=values["music"],
        seed=seed,
        notes=tuple(notes),
    )


def options() -> dict[str, list[dict[str, str]]]:
    """Every allowed value of each choice field, with its one-line description (GET /api/options)."""
    return {
        f.name: [{"value": k, "description": v} for k, v in field_choices(f).items()]
        for f in FIELDS
        if f.kind == "enum"
    }


def field_list(names: Sequence[str] | None = None) -> list[Field]:
    return [f for f in FIELDS if names is None or f.name in names]
