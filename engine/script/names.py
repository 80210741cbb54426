"""Matching character names in text: "Detective Mara Quinn" is named by "Mara" or "Quinn" too."""

from __future__ import annotations

import re
from typing import Final

from engine.spec import Character

#: Words in a name that do not identify the person on their own ("Detective Mara Quinn" -> Mara, Quinn).
_HONORIFICS: Final = frozenset(
    "the a an old young little big detective doctor dr mr mrs ms miss mister captain capt professor prof "
    "sir lady lord king queen prince princess officer agent sergeant sgt inspector aunt uncle grandma "
    "grandpa father mother brother sister saint st general colonel major lieutenant chief mayor".split()
)


def _parts(name: str) -> list[str]:
    return [p for p in re.split(r"[\s\-]+", name) if len(p) >= 3 and p.lower().strip(".") not in _HONORIFICS]


def name_pattern(name: str) -> re.Pattern[str]:
    """Matches the full name, or any distinctive part of it (a first or last name)."""
    name = " ".join(name.split())
    alternatives = [re.escape(name)] + [re.escape(p) for p in _parts(name) if p != name]
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)")


def short_name(name: str) -> str:
    """The first distinctive part of a name ("Detective Mara Quinn" -> "Mara"); the name itself
    when it has none."""
    parts = _parts(" ".join(name.split()))
    return parts[0] if parts else name


def mentions(text: str, character: Character) -> bool:
    return bool(character.name.strip()) and bool(name_pattern(character.name).search(text))


def same_person(a: str, b: str) -> bool:
    """True when one name is the other, or names a distinctive part of it ("Mara" ~ "Mara Quinn")."""
    if not a.strip() or not b.strip():
        return False
    if a.strip().lower() == b.strip().lower():
        return True
    return bool(name_pattern(a).search(b) or name_pattern(b).search(a))
