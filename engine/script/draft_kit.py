"""What the draft writer builds a story from: one kit of sentence templates and picture parts per
story type (the kits live in draft_kits_*.py), and the helpers that fill in the topic, names and
props.

Templates use ``{hero}``, ``{ally}``, ``{rival}``, ``{name}`` (a cameo), ``{topic}`` / ``{Topic}``
(sentence start), ``{place}``, ``{thing}``. A template whose person is not in the story is skipped,
so hero-free kits (facts, lessons) still work when no characters are given. Templates never use
gendered pronouns for a person, because the request's characters come without one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Mapping

PHASES: Final = ("setup", "rising", "climax", "ending")


@dataclass(frozen=True)
class DraftKit:
    hero_led: bool  # told through a hero (one is invented when the request names none)
    hooks: Mapping[str, tuple[str, ...]]  # opening lines by hook intensity value
    setup: tuple[str, ...]
    rising: tuple[str, ...]
    climax: tuple[str, ...]
    ending: tuple[str, ...]
    details: tuple[str, ...]  # atmosphere; slow pacing uses more of these
    beats: tuple[str, ...]  # two to four words; fast pacing and tiny scenes
    closers: tuple[str, ...]  # the very last line
    cameos: tuple[str, ...]  # bring in a named character: {name}
    places: tuple[str, ...]  # {place}: a spot inside the story's world
    things: tuple[str, ...]  # {thing}: the story's central object
    settings: tuple[str, ...]  # picture: where
    subjects: tuple[str, ...]  # picture: what, when no character is present
    actions: tuple[str, ...]  # picture: what a present character is doing
    light: tuple[str, str, str, str]  # picture: lighting per phase
    titles: tuple[str, ...]  # {T}: the topic in title case

    def bank(self, phase: str) -> tuple[str, ...]:
        return {"setup": self.setup, "rising": self.rising, "climax": self.climax, "ending": self.ending}[
            phase
        ]


#: Names for an invented hero; chosen to carry no gender, since templates use no pronouns.
HERO_NAMES: Final = (
    "Alex",
    "Sam",
    "Jordan",
    "Robin",
    "Casey",
    "Morgan",
    "Riley",
    "Avery",
    "Quinn",
    "Rowan",
    "Jamie",
    "Taylor",
    "Eli",
    "Noa",
    "Sasha",
    "Kit",
)
HERO_LOOKS: Final = (
    "a person in their thirties with short dark hair and a worn green jacket",
    "a young adult with curly red hair, freckles and a grey wool coat",
    "a tall person in their forties with close-cropped grey hair and a navy sweater",
    "a slight person in their twenties with a long black braid and a yellow raincoat",
    "a broad-shouldered person with a trimmed brown beard and a plaid flannel shirt",
    "a person in their fifties with silver-rimmed glasses and a brown corduroy jacket",
)
FRAMINGS: Final = (
    "wide establishing shot",
    "medium shot",
    "close-up",
    "low-angle shot",
    "over-the-shoulder shot",
    "high-angle shot",
    "medium-wide shot",
    "detail shot",
)
#: Openers that vary a sentence when its template comes round a second time in a long script.
RETURN_OPENERS: Final = (
    "Later,",
    "By then,",
    "After that,",
    "Even so,",
    "For a while,",
    "Still,",
    "In time,",
    "Soon,",
    "Once again,",
    "That night,",
    "The next day,",
    "Before long,",
)
GENERIC_CAMEOS: Final = (
    "{name} was part of this story too.",
    "And then there was {name}.",
    "{name} was there.",
)

_LEADING_LOWER: Final = re.compile(
    r"^(?:a|an|the|why|how|what|when|where|who|which|some|our|my|your|this|that|these|"
    r"those|one|every|its|their|his|her)\b"
)
_FIELD: Final = re.compile(r"\{(\w+)\}")


def topic_phrase(topic: str) -> str:
    """The topic as a phrase for mid-sentence: trimmed of end punctuation, first word lowered
    when it is an ordinary word ("The Lighthouse" -> "the Lighthouse", "NASA" stays)."""
    t = " ".join(topic.split()).strip(" .!?;:,\"'")
    if not t:
        return "this story"
    first = t.split()[0]
    if _LEADING_LOWER.match(first.lower()) and not first.isupper():
        t = first.lower() + t[len(first):]
    return t


def title_case(topic: str, max_words: int = 8) -> str:
    small = {"a", "an", "the", "of", "in", "on", "and", "or", "to", "for", "at", "by", "with"}
    words = topic_phrase(topic).split()[:max_words]
    return " ".join(
        w if w.isupper() or (i and w.lower() in small) else w[:1].upper() + w[1:] for i, w in enumerate(words)
    )


def fields(template: str) -> set[str]:
    return set(_FIELD.findall(template))


def render(template: str, values: Mapping[str, str]) -> str | None:
    """``template`` with its fields filled; None when it needs a field the story lacks."""
    needed = fields(template)
    if any(not values.get(f) for f in needed):
        return None
    out = template.format(**{f: values[f] for f in needed})
    return out[:1].upper() + out[1:]
