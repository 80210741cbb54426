"""A job's cast: every character that appears, in a fixed order, each with a colour and a place
(the cues draft art marks it with in every scene), a stable seed offset, and — made by
engine.images.portraits — a reference portrait in the job folder (``cast/<slug>.png``).

The lineup is pure (no files, no models): the request's characters first, then the script's, then
any other name a scene lists, each once (names match case-insensitively). The request's entry wins
for the description and the image. The seed offset depends on the name only, and a generated
portrait's seed on the name, description and style only, so a recurring series with the same host
gets the same portrait and the same per-character noise in every episode.

For the storyboard: ``Cast.scenes_of`` lists the scenes that show a character (the ones a replaced
portrait repaints: the images stage keys each character scene by its portraits' bytes, so a render
repaints exactly those); ``resolve_image_ref`` turns a request's ``characters[].image`` (an upload
id or a local path) into the vetted path the engine reads."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Iterable

from engine.contracts import Scene, Script
from engine.errors import BadInput
from engine.images.ip_adapter import SHOT_SCALES, Reference, shot_of
from engine.images.prompts import ScenePrompt, scene_characters
from engine.images.validate import validate_image_path
from engine.spec import Character, JobSpec

CAST_DIR: Final = "cast"
#: Distinct, saturated colours that read on every palette (and survive the noir treatment's
#: greyscale as different brightnesses): one per character, by place in the lineup.
COLOURS: Final = (
    (230, 60, 50),  # red
    (40, 140, 240),  # blue
    (250, 200, 30),  # yellow
    (60, 190, 90),  # green
    (200, 80, 220),  # purple
    (250, 130, 30),  # orange
    (40, 210, 210),  # cyan
    (240, 110, 170),  # pink
)
#: Characters a scene can be conditioned on with IP-Adapter masks (side by side); more are
#: described in the prompt only.
MAX_MASKED: Final = 2
_UPLOAD_ID: Final = re.compile(r"^[0-9a-f]{12}_[A-Za-z0-9_-]{1,40}\.(png|jpg|webp|gif|bmp|tif)$")


def _key(name: str) -> str:
    return name.strip().lower()


def seed_offset(name: str) -> int:
    """A stable 31-bit offset for a character (its name only, across jobs)."""
    digest = hashlib.sha256(f"storyreel-cast:{_key(name)}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def slug(name: str) -> str:
    """A file name for a character's portrait: ``ada-lovelace-1a2b3c`` (the hash keeps two names
    that differ only in punctuation apart)."""
    base = re.sub(r"[^a-z0-9]+", "-", _key(name)).strip("-")[:32] or "character"
    return f"{base}-{hashlib.sha256(_key(name).encode()).hexdigest()[:6]}"


@dataclass(frozen=True)
class Member:
    """One character of the cast and its cues."""

    character: Character
    slot: int  # place in the lineup, 0-based: its position cue in draft art
    total: int  # the lineup's size

    @property
    def name(self) -> str:
        return self.character.name

    @property
    def colour(self) -> tuple[int, int, int]:
        return COLOURS[self.slot % len(COLOURS)]

    @property
    def x(self) -> float:
        """Where the character stands in draft art, across the frame (0..1), the same in every scene."""
        return (self.slot + 1) / (self.total + 1)

    @property
    def seed_offset(self) -> int:
        return seed_offset(self.name)

    @property
    def slug(self) -> str:
        return slug(self.name)


@dataclass(frozen=True)
class Cast:
    members: tuple[Member, ...]

    @classmethod
    def for_job(cls, script: Script, spec: JobSpec) -> "Cast":
        chars: dict[str, Character] = {}
        for c in spec.characters:
            chars.setdefault(_key(c.name), c)
        for c in script.characters:
            k = _key(c.name)
            if k not in chars:
                chars[k] = c
            elif not chars[k].description and c.description:
                mine = chars[k]
                chars[k] = Character(mine.name, c.description, mine.image)
        for scene in script.scenes:
            for name in scene.characters:
                chars.setdefault(_key(name), Character(name.strip()))
        chars = {k: c for k, c in chars.items() if k}
        n = len(chars)
        return cls(tuple(Member(c, i, n) for i, c in enumerate(chars.values())))

    def __len__(self) -> int:
        return len(self.members)

    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if _key(m.name) == _key(name)), None)

    @property
    def characters(self) -> tuple[Character, ...]:
        return tuple(m.character for m in self.members)

    def in_scene(self, scene: Scene) -> list[Member]:
        """The scene's characters (engine.images.prompts.scene_characters), in mention order."""
        found = (self.member(c.name) for c in scene_characters(scene, self.characters))
        return [m for m in found if m is not None]

    def scenes_of(self, script: Script, name: str) -> list[int]:
        """The 1-based scenes of ``script`` (the one this cast is of) that show the character
        called ``name`` (what replacing its portrait makes stale)."""
        member = self.member(name)
        if member is None:
            return []
        return [i + 1 for i, s in enumerate(script.scenes) if member in self.in_scene(s)]

    def seeded(self, prompt: ScenePrompt, scene: Scene) -> ScenePrompt:
        """The scene's seed moved by its main character's offset (the first it mentions)."""
        members = self.in_scene(scene)
        if not members:
            return prompt
        seed = (prompt.seed + members[0].seed_offset) & 0x7FFFFFFF
        return ScenePrompt(prompt.index, prompt.prompt, prompt.negative, seed)

    def conditioned(self, scene: Scene) -> tuple[list[Member], list[Member]]:
        """(the characters IP-Adapter conditions the scene on, left to right by lineup place; those
        described in the prompt only): at most MAX_MASKED, the first mentioned."""
        members = self.in_scene(scene)
        chosen = sorted(members[:MAX_MASKED], key=lambda m: m.slot)
        return chosen, members[MAX_MASKED:]


def reference(
    members: list[Member], portraits: dict[str, tuple[Path, str]], scene: Scene
) -> Reference | None:
    """The scene's IP-Adapter reference: ``portraits`` maps a member's slug to (portrait file, its
    digest); the scale follows the shot the scene's image prompt describes."""
    if not members:
        return None
    shot = shot_of(scene.image_prompt or scene.narration)
    files = [portraits[m.slug] for m in members]
    return Reference(
        keys=tuple(f"{m.slug}:{digest}" for m, (_, digest) in zip(members, files)),
        portraits=tuple(p for p, _ in files),
        names=tuple(m.name for m in members),
        shot=shot,
        scale=SHOT_SCALES[shot],
    )


def resolve_image_ref(value: str, *, upload_dir: Path, allowed_roots: Iterable[Path]) -> Path:
    """A request's picture (``characters[].image``, ``manual_image_paths[]``, a storyboard scene's
    image): an upload id (the ``filename`` /api/upload returned) in ``upload_dir``, or a local image
    path under an allowed folder; the vetted absolute path, or BadInput (its message reads after
    the field's name)."""
    if not isinstance(value, str) or not value.strip():
        raise BadInput("is empty; give an upload id from /api/upload or an image path")
    roots = tuple(allowed_roots)
    if _UPLOAD_ID.match(value.strip()):
        candidate = Path(upload_dir) / value.strip()
        if not candidate.is_file():
            raise BadInput(f"no such upload {value!r} (upload it again with /api/upload)")
        return validate_image_path(str(candidate), (*roots, Path(upload_dir)))
    return validate_image_path(value, roots)
