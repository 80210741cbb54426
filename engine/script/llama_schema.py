"""The JSON shapes the language model must answer in, and their validation.

Each schema becomes a llama.cpp grammar, so the model can only produce that shape: exactly the
requested number of scenes, and narration made of real space-separated words within a word range
(the grammar's word pattern), which keeps a script's length in hand by construction. The answer
is still parsed and checked here, because a grammar cannot see Markdown, empty text after
cleanup, or a too-short scene, and a stream cut off at ``max_tokens`` is not valid JSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Final, Sequence

from engine.script.finish import DraftScene
from engine.script.names import mentions
from engine.script.speakable import sentences, speakable, word_count
from engine.script.visuals import visual_prompt
from engine.spec import Character

#: One word: no spaces, quotes, backslashes or control characters; at most 16 characters (long
#: run-together "words" are how a weak model stalls, so they are cut short).
WORD: Final = r'[^ "\\\n\r\t]{1,16}'
#: Narration may run to this multiple of its share before the grammar closes it.
OVERRUN: Final = 1.3


def words_pattern(min_words: int, max_words: int) -> dict[str, Any]:
    """A JSON-schema string of ``min_words``..``max_words`` words separated by single spaces."""
    lo, hi = max(1, min_words), max(1, min_words, max_words)
    return {"type": "string", "pattern": f"^{WORD}( {WORD}){{{lo - 1},{hi - 1}}}$"}


def chars_pattern(min_chars: int, max_chars: int) -> dict[str, Any]:
    """A JSON-schema string of ``min_chars``..``max_chars`` characters (Chinese and Japanese
    narration, written without spaces and counted in characters)."""
    lo, hi = max(1, min_chars), max(1, min_chars, max_chars)
    return {"type": "string", "pattern": f'^[^"\\\\\n\r\t]{{{lo},{hi}}}$'}


def text_pattern(lo: int, hi: int, chars: bool) -> dict[str, Any]:
    return chars_pattern(lo, hi) if chars else words_pattern(lo, hi)


def narration_range(words: int) -> tuple[int, int]:
    """The grammar's word range for a narration meant to have ``words`` words."""
    return max(1, math.floor(words * 0.95)), max(2, math.ceil(words * OVERRUN) + 2)


