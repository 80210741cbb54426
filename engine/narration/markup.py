"""First pass of text preparation: strip markup, emoji and typographic noise, keep words.

The result is plain text whose whitespace-separated tokens are what a caption shows.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Final

_HTML_TAG: Final = re.compile(r"<[^<>]{1,200}>")
_MD_IMAGE: Final = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK: Final = re.compile(r"\[([^\]]+)\]\((?:[^)]*)\)")
_STAGE_DIRECTION: Final = re.compile(r"\[[^\]]{0,80}\]")
_MD_EMPHASIS: Final = re.compile(r"(\*{1,3}|_{2,3}|~~)(?=\S)(.+?)(?<=\S)\1")
_MD_UNDERSCORE_EMPHASIS: Final = re.compile(r"(?<![\w])_(?=\S)(.+?)(?<=\S)_(?![\w])")
_BACKTICKS: Final = re.compile(r"`+")
_LINE_MARKERS: Final = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]+|>[ \t]?|[-*+•][ \t]+|\d{1,3}[.)][ \t]+)", re.MULTILINE)
_SPEAKER_LABEL: Final = re.compile(
    r"^[ \t]*(?:narrator|voice ?over|vo)[ \t]*:[ \t]*", re.IGNORECASE | re.MULTILINE)
_DASH_PAUSE: Final = re.compile(r"\s*(?:—|--+|―)\s*|\s+–\s+")
_SPACES: Final = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_PARAGRAPH: Final = re.compile(r"\n\s*\n+")
PARAGRAPH_MARK: Final = "\u00b6"  # pilcrow: survives as its own token, marks a paragraph end

_TRANSLATE: Final = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "«": '"', "»": '"',
    "\u2026": "...", "\u2013": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
})
#: Symbols (Unicode category "So"/"Sk") we speak rather than drop.
_KEEP_SYMBOLS: Final = frozenset("°©®™§")


def _is_emoji_or_symbol(ch: str) -> bool:
    if ch in _KEEP_SYMBOLS:
        return False
    code = ord(ch)
    if code in (0x200D, 0x20E3) or 0xFE00 <= code <= 0xFE0F or 0xE0020 <= code <= 0xE007F:
        return True  # joiners, keycaps, variation selectors, tag characters
    category = unicodedata.category(ch)
    return category in ("So", "Cs", "Co") or (category == "Sk" and code > 0x2000)


def clean_markup(text: str) -> str:
    """Strip HTML/SSML tags, Markdown, stage directions ("[Music]") and emoji; unify quotes,
    dashes and spaces. Paragraph breaks become a standalone PARAGRAPH_MARK token."""
    text = unicodedata.normalize("NFC", text).translate(_TRANSLATE)
    text = _HTML_TAG.sub(" ", text)
    text = _MD_IMAGE.sub(" ", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _STAGE_DIRECTION.sub(" ", text)
    text = _LINE_MARKERS.sub("", text)
    text = _SPEAKER_LABEL.sub("", text)
    for _ in range(2):  # nested **_x_**
        text = _MD_EMPHASIS.sub(r"\2", text)
        text = _MD_UNDERSCORE_EMPHASIS.sub(r"\1", text)
    text = _BACKTICKS.sub("", text)
    text = "".join(" " if _is_emoji_or_symbol(ch) else ch for ch in text)
    text = _DASH_PAUSE.sub(", ", text)
    text = _PARAGRAPH.sub(f" {PARAGRAPH_MARK} ", text.strip())
    text = text.replace("\r", " ").replace("\n", " ")
    return _SPACES.sub(" ", text).strip()
