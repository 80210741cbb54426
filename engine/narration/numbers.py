"""Numbers as English words: cardinals, ordinals, decimals and years (no dependencies)."""
from __future__ import annotations

from typing import Final

_ONES: Final = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
_TENS: Final = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES: Final = (
    (10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"),
)
_ORDINAL_WORDS: Final = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}
_DIGITS: Final = _ONES[:10]


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts: list[str] = []
    if hundreds:
        parts.append(f"{_ONES[hundreds]} hundred")
    if rest:
        if rest < 20:
            parts.append(_ONES[rest])
        else:
            tens, ones = divmod(rest, 10)
            parts.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    return " ".join(parts)


def cardinal(n: int) -> str:
    """12345 -> 'twelve thousand three hundred forty-five'."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n < 1000:
        return _below_thousand(n) if n else "zero"
    if n >= 10**15:
        return digits(str(n))
    parts: list[str] = []
    for value, name in _SCALES:
        if n >= value:
            count, n = divmod(n, value)
            parts.append(f"{cardinal(count)} {name}")
    if n:
        parts.append(_below_thousand(n))
    return " ".join(parts)


def ordinal(n: int) -> str:
    """23 -> 'twenty-third'."""
    words = cardinal(n)
    head, sep, last = words.rpartition("-") if "-" in words.rsplit(" ", 1)[-1] else words.rpartition(" ")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head}{sep}{last}"


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
    high, low = divmod(n, 100)
    if low == 0:
        return cardinal(n) if high % 10 == 0 else f"{cardinal(high)} hundred"
    if 2000 <= n < 2010:
        return cardinal(n)
    if low < 10:
        return f"{cardinal(high)} oh {_ONES[low]}"
    return f"{cardinal(high)} {cardinal(low)}"


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