def _names(known: Sequence[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "string", "enum": list(known)} if known else words_pattern(1, 4)
    return {"type": "array", "items": item, "maxItems": max(1, min(8, len(known) or 4))}


def _sheet(requested: int) -> dict[str, Any]:
    """The character sheet: the request's characters and at most two more (three when none)."""
    return {
        "type": "array",
        "maxItems": min(6, requested + 2) if requested else 3,
        "items": {
            "type": "object",
            "properties": {"name": words_pattern(1, 4), "description": words_pattern(4, 16)},
            "required": ["name", "description"],
        },
    }


def _scene(words: int, known: Sequence[str], chars: bool = False) -> dict[str, Any]:
    lo, hi = narration_range(words)
    return {
        "type": "object",
        "properties": {
            "narration": text_pattern(lo, hi, chars),
            "characters": _names(known),
            "image_prompt": words_pattern(6, 30),
        },
        "required": ["narration", "characters", "image_prompt"],
    }


def _scenes(scene_words: Sequence[int], known: Sequence[str], chars: bool = False) -> dict[str, Any]:
    """Exactly ``len(scene_words)`` scenes, each with its own word range (a tuple grammar)."""
    n = len(scene_words)
    return {
        "type": "array",
        "minItems": n,
        "maxItems": n,
        "prefixItems": [_scene(w, known, chars) for w in scene_words],
    }


def plan_schema(scene_words: Sequence[int], requested: int = 0, *, chars: bool = False) -> dict[str, Any]:
    """The whole script in one answer: title, character sheet, scenes (``chars``: narration
    counted in characters)."""
    return {
        "type": "object",
        "properties": {
            "title": words_pattern(1, 12),
            "characters": _sheet(requested),
            "scenes": _scenes(scene_words, (), chars),
        },
        "required": ["title", "characters", "scenes"],
    }


def outline_schema(num_scenes: int, requested: int = 0, *, chars: bool = False) -> dict[str, Any]:
    """A long script's plan: title, character sheet, and one summary per scene."""
    beat = {
        "type": "object",
        "properties": {"summary": chars_pattern(10, 80) if chars else words_pattern(6, 30),
                       "characters": _names(())},
        "required": ["summary", "characters"],
    }
    return {
        "type": "object",
        "properties": {
            "title": words_pattern(1, 12),
            "characters": _sheet(requested),
            "scenes": {"type": "array", "minItems": num_scenes, "maxItems": num_scenes, "items": beat},
        },
        "required": ["title", "characters", "scenes"],
    }


def batch_schema(scene_words: Sequence[int], known: Sequence[str], *, chars: bool = False) -> dict[str, Any]:
    """Some consecutive scenes of an outlined script."""
    return {"type": "object", "properties": {"scenes": _scenes(scene_words, known, chars)},
            "required": ["scenes"]}


def more_schema(add_words: Sequence[int], *, chars: bool = False) -> dict[str, Any]:
    """Continuations for scenes that are still short: one text per scene asked about."""
    n = len(add_words)
    items = [
        {"type": "object", "properties": {"text": text_pattern(*narration_range(w), chars)},
         "required": ["text"]}
        for w in add_words
    ]
    return {
        "type": "object",
        "properties": {
            "continuations": {"type": "array", "minItems": n, "maxItems": n, "prefixItems": items}
        },
        "required": ["continuations"],
    }


@dataclass(frozen=True)
class Problem:
    message: str
    #: A fatal problem fails the answer; a soft one is retried but accepted on the last attempt.
    fatal: bool = True


@dataclass(frozen=True)
class Plan:
    title: str
    characters: tuple[Character, ...]
    scenes: tuple[DraftScene, ...]
    summaries: tuple[str, ...] = ()


def _load(answer: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    try:
        data = json.loads(answer)
    except json.JSONDecodeError as exc:
        return None, [
            Problem(
                f"the answer is not complete JSON ({exc.msg} at character {exc.pos}); "
                "answer with one complete JSON object and nothing else"
            )
        ]
    if not isinstance(data, dict):
        return None, [Problem("the answer must be one JSON object")]
    return data, []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _sheet_of(data: dict[str, Any]) -> tuple[Character, ...]:
    raw = data.get("characters")
    items = raw if isinstance(raw, list) else []
    return tuple(
        Character(_text(c.get("name")).strip(), _text(c.get("description")).strip())
        for c in items
        if isinstance(c, dict) and _text(c.get("name")).strip()
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _count(items: Any, expected: int, what: str) -> list[Problem]:
    if not isinstance(items, list):
        return [Problem(f"'{what}' must be a list of {expected}")]
    if len(items) != expected:
        return [Problem(f"'{what}' has {len(items)} items; it must have exactly {expected}")]
    return []


def read_scenes(
    answer: str, scene_words: Sequence[int], *, first: int = 0, requested: Sequence[Character] = ()
) -> tuple[Plan | None, list[Problem]]:
    """Parse a plan or batch answer with ``len(scene_words)`` scenes (numbered from ``first``).
    Problems: broken JSON, wrong scene count, empty or too-short narration, an empty picture, and
    (soft) a requested character the narration never names."""
    data, problems = _load(answer)
    if data is None:
        return None, problems
    items = data.get("scenes")
    problems = _count(items, len(scene_words), "scenes")
    if problems:
        return None, problems
    scenes: list[DraftScene] = []
    for i, (item, want) in enumerate(zip(_list(items), scene_words)):
        label = f"scene {first + i + 1}"
        item = item if isinstance(item, dict) else {}
        narration = speakable(_text(item.get("narration")))
        picture = visual_prompt(_text(item.get("image_prompt")))
        names = item.get("characters")
        declared = (
            tuple(n.strip() for n in names if isinstance(n, str) and n.strip())
            if isinstance(names, list)
            else ()
        )
        have = word_count(narration)
        if have == 0:
            problems.append(Problem(f"{label} has no narration a narrator can read"))
        elif want >= 8 and have < 0.6 * want:
            problems.append(Problem(f"{label} narration has {have} words; it needs about {want}"))
        if not picture:
            problems.append(
                Problem(
                    f"{label} needs an image_prompt describing what the picture shows "
                    "(no text in the picture)",
                    fatal=False,
                )
            )
            picture = visual_prompt(sentences(narration)[0]) if narration else ""
        scenes.append(DraftScene(narration, picture, declared))
    all_text = " ".join(s.narration for s in scenes)
    if sum(scene_words) >= 40:
        for c in requested:
            if not mentions(all_text, c):
                problems.append(
                    Problem(
                        f"the narration never names {c.name}; use the name {c.name!r} in the "
                        "scenes where that character appears",
                        fatal=False,
                    )
                )
    return Plan(_text(data.get("title")).strip(), _sheet_of(data), tuple(scenes)), problems


def read_outline(answer: str, num_scenes: int) -> tuple[Plan | None, list[Problem]]:
    data, problems = _load(answer)
    if data is None:
        return None, problems
    items = data.get("scenes")
    problems = _count(items, num_scenes, "scenes")
    if problems:
        return None, problems
    summaries, scenes = [], []
    for i, item in enumerate(_list(items)):
        item = item if isinstance(item, dict) else {}
        summary = speakable(_text(item.get("summary")))
        if not summary:
            problems.append(Problem(f"scene {i + 1} needs a one-sentence summary"))
        names = item.get("characters")
        declared = (
            tuple(n.strip() for n in names if isinstance(n, str) and n.strip())
            if isinstance(names, list)
            else ()
        )
        summaries.append(summary)
        scenes.append(DraftScene("", "", declared))
    return Plan(_text(data.get("title")).strip(), _sheet_of(data), tuple(scenes), tuple(summaries)), problems


def read_more(answer: str, add_words: Sequence[int]) -> tuple[list[str] | None, list[Problem]]:
    data, problems = _load(answer)
    if data is None:
        return None, problems
    items = data.get("continuations")
    problems = _count(items, len(add_words), "continuations")
    if problems:
        return None, problems
    texts = [speakable(_text(item.get("text"))) if isinstance(item, dict) else "" for item in _list(items)]
    for i, text in enumerate(texts):
        if not text:
            problems.append(Problem(f"continuation {i + 1} is empty"))
    return texts, problems


#: The letters a Chinese or Japanese narration is made of when a scene is written again (the
#: grammar then keeps the answer in the language asked): CJK punctuation, kana, ideographs,
#: full-width forms.
_CJK_TEXT: Final = "\u3001-\u3003\u300c-\u300f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff5e"


def cjk_pattern(min_chars: int, max_chars: int) -> dict[str, Any]:
    lo, hi = max(1, min_chars), max(1, min_chars, max_chars)
    return {"type": "string", "pattern": f"^[{_CJK_TEXT}]{{{lo},{hi}}}$"}


def scene_schema(min_words: int, max_words: int, *, chars: bool = False) -> dict[str, Any]:
    """One scene written again: its narration (``min_words``..``max_words`` words, or that many
    Chinese or Japanese characters with ``chars``) and its image_prompt."""
    return {
        "type": "object",
        "properties": {
            "narration": cjk_pattern(min_words, max_words) if chars else words_pattern(min_words, max_words),
            "image_prompt": words_pattern(6, 30),
        },
        "required": ["narration", "image_prompt"],
    }


def read_scene(answer: str, want: int, low: int,
               current: str = "") -> tuple[DraftScene | None, list[Problem]]:
    """Parse one rewritten scene meant to have about ``want`` words and at least ``low``; (soft)
    one that says word for word what the scene says now (``current``)."""
    data, problems = _load(answer)
    if data is None:
        return None, problems
    narration = speakable(_text(data.get("narration")))
    picture = visual_prompt(_text(data.get("image_prompt")))
    have = word_count(narration)
    if have == 0:
        problems.append(Problem("the scene has no narration a narrator can read"))
    elif have < low:
        problems.append(Problem(f"the narration has {have} words; it needs about {want}"))
    if narration and narration == speakable(current):
        problems.append(Problem("the narration is what the scene says now; tell it in new words",
                                fatal=False))
    if not picture:
        problems.append(Problem("the scene needs an image_prompt describing what the picture shows "
                                "(no text in the picture)", fatal=False))
        picture = visual_prompt(sentences(narration)[0]) if narration else ""
    return DraftScene(narration, picture), problems
