"""Numbers as English words: cardinals, ordinals and years from num2words, in the style our
voices read best (no "and", no commas: "one thousand two hundred thirty-four"); decimals and
digit strings built on them."""
from __future__ import annotations

import re
from typing import Final

from num2words import num2words

_DIGITS: Final = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_AND: Final = re.compile(r",| and (?=\S)")


def _plain(words: str) -> str:
    return " ".join(_AND.sub(" ", words).split())


def cardinal(n: int) -> str:
    """12345 -> 'twelve thousand three hundred forty-five'."""
    if abs(n) >= 10**15:
        return ("minus " if n < 0 else "") + digits(str(abs(n)))
    return _plain(num2words(n, lang="en"))


def ordinal(n: int) -> str:
    """23 -> 'twenty-third'."""
    return _plain(num2words(n, lang="en", to="ordinal"))


def digits(text: str) -> str:
    """'0427' -> 'zero four two seven'."""
    return " ".join(_DIGITS[int(c)] for c in text if c.isdigit())


def decimal(text: str) -> str:
    """'3.14' -> 'three point one four'; '1,250' -> 'one thousand two hundred fifty'."""
    text = text.replace(",", "")
    negative = text.startswith("-")
    text = text.lstrip("+-")
    whole, _, frac = text.partition(".")
    words = cardinal(int(whole)) if whole else "zero"
    if frac:
        words += " point " + digits(frac)
    return ("minus " + words) if negative else words


def year(n: int) -> str:
    """1990 -> 'nineteen ninety', 1905 -> 'nineteen oh five', 2008 -> 'two thousand eight'."""
    if n < 1000 or n > 9999:
        return cardinal(n)
    return _plain(num2words(n, lang="en", to="year")).replace("oh-", "oh ")


def plural(words: str) -> str:
    """'nineteen ninety' -> 'nineteen nineties', 'six' -> 'sixes'."""
    head, sep, last = words.rpartition(" ")
    inner_head, dash, inner = last.rpartition("-")
    if inner.endswith("y"):
        inner = inner[:-1] + "ies"
    elif inner.endswith(("x", "s")):
        inner += "es"
    else:
        inner += "s"
    return f"{head}{sep}{inner_head}{dash}{inner}"
