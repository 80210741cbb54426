"""The last step of both writers: speakable narration, one character sheet (the request's
characters first, with their own names and traits), the characters present in each scene, and
image prompts that carry those characters' looks. Deterministic: no model involved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Iterable, Sequence

from engine.contracts import Scene, Script
from engine.script.names import mentions, same_person
from engine.script.speakable import speakable
from engine.script.visuals import visual_prompt, with_looks
from engine.spec import Character

MAX_CHARACTERS: Final = 8


@dataclass(frozen=True)
class DraftScene:
    """One scene as a writer produced it, before finishing."""

    narration: str
    image_prompt: str
    characters: tuple[str, ...] = ()


def merge_sheet(requested: Sequence[Character], proposed: Iterable[Character]) -> tuple[Character, ...]:
    """The request's characters (names and descriptions as given; a proposed description fills an
    empty one), then the writer's own characters, at most :data:`MAX_CHARACTERS` in all."""
    sheet = [Character(" ".join(c.name.split()), " ".join(c.description.split())) for c in requested]
    for c in proposed:
        name = " ".join(speakable(c.name).split()).strip(" .,:;!?")
        desc = visual_prompt(c.description)
        if not name:
            continue
        match = next((i for i, s in enumerate(sheet) if same_person(s.name, name)), None)
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
    return tuple(c for c in sheet if any(same_person(c.name, d) for d in declared) or mentions(narration, c))


def finish(title: str, sheet: Sequence[Character], scenes: Sequence[DraftScene], source: str) -> Script:
    finished = []
    for scene in scenes:
        narration = speakable(scene.narration)
        present = present_in(scene, narration, sheet)
        prompt = with_looks(visual_prompt(scene.image_prompt), present)
        finished.append(
            Scene(narration=narration, image_prompt=prompt, characters=tuple(c.name for c in present))
        )
    clean_title = speakable(title).rstrip(".") or "Untitled story"
    return Script(title=clean_title, scenes=tuple(finished), characters=tuple(sheet), source=source)
