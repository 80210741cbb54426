"""The last step of both writers: speakable narration, one character sheet (the request's
characters first, with their own names and traits), the characters present in each scene, and
image prompts that carry those characters' looks. Deterministic: no model involved."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Iterable, Sequence

from engine.contracts import Scene, Script
from engine.script.speakable import speakable
from engine.script.visuals import visual_prompt, with_looks
from engine.spec import Character

#: Words in a name that do not identify the person on their own ("Detective Mara Quinn" -> Mara, Quinn).
_HONORIFICS: Final = frozenset(
    "the a an old young little big detective doctor dr mr mrs ms miss mister captain capt professor prof "
    "sir lady lord king queen prince princess officer agent sergeant sgt inspector aunt uncle grandma "
    "grandpa father mother brother sister saint st general colonel major lieutenant chief mayor".split()
)
MAX_CHARACTERS: Final = 8


@dataclass(frozen=True)
class DraftScene:
    """One scene as a writer produced it, before finishing."""

    narration: str
    image_prompt: str
    characters: tuple[str, ...] = ()


def name_pattern(name: str) -> re.Pattern[str]:
    """Matches the full name, or any distinctive part of it (a first or last name)."""
    name = " ".join(name.split())
    parts = [p for p in re.split(r"[\s\-]+", name) if len(p) >= 3 and p.lower().strip(".") not in _HONORIFICS]
    alternatives = [re.escape(name)] + [re.escape(p) for p in parts if p != name]
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)")


def mentions(text: str, character: Character) -> bool:
    return bool(character.name.strip()) and bool(name_pattern(character.name).search(text))


def _same_person(a: str, b: str) -> bool:
    a_l, b_l = a.strip().lower(), b.strip().lower()
    if not a_l or not b_l:
        return False
    if a_l == b_l:
        return True
    return bool(name_pattern(a).search(b) or name_pattern(b).search(a))


def merge_sheet(requested: Sequence[Character], proposed: Iterable[Character]) -> tuple[Character, ...]:
    """The request's characters (names and descriptions as given; a proposed description fills an
    empty one), then the writer's own characters, at most :data:`MAX_CHARACTERS` in all."""
    sheet = [Character(" ".join(c.name.split()), " ".join(c.description.split())) for c in requested]
    for c in proposed:
        name = " ".join(speakable(c.name).split()).strip(" .,:;!?")
        desc = visual_prompt(c.description)
        if not name:
            continue
        match = next((i for i, s in enumerate(sheet) if _same_person(s.name, name)), None)
        if match is not None:
            if not sheet[match].description and desc:
                sheet[match] = Character(sheet[match].name, desc)
            continue
        if len(sheet) < MAX_CHARACTERS:
            sheet.append(Character(name, desc))
    return tuple(sheet)


def present_in(scene: DraftScene, narration: str, sheet: Sequence[Character]) -> tuple[Character, ...]:
    """Sheet characters the scene declares or its narration names, in sheet order."""
    declared = [d for d in scene.characters if d.strip()]
    return tuple(
        c for c in sheet
        if any(_same_person(c.name, d) for d in declared) or mentions(narration, c)
    )


def finish(title: str, sheet: Sequence[Character], scenes: Sequence[DraftScene], source: str) -> Script:
    finished = []
    for scene in scenes:
        narration = speakable(scene.narration)
        present = present_in(scene, narration, sheet)
        prompt = with_looks(visual_prompt(scene.image_prompt), present)
        finished.append(Scene(narration=narration, image_prompt=prompt, characters=tuple(c.name for c in present)))
    clean_title = speakable(title).rstrip(".") or "Untitled story"
    return Script(title=clean_title, scenes=tuple(finished), characters=tuple(sheet), source=source)
