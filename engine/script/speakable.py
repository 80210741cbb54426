"""Narration text a voice can read: no Markdown, headings, stage directions, emojis or bracketed
notes; plus the sentence tools the writers use to count, split and trim narration.

Both writers pass every narration through :func:`speakable`, so a model that slips a ``**bold**``
word, a ``[pause]`` or a ``## Scene 2`` heading into its answer still gives clean captions."""

from __future__ import annotations

import re
from typing import Final

from engine.markdown import is_emoji, strip_emphasis, strip_links

_CODE_FENCE: Final = re.compile(r"```[a-zA-Z]*")
_HTML_TAG: Final = re.compile(r"</?[a-zA-Z][^<>]{0,200}>")
_URL: Final = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_HEADING_LINE: Final = re.compile(r"^[ \t]*#{1,6}[ \t].*$|^[ \t]*#{1,6}$", re.MULTILINE)
_RULE_LINE: Final = re.compile(r"^[ \t]*(?:[-*_=][ \t]*){3,}$", re.MULTILINE)
_LINE_MARKERS: Final = re.compile(r"^[ \t]*(?:>[ \t]?|[-*+\u2022][ \t]+|\d{1,3}[.)][ \t]+)", re.MULTILINE)
#: "Scene 3:", "SCENE 3 - EXT. FOREST", "Chapter two", "Part 1" alone on a line.
_LABEL_LINE: Final = re.compile(
    r"^[ \t]*(?:scene|chapter|part|act|episode|segment)[ \t]+(?:\d+|[ivx]+|one|two|three|four|five|six|"
    r"seven|eight|nine|ten)\b[^\n!?]{0,60}(?<![.!?])$",
    re.IGNORECASE | re.MULTILINE,
)
_SPEAKER_LABEL: Final = re.compile(
    r"^[ \t]*(?:narrator|narration|voice[ -]?over|vo|host|scene \d+|hook|intro|outro|title)[ \t]*:[ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
_BRACKETED: Final = re.compile(r"\[[^\[\]]{0,200}\]|\{[^{}]{0,200}\}|<[^<>]{0,200}>")
_PARENS: Final = re.compile(r"\s*\(([^()]{0,120})\)")
_STAGE_WORDS: Final = re.compile(
    r"^(?:pause|beat|long pause|short pause|silence|whisper(?:s|ing)?|sigh(?:s|ing)?|laugh(?:s|ing)?|"
    r"chuckles?|gasps?|softly|slowly|quietly|loudly|dramatic(?:ally)?|music|sfx|sound|sound effects?|"
    r"cut to|fade (?:in|out|to)|transition|on screen|off screen|voice ?over|narrator|ominous|"
    r"tense|upbeat|calm|cheerful|serious|excited(?:ly)?|to camera|wind|thunder|footsteps)\b",
    re.IGNORECASE,
)
_LEFTOVER_SYMBOLS: Final = re.compile(r"[*_~`#|\\^<>{}\[\]=]+")
_SPACE_BEFORE_PUNCT: Final = re.compile(r"\s+([,.;:!?])")
_REPEATED_PUNCT: Final = re.compile(r"([,;:])\s*(?:[,;:]\s*)+")
_EMPTY_CLAUSE: Final = re.compile(r"(^|[.!?])\s*[,;:]\s*")
_SPACES: Final = re.compile(r"\s+")
_TRANSLATE: Final = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2026": "...", "\u00a0": " ", "&": " and "}
)
_SENTENCE_END: Final = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(]?[A-Z0-9])|(?<=[。！？])[」』”）]?\s*(?=\S)")


def _drop_stage_parens(match: re.Match[str]) -> str:
    inner = match.group(1).strip()
    if not inner or _STAGE_WORDS.match(inner) or (inner.isupper() and any(c.isalpha() for c in inner)):
        return ""
    return match.group(0)


def speakable(text: str) -> str:
    """``text`` as one paragraph a narrator can read aloud, ending in sentence punctuation
    (empty when nothing speakable is left)."""
    t = text.translate(_TRANSLATE)
    t = _CODE_FENCE.sub(" ", t)
    t = strip_links(t)
    t = _URL.sub(" ", t)
    t = _HTML_TAG.sub(" ", t)
    t = _HEADING_LINE.sub(" ", t)
    t = _RULE_LINE.sub(" ", t)
    t = _LABEL_LINE.sub(" ", t)
    t = _SPEAKER_LABEL.sub("", t)
    t = _LINE_MARKERS.sub("", t)
    t = _BRACKETED.sub(" ", t)
    t = _PARENS.sub(_drop_stage_parens, t)
    t = strip_emphasis(t)
    t = "".join(" " if is_emoji(ch) else ch for ch in t)
    t = _LEFTOVER_SYMBOLS.sub(" ", t)
    t = _SPACES.sub(" ", t).strip()
    t = _SPACE_BEFORE_PUNCT.sub(r"\1", t)
    t = _REPEATED_PUNCT.sub(r"\1 ", t)
    t = _EMPTY_CLAUSE.sub(r"\1 ", t).strip()
    t = t.strip(" ,;:-")
    if len(t) >= 2 and t[0] == t[-1] == '"' and t.count('"') == 2:
        t = t[1:-1].strip()
    if t and t[-1].isalnum():
        t += "。" if _CJK.match(t[-1]) else "."
    elif t and t[-1] in "\"')" and len(t) > 1 and t[-2].isalnum():
        t = t[:-1] + "." + t[-1]
    return _SPACES.sub(" ", t).strip()


_CJK: Final = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def word_count(text: str) -> int:
    """Words, where each Chinese character or Japanese kana/kanji counts as one (those scripts
    are written without spaces, and their length is counted in characters)."""
    return sum(max(1, len(_CJK.findall(w))) for w in text.split())


def sentences(text: str) -> list[str]:
    """Split one paragraph into sentences (at . ! ? followed by a capital, digit or quote)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def trim_to_words(text: str, max_words: int, *, exact: bool = False) -> str:
    """Drop whole sentences from the end until ``text`` has at most ``max_words`` words. With
    ``exact`` (or when even the first sentence is too long) the sentence that crosses the limit is
    cut at a word boundary instead and closed with a full stop, so the result lands on the limit.
    Never returns an empty string for a non-empty text."""
    max_words = max(1, max_words)
    if word_count(text) <= max_words:
        return text
    kept: list[str] = []
    used = 0
    for sentence in sentences(text):
        n = word_count(sentence)
        if used + n > max_words:
            room = max_words - used
            if (exact and room >= 3) or not kept:
                kept.append(_cut(sentence, room))
            break
        kept.append(sentence)
        used += n
    return " ".join(kept)


def _cut(sentence: str, max_words: int) -> str:
    words = sentence.split()[: max(1, max_words)]
    cut = " ".join(words).rstrip(",;:-\u2014 ")
    return cut if cut.endswith((".", "!", "?")) else cut + "."
