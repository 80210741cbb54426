"""First pass of text preparation: strip markup, emoji and typographic noise, keep words.

The result is plain text whose whitespace-separated tokens are what a caption shows.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Final

from engine.markdown import is_emoji, strip_emphasis, strip_links

_HTML_TAG: Final = re.compile(r"<[^<>]{1,200}>")
_STAGE_DIRECTION: Final = re.compile(r"\[[^\]]{0,80}\]")
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


def clean_markup(text: str) -> str:
    """Strip HTML/SSML tags, Markdown, stage directions ("[Music]") and emoji; unify quotes,
    dashes and spaces. Paragraph breaks become a standalone PARAGRAPH_MARK token."""
    text = unicodedata.normalize("NFC", text).translate(_TRANSLATE)
    text = _HTML_TAG.sub(" ", text)
    text = strip_links(text)
    text = _STAGE_DIRECTION.sub(" ", text)
    text = _LINE_MARKERS.sub("", text)
    text = _SPEAKER_LABEL.sub("", text)
    text = strip_emphasis(text)
    text = _BACKTICKS.sub("", text)
    text = "".join(" " if is_emoji(ch) else ch for ch in text)
    text = _DASH_PAUSE.sub(", ", text)
    text = _PARAGRAPH.sub(f" {PARAGRAPH_MARK} ", text.strip())
    text = text.replace("\r", " ").replace("\n", " ")
    return _SPACES.sub(" ", text).strip()
