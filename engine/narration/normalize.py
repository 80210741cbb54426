"""Second pass of text preparation: each caption token -> the words a voice should say.

Rules look at one token with its neighbours (so "$1.2 million" says "one point two million
dollars" and "March 3," says "March third,"), and never merge tokens, so every spoken word
keeps the caption token it came from.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Final

from engine.narration import numbers as num

_LEADING: Final = "\"'([{¡¿"
_TRAILING: Final = "\"')]}.,;:!?"

MONTHS: Final = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)
_MONTH_ABBR: Final = {m[:3].lower(): m for m in MONTHS} | {"sept": "September"}
_TITLES: Final = {
    "dr": "Doctor", "mr": "Mister", "mrs": "Missus", "ms": "Miz", "prof": "Professor",
    "mt": "Mount", "capt": "Captain", "gen": "General", "lt": "Lieutenant", "sgt": "Sergeant",
    "col": "Colonel", "gov": "Governor", "sen": "Senator", "rep": "Representative", "rev": "Reverend",
    "fr": "Father", "insp": "Inspector", "det": "Detective", "pres": "President",
}
_ABBREVIATIONS: Final = {
    "jr": "Junior", "sr": "Senior", "vs": "versus", "etc": "et cetera", "approx": "approximately",
    "dept": "department", "est": "established", "ft": "feet", "min": "minutes", "hr": "hour",
    "hrs": "hours", "sec": "seconds", "ave": "Avenue", "blvd": "Boulevard", "rd": "Road",
}
_DOTTED: Final = {"e.g.": "for example", "i.e.": "that is", "a.m.": "ay em", "p.m.": "pee em",
                  "a.d.": "ay dee", "b.c.": "bee see", "w/": "with", "w/o": "without"}
#: Abbreviations that may also end a sentence ("... and so on, etc. Then").
MAY_END_SENTENCE: Final = frozenset({"jr", "sr", "etc", "am", "pm", "ad", "bc", "st"})
_LETTER_NAMES: Final = dict(zip(
    "abcdefghijklmnopqrstuvwxyz",
    ("ay", "bee", "see", "dee", "ee", "eff", "jee", "aitch", "eye", "jay", "kay", "el", "em", "en",
     "oh", "pee", "cue", "ar", "ess", "tee", "you", "vee", "double you", "ex", "why", "zee"),
))
_CURRENCY: Final = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
                    "€": ("euro", "euros", "cent", "cents"), "¥": ("yen", "yen", "sen", "sen"),
                    "₹": ("rupee", "rupees", "paisa", "paise")}
_SCALE_WORDS: Final = {"thousand", "million", "billion", "trillion"}
_SCALE_SUFFIX: Final = {"k": "thousand", "m": "million", "mm": "million", "bn": "billion", "b": "billion",
                        "t": "trillion"}
_UNITS: Final = {
    "km": ("kilometer", "kilometers"), "m": ("meter", "meters"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"), "lb": ("pound", "pounds"), "lbs": ("pounds", "pounds"),
    "mi": ("mile", "miles"), "ft": ("foot", "feet"), "in": ("inch", "inches"), "mph": ("miles per hour",) * 2,
    "kph": ("kilometers per hour",) * 2, "km/h": ("kilometers per hour",) * 2,
    "ml": ("milliliter", "milliliters"),
    "l": ("liter", "liters"), "s": ("second", "seconds"), "sec": ("second", "seconds"),
    "min": ("minute", "minutes"), "h": ("hour", "hours"), "hr": ("hour", "hours"), "hrs": ("hours", "hours"),
    "gb": ("gigabyte", "gigabytes"), "mb": ("megabyte", "megabytes"), "tb": ("terabyte", "terabytes"),
    "kb": ("kilobyte", "kilobytes"), "ghz": ("gigahertz",) * 2, "mhz": ("megahertz",) * 2,
    "hz": ("hertz",) * 2,
    "x": ("times",) * 2, "yo": ("year old", "year old"), "bc": ("bee see",) * 2, "ad": ("ay dee",) * 2,
}
_SYMBOL_WORDS: Final = {"&": "and", "+": "plus", "=": "equals", "@": "at", "%": "percent", "°": "degrees",
                        "§": "section", "©": "copyright", "~": "about", "×": "times", "#": "number",
                        "-": ",", "/": ",", "®": "", "™": "", "*": "", "|": ",", "^": "", "_": ""}
_YEAR_CONTEXT: Final = frozenset({"in", "since", "by", "of", "from", "until", "till", "year", "circa",
                                  "early", "late", "mid", "summer", "winter", "spring", "autumn", "fall",
                                  "before", "after", "around", "during", "through", "to", "and", "the"})
_COUNT_CONTEXT: Final = frozenset({"about", "over", "under", "nearly", "almost", "than", "approximately",
                                   "some", "exactly", "just", "only", "all", "those", "these", "with"})
_NOT_PLURAL: Final = frozenset({"was", "is", "has", "as", "his", "its", "this", "does", "says", "us", "yes",
                                "thus", "whereas", "always", "perhaps"})

_NUMBER: Final = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_RE_NUMBER: Final = re.compile(rf"[+-]?(?:{_NUMBER})")
_RE_CURRENCY: Final = re.compile(rf"(-)?([$£€¥₹])({_NUMBER})(k|m|mm|bn|b|t)?", re.IGNORECASE)
_RE_PERCENT: Final = re.compile(rf"([+-]?(?:{_NUMBER}))%")
_RE_ORDINAL: Final = re.compile(r"(\d+)(st|nd|rd|th)", re.IGNORECASE)
_RE_DECADE: Final = re.compile(r"'?(\d{2}|\d{4})'?s")
_RE_TIME: Final = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?(am|pm|a\.m\.|p\.m\.)?", re.IGNORECASE)
_RE_CLOCK: Final = re.compile(r"(\d{1,2})(am|pm|a\.m\.|p\.m\.)", re.IGNORECASE)
_RE_ISO_DATE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_RE_SLASH_DATE: Final = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})")
_RE_RANGE: Final = re.compile(rf"({_NUMBER})-({_NUMBER})")
_RE_FRACTION: Final = re.compile(r"(\d+)/(\d+)")
_RE_UNIT: Final = re.compile(rf"({_NUMBER})([a-zA-Z]{{1,3}}|km/h)")
_RE_DEGREES: Final = re.compile(rf"(-?(?:{_NUMBER}))°([CFK])?")
_RE_URL: Final = re.compile(
    r"(?:https?://|www\.)\S+|[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|ai|co|edu|gov|dev|app|uk|us|tv|me|info)"
    r"(?:/\S*)?", re.IGNORECASE)
_RE_EMAIL: Final = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_RE_INITIALISM: Final = re.compile(r"(?:[A-Za-z]\.){2,}")
_RE_DIGIT_RUN: Final = re.compile(r"\d+(?:\.\d+)?")
_RE_SPACES: Final = re.compile(r"\s+")


@dataclass(frozen=True)
class Context:
    """The words around a token, lower-cased and stripped of punctuation ("" at the edges)."""

    prev: str
    next: str
    next_raw: str  # next token's core, case kept


def split_token(token: str, *, leading: str = _LEADING, trailing: str = _TRAILING) -> tuple[str, str, str]:
    """'"(Hello!)"' -> ('"(', 'Hello', '!)"'); a token of punctuation only is all core.
    ``leading`` and ``trailing`` are the marks that may open and close a token (English's by
    default)."""
    start, end = 0, len(token)
    while start < end and token[start] in leading:
        start += 1
    while end > start and token[end - 1] in trailing:
        end -= 1
    if start == end:
        return "", token, ""
    return token[:start], token[start:end], token[end:]


def _number_words(text: str) -> str:
    if re.fullmatch(r"0\d+", text):
        return num.digits(text)
    if re.fullmatch(r"\d{7,}", text):
        return num.digits(text)
    return num.decimal(text)


def _currency(m: re.Match[str], ctx: Context) -> tuple[str, str]:
    """Returns (words, suffix for the next token when it is a scale word like 'million')."""
    sign, symbol, amount, scale = m.group(1), m.group(2), m.group(3).replace(",", ""), m.group(4)
    one, many, cent, cents = _CURRENCY[symbol]
    minus = "minus " if sign else ""
    if scale:
        return f"{minus}{num.decimal(amount)} {_SCALE_SUFFIX[scale.lower()]} {many}", ""
    if ctx.next in _SCALE_WORDS:
        return f"{minus}{num.decimal(amount)}", many
    whole, _, frac = amount.partition(".")
    units = int(whole or "0")
    if len(frac) == 2:
        sub = int(frac)
        head = f"{num.cardinal(units)} {one if units == 1 else many}" if units else ""
        tail = f"{num.cardinal(sub)} {cent if sub == 1 else cents}" if sub else ""
        return minus + (" and ".join(p for p in (head, tail) if p) or f"zero {many}"), ""
    if frac:
        return f"{minus}{num.decimal(amount)} {many}", ""
    return f"{minus}{num.cardinal(units)} {one if units == 1 else many}", ""


def _clock(hour: int, minute: int, meridiem: str | None) -> str:
    words = num.cardinal(hour)
    if minute == 0:
        words += "" if meridiem else " o'clock"
    elif minute < 10:
        words += f" oh {num.cardinal(minute)}"
    else:
        words += f" {num.cardinal(minute)}"
    if meridiem:
        words += " ay em" if meridiem.lower().startswith("a") else " pee em"
    return words


def _date(year: int, month: int, day: int) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{MONTHS[month - 1]} {num.ordinal(day)}, {num.year(year)}"


def _full_year(text: str) -> int:
    """'99' -> 1999, '07' -> 2007, '1999' -> 1999."""
    value = int(text)
    if len(text) == 2:
        return value + (1900 if value > 30 else 2000)
    return value


def _plain_number(text: str, ctx: Context) -> str:
    if re.fullmatch(r"\d{4}", text):
        value = int(text)
        next_plural = ctx.next.endswith("s") and ctx.next not in _NOT_PLURAL
        year_like = ctx.prev in _YEAR_CONTEXT or not next_plural
        if 1100 <= value <= 2099 and ctx.prev not in _COUNT_CONTEXT and year_like:
            return num.year(value)
    if ctx.prev in {m.lower() for m in MONTHS} and re.fullmatch(r"\d{1,2}", text) and 1 <= int(text) <= 31:
        return num.ordinal(int(text))
    return _number_words(text)


def _fraction(a: int, b: int) -> str:
    names = {2: ("half", "halves"), 3: ("third", "thirds"), 4: ("quarter", "quarters")}
    if b in names:
        return f"{num.cardinal(a)} {names[b][0] if a == 1 else names[b][1]}"
    return f"{num.cardinal(a)} over {num.cardinal(b)}"


def _url(text: str) -> str:
    host = re.sub(r"^(?:https?://)?(?:www\.)?", "", text, flags=re.IGNORECASE).split("/", 1)[0]
    return " dot ".join(part for part in host.split(".") if part)


def _email(text: str) -> str:
    user, _, host = text.partition("@")
    return f"{' dot '.join(p for p in user.split('.') if p)} at {_url(host)}"


def _mixed(text: str) -> str:
    """Symbols and digits inside words: 'COVID-19' -> 'COVID nineteen', 'R&D' -> 'R and D'."""
    for symbol, word in _SYMBOL_WORDS.items():
        if symbol in text:
            text = text.replace(symbol, f" {word} " if word not in (",", "") else " ")
    text = _RE_DIGIT_RUN.sub(lambda m: f" {_number_words(m.group(0))} ", text)
    text = re.sub(r"[^\w\s'.,-]", " ", text)
    return _RE_SPACES.sub(" ", text).strip(" -")


Rule = Callable[[re.Match[str], Context], str]
_RULES: Final[tuple[tuple[re.Pattern[str], Rule], ...]] = (
    (_RE_EMAIL, lambda m, c: _email(m.group(0))),
    (_RE_URL, lambda m, c: _url(m.group(0))),
    (_RE_PERCENT, lambda m, c: f"{num.decimal(m.group(1))} percent"),
    (_RE_ORDINAL, lambda m, c: num.ordinal(int(m.group(1)))),
    (_RE_DECADE, lambda m, c: num.plural(num.year(int(m.group(1))) if len(m.group(1)) == 4
                                         else num.cardinal(int(m.group(1))))),
    (_RE_TIME, lambda m, c: _clock(int(m.group(1)), int(m.group(2)), m.group(4))),
    (_RE_CLOCK, lambda m, c: _clock(int(m.group(1)), 0, m.group(2))),
    (_RE_ISO_DATE, lambda m, c: _date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
     or _mixed(m.group(0))),
    (_RE_SLASH_DATE, lambda m, c: _date(_full_year(m.group(3)), int(m.group(1)), int(m.group(2)))
     or _mixed(m.group(0))),
    (_RE_DEGREES, lambda m, c: f"{num.decimal(m.group(1))} degrees"
     + {"C": " Celsius", "F": " Fahrenheit", "K": " Kelvin"}.get(m.group(2) or "", "")),
    (_RE_RANGE, lambda m, c: f"{_plain_number(m.group(1), c)} to {_plain_number(m.group(2), c)}"),
    (_RE_FRACTION, lambda m, c: _fraction(int(m.group(1)), int(m.group(2)))),
    (_RE_NUMBER, lambda m, c: _plain_number(m.group(0).lstrip("+"), c)),
)


def _unit(m: re.Match[str]) -> str | None:
    unit = _UNITS.get(m.group(2).lower())
    if unit is None:
        return None
    value = m.group(1)
    return f"{_number_words(value)} {unit[0] if value == '1' else unit[1]}"


@dataclass(frozen=True)
class Spoken:
    """What one token's core says. ``suffix`` goes after the next token ("$1.2 million" ->
    "... million dollars"); ``consumed_dot`` means an abbreviation swallowed the token's '.';
    ``may_end`` whether such an abbreviation can still close a sentence ("etc.")."""

    words: str
    suffix: str = ""
    consumed_dot: bool = False
    may_end: bool = True


def normalize_core(core: str, ctx: Context, *, dot: bool = False) -> Spoken:
    """One token's core (punctuation split off; ``dot``: a '.' follows it) -> what to say."""
    low = core.lower()
    if dot and low + "." in _DOTTED:
        return Spoken(_DOTTED[low + "."], consumed_dot=True, may_end=low.replace(".", "") in MAY_END_SENTENCE)
    if low in _DOTTED:
        return Spoken(_DOTTED[low])
    if dot and (abbr := abbreviation(core, ctx)) is not None:
        return Spoken(abbr, consumed_dot=True, may_end=low in MAY_END_SENTENCE and abbr != "Saint")
    if dot and _RE_INITIALISM.fullmatch(core + "."):
        letters = " ".join(_LETTER_NAMES[c.lower()] for c in core if c.isalpha())
        return Spoken(letters, consumed_dot=True, may_end=False)
    if m := _RE_CURRENCY.fullmatch(core):
        words, suffix = _currency(m, ctx)
        return Spoken(words, suffix)
    for pattern, rule in _RULES:
        if m := pattern.fullmatch(core):
            return Spoken(rule(m, ctx))
    if m := _RE_UNIT.fullmatch(core):
        if (unit := _unit(m)) is not None:
            return Spoken(unit)
    if low in ("am", "pm") and ctx.prev[:1].isdigit():
        return Spoken("ay em" if low == "am" else "pee em")
    if core in _SYMBOL_WORDS:
        return Spoken(_SYMBOL_WORDS[core])
    if core.startswith("#") and len(core) > 1:
        rest = core[1:]
        return Spoken(("number " + _number_words(rest)) if rest.isdigit() else ("hashtag " + _mixed(rest)))
    if re.fullmatch(r"[A-Za-z]+(?:['-][A-Za-z]+)*", core):
        return Spoken(core)
    return Spoken(_mixed(core))


def abbreviation(core: str, ctx: Context) -> str | None:
    """'Dr' (followed by '.') -> 'Doctor'; 'St' -> 'Saint' before a name, else 'Street'."""
    low = core.lower()
    if low == "st":
        return "Saint" if ctx.next_raw[:1].isupper() else "Street"
    if low == "no" and ctx.next[:1].isdigit():
        return "number"
    if low in _TITLES:
        return _TITLES[low]
    if low in _ABBREVIATIONS:
        return _ABBREVIATIONS[low]
    if low in _MONTH_ABBR and (ctx.next[:1].isdigit() or not ctx.next):
        return _MONTH_ABBR[low]
    if len(core) == 1 and core.isupper():
        return core  # an initial: "J. R. R. Tolkien"
    return None
