"""Markdown and emoji stripping shared by the script writers (engine/script/speakable.py) and
the narrator's text preparation (engine/narration/markup.py): one definition of what a link, an
image, an emphasis marker and an emoji are, so captions and speech agree."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

_IMAGE: Final = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK: Final = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS: Final = re.compile(r"(\*{1,3}|_{2,3}|~~)(?=\S)(.+?)(?<=\S)\1", re.DOTALL)
_UNDERSCORE_EMPHASIS: Final = re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)")
#: Symbols (Unicode "So"/"Sk") that are read aloud rather than dropped.
KEEP_SYMBOLS: Final = frozenset("°©®™§")


def strip_links(text: str) -> str:
    """Markdown images go, links keep their text: ``[the keeper](http://...)`` -> ``the keeper``."""
    return _LINK.sub(r"\1", _IMAGE.sub(" ", text))


def strip_emphasis(text: str) -> str:
    """``**bold**``, ``*italic*``, ``__x__``, ``_x_``, ``~~x~~`` -> their words (nested once)."""
    for _ in range(2):  # nested: ***x*** or **_x_**
        text = _EMPHASIS.sub(r"\2", text)
        text = _UNDERSCORE_EMPHASIS.sub(r"\1", text)
    return text


def is_emoji(ch: str) -> bool:
    """Emoji, pictographs, dingbats and their joiners/selectors — never spoken, never captioned."""
    if ch in KEEP_SYMBOLS:
        return False
    code = ord(ch)
    if code in (0x200D, 0x20E3) or 0xFE00 <= code <= 0xFE0F or 0xE0020 <= code <= 0xE007F:
        return True  # joiners, keycaps, variation selectors, tag characters
    if 0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF or 0x2B00 <= code <= 0x2BFF:
        return True  # emoji, symbols and pictographs, dingbats, arrows
    category = unicodedata.category(ch)
    return category in ("So", "Cs", "Co") or (category == "Sk" and code > 0x2000)
