"""What a voice says for one caption token in a language other than English: numbers, ordinals,
years, percentages, currency and times read out by num2words in that language; symbols and
common abbreviations from text_rules.json. Languages num2words does not know (Chinese, Hindi)
keep their digits, which the voice's own front end (espeak-ng in Piper, XTTS's cleaners) reads.

English keeps its own, richer reader (engine.narration.normalize)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Mapping

from engine.languages import Language

_RULES_FILE: Final = Path(__file__).with_name("text_rules.json")
#: Languages whose years are said differently from the number (de "neunzehnhundertneunzig").
_YEAR_FORM: Final = frozenset({"de", "nl"})
_CURRENCY_SYMBOLS: Final = MappingProxyType({"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR",
                                             "₩": "KRW", "₽": "RUB", "₺": "TRY", "R$": "BRL", "zł": "PLN",
                                             "Kč": "CZK"})
_CURRENCY: Final = "|".join(re.escape(s) for s in sorted(_CURRENCY_SYMBOLS, key=len, reverse=True))
#: Eastern Arabic and Persian digits, full-width digits -> ASCII (captions keep what was written).
_DIGITS: Final = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９٫٬％",
                               "012345678901234567890123456789.,%")
_NUM: Final = r"\d+(?:[.,  ]\d+)*"
_RE_AMOUNT_BEFORE: Final = re.compile(rf"(-)?({_CURRENCY})\s?({_NUM})")
_RE_AMOUNT_AFTER: Final = re.compile(rf"(-)?({_NUM})\s?({_CURRENCY})")
_RE_PERCENT_AFTER: Final = re.compile(rf"([+-]?{_NUM})\s?%")
_RE_PERCENT_BEFORE: Final = re.compile(rf"%\s?({_NUM})")
_RE_TIME: Final = re.compile(r"(\d{1,2})[:h](\d{2})")
_RE_ISO_DATE: Final = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_RE_DATE: Final = re.compile(r"(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2})")
_RE_NUMBER: Final = re.compile(rf"[+-]?{_NUM}")
_RE_DIGIT_RUN: Final = re.compile(_NUM)
_RE_UNIT: Final = re.compile(rf"([+-]?{_NUM})\s?(km/h|°C|km|cm|mm|kg|ml|min|m|g|l|h|s)(?![A-Za-z])")


@dataclass(frozen=True)
class Rules:
    """One language's reading rules (text_rules.json)."""

    decimal: str
    group: str
    ordinal: tuple[str, ...]
    symbols: Mapping[str, str]
    currency: Mapping[str, str]
    abbreviations: Mapping[str, str]
    percent_first: bool = False
    tight: bool = False  # written without spaces: words join without one
    decimal_word: str = ""
    currency_native: tuple[str, ...] = ()
    months: tuple[str, ...] = ()
    date: str = "{d} {m} {y}"
    time: str = "{h} {m}"
    hour: str = "{h}"
    day_one: str = ""  # French "le premier mai"
    symbol_codes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # zh ¥: yuan
    units: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # "kg" -> "kilos"


@lru_cache(maxsize=1)
def _all_rules() -> Mapping[str, Rules]:
    data: dict[str, Any] = json.loads(_RULES_FILE.read_text(encoding="utf-8"))
    out: dict[str, Rules] = {}
    for code, d in data.items():
        if code.startswith("_"):
            continue
        out[code] = Rules(
            d["decimal"], d["group"], tuple(d.get("ordinal", ())),
            MappingProxyType(dict(d.get("symbols", {}))),
            MappingProxyType(dict(d.get("currency", {}))), MappingProxyType(dict(d.get("abbreviations", {}))),
            bool(d.get("percent_first", False)), bool(d.get("tight", False)), str(d.get("decimal_word", "")),
            tuple(d.get("currency_native", ())), tuple(d.get("months", ())), d.get("date", "{d} {m} {y}"),
            d.get("time", "{h} {m}"), d.get("hour", "{h}"), d.get("day_one", ""),
            MappingProxyType(dict(d.get("symbol_codes", {}))), MappingProxyType(dict(d.get("units", {}))))
    return MappingProxyType(out)


def rules_for(code: str) -> Rules:
    return _all_rules()[code]


def parse_number(text: str, rules: Rules) -> tuple[int, str] | None:
    """'1.234,5' (de) -> (1234, '5'); '3.5' (an English-style decimal in a comma language) ->
    (3, '5'); None when ``text`` is not a number."""
    t = text.translate(_DIGITS).replace("\u00a0", " ").replace("\u202f", " ")
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("+-")
    if not re.fullmatch(_NUM, t):
        return None
    other = "." if rules.decimal == "," else ","
    whole, frac = t, ""
    if rules.decimal in t:
        whole, _, frac = t.rpartition(rules.decimal)
    elif other in t and not re.fullmatch(rf"\d{{1,3}}(?:{re.escape(other)}\d{{3}})+", t):
        whole, _, frac = t.rpartition(other)  # "3.5" in Spanish text: a decimal, not 35
    whole = re.sub(r"[.,  ]", "", whole)
    if not whole.isdigit() or (frac and not frac.isdigit()):
        return None
    return sign * int(whole), frac


def _n2w(value: int | float, lang: Language, to: str = "cardinal", **kw: Any) -> str | None:
    if lang.num2words is None:
        return None
    from num2words import num2words

    try:
        return str(num2words(value, lang=lang.num2words, to=to, **kw))
    except (NotImplementedError, ValueError, TypeError, KeyError, OverflowError):
        return None


def say_number(text: str, lang: Language, *, year_ok: bool = True) -> str:
    """A written number as words in ``lang`` (digits kept where num2words cannot say them)."""
    rules = rules_for(lang.code)
    parsed = parse_number(text, rules)
    if parsed is None:
        return text
    whole, frac = parsed
    plain = re.sub(r"\D", "", text.translate(_DIGITS))
    if len(plain) >= 2 and plain.startswith("0") and not frac:  # a code or phone number: digit by digit
        words = [_n2w(int(c), lang) for c in plain]
        return (" " if not rules.tight else "").join(w for w in words if w) if all(words) else text
    four_digits = re.fullmatch(r"\d{4}", text) is not None
    if year_ok and lang.code in _YEAR_FORM and not frac and 1100 <= whole <= 2099 and four_digits:
        said = _n2w(whole, lang, to="year")
        if said:
            return said
    if frac:
        if rules.decimal_word:  # num2words' own decimals are wrong here (Arabic)
            a, b, zero = _n2w(whole, lang), _n2w(int(frac), lang), _n2w(0, lang)
            if a and b and zero:
                zeros = " ".join([zero] * (len(frac) - len(frac.lstrip("0"))))
                return " ".join(p for p in (a, rules.decimal_word, zeros, b) if p)
            return text
        said = _n2w(float(f"{whole}.{frac}"), lang)
        return said or text
    said = _n2w(whole, lang)
    return said if said else text


def _join(rules: Rules, *parts: str) -> str:
    return ("" if rules.tight else " ").join(p for p in parts if p)


def _percent(number: str, lang: Language, rules: Rules) -> str:
    said, word = say_number(number, lang, year_ok=False), rules.symbols.get("%", "%")
    return _join(rules, word, said) if rules.percent_first else _join(rules, said, word)


def _currency_name(amount: int, code: str, lang: Language) -> str | None:
    """num2words' own word for ``amount`` of ``code`` ("euros", "долларов"): a whole amount is
    said without "and zero cents"."""
    from num2words import CONVERTER_CLASSES

    converter = CONVERTER_CLASSES.get(lang.num2words or "")
    forms = getattr(converter, "CURRENCY_FORMS", {}).get(code)
    if converter is None or not forms:
        return None
    try:
        return str(converter.pluralize(amount, forms[0]))
    except (NotImplementedError, ValueError, TypeError, IndexError):
        return None


def _currency(minus: bool, amount: str, symbol: str, lang: Language, rules: Rules) -> str:
    code = rules.symbol_codes.get(symbol) or _CURRENCY_SYMBOLS[symbol]
    parsed = parse_number(amount, rules)
    if parsed is None:
        return amount
    whole, frac = parsed
    if lang.num2words and not frac.strip("0") and (name := _currency_name(whole, code, lang)):
        return _join(rules, say_number(("-" if minus else "") + str(whole), lang, year_ok=False), name)
    if lang.num2words and (lang.code != "ar" or code in rules.currency_native):
        value = float(f"{whole}.{frac or 0}")  # a float: num2words reads an int amount as cents
        said = _n2w(-value if minus else value, lang, to="currency", currency=code)
        if said:
            return said
    name = rules.currency.get(code, code)
    return _join(rules, say_number(("-" if minus else "") + amount, lang, year_ok=False), name)


def _ordinal(core: str, lang: Language, rules: Rules) -> str | None:
    for mark in sorted(rules.ordinal, key=len, reverse=True):
        if core.endswith(mark) and core[: -len(mark)].isdigit():
            n = int(core[: -len(mark)])
            said = _n2w(n, lang, to="ordinal")
            if said is None:
                return None
            if mark in ("ª", ".ª", "a") and said.endswith("o"):
                said = said[:-1] + "a"  # feminine: primera, segunda
            return said
    return None


def _date(year: int, month: int, day: int, lang: Language, rules: Rules) -> str | None:
    """A date the way the language says it ("15 de marzo de dos mil veinticuatro"); None when
    it is not a date."""
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if year < 100:
        year += 1900 if year > 30 else 2000
    said_day = rules.day_one if day == 1 and rules.day_one else say_number(str(day), lang)
    return rules.date.format(
        d=said_day, d_ord=_n2w(day, lang, to="ordinal") or said_day,
        month=rules.months[month - 1] if rules.months else say_number(str(month), lang),
        m=say_number(str(month), lang), y=say_number(str(year), lang))


def _time(hour: int, minute: int, lang: Language, rules: Rules) -> str | None:
    if hour > 24 or minute > 59:
        return None
    h = say_number(str(hour), lang)
    return rules.time.format(h=h, m=say_number(str(minute), lang)) if minute else rules.hour.format(h=h)


def _digits_inside(text: str, lang: Language, rules: Rules) -> str:
    """Amounts and digits inside a word ('価格は¥500だった', 'COVID-19', '3D') said, the rest kept."""
    pad = "" if rules.tight else " "

    def date(m: re.Match[str], ymd: tuple[int, int, int]) -> str:
        return pad + (_date(int(m.group(ymd[0])), int(m.group(ymd[1])), int(m.group(ymd[2])), lang, rules)
                      or m.group(0)) + pad

    text = _RE_ISO_DATE.sub(lambda m: date(m, (1, 2, 3)), text)
    text = _RE_DATE.sub(lambda m: date(m, (3, 2, 1)), text)
    text = _RE_TIME.sub(lambda m: pad + (_time(int(m.group(1)), int(m.group(2)), lang, rules) or m.group(0))
                        + pad, text)
    text = _RE_AMOUNT_BEFORE.sub(
        lambda m: pad + _currency(bool(m.group(1)), m.group(3), m.group(2), lang, rules) + pad, text)
    text = _RE_AMOUNT_AFTER.sub(
        lambda m: pad + _currency(bool(m.group(1)), m.group(2), m.group(3), lang, rules) + pad, text)
    text = _RE_PERCENT_AFTER.sub(lambda m: pad + _percent(m.group(1), lang, rules) + pad, text)
    text = _RE_UNIT.sub(lambda m: pad + _join(rules, say_number(m.group(1), lang, year_ok=False),
                                              rules.units[m.group(2)]) + pad
                        if m.group(2) in rules.units else m.group(0), text)
    text = _RE_DIGIT_RUN.sub(lambda m: pad + say_number(m.group(0), lang) + pad, text)
    text = re.sub(r"\s*-\s+|\s+-\s*", " ", text)  # "COVID-19" -> "COVID diecinueve"
    return re.sub(r"\s+", " ", text).strip()


def say_core(core: str, lang: Language, *, dot: bool = False) -> tuple[str, bool]:
    """One token's core (punctuation split off) -> (what the voice says, whether an abbreviation
    swallowed the '.' that follows it). ``dot``: a '.' follows the core."""
    rules = rules_for(lang.code)
    low = core.lower()
    if dot and low in rules.abbreviations:
        return rules.abbreviations[low], True
    if dot and low.rstrip(".") in rules.abbreviations and "." in low:
        return rules.abbreviations[low.rstrip(".")], True
    if core in rules.symbols:
        return rules.symbols[core], False
    text = core.translate(_DIGITS)
    if not any(c.isdigit() for c in text):
        return core, False
    if m := _RE_AMOUNT_BEFORE.fullmatch(text):
        return _currency(bool(m.group(1)), m.group(3), m.group(2), lang, rules), False
    if m := _RE_AMOUNT_AFTER.fullmatch(text):
        return _currency(bool(m.group(1)), m.group(2), m.group(3), lang, rules), False
    if m := (_RE_PERCENT_AFTER.fullmatch(text) or _RE_PERCENT_BEFORE.fullmatch(text)):
        return _percent(m.group(1), lang, rules), False
    if dot and "." in rules.ordinal and text.isdigit() and len(text) <= 3:
        ordinal = _n2w(int(text), lang, to="ordinal")  # German "3." -> "dritte" (a sentence end is rare)
        if ordinal:
            return ordinal, True
    if m := _RE_ISO_DATE.fullmatch(text):
        if (said := _date(int(m.group(1)), int(m.group(2)), int(m.group(3)), lang, rules)) is not None:
            return said, False
    if m := _RE_DATE.fullmatch(text):  # day first, as in every language here
        if (said := _date(int(m.group(3)), int(m.group(2)), int(m.group(1)), lang, rules)) is not None:
            return said, False
    if (said_ord := _ordinal(text, lang, rules)) is not None:
        return said_ord, False
    if m := _RE_TIME.fullmatch(text):
        if (said := _time(int(m.group(1)), int(m.group(2)), lang, rules)) is not None:
            return said, False
    if _RE_NUMBER.fullmatch(text):
        return say_number(text, lang), False
    if (m := _RE_UNIT.fullmatch(text)) and m.group(2) in rules.units:
        return _join(rules, say_number(m.group(1), lang, year_ok=False), rules.units[m.group(2)]), False
    return _digits_inside(text, lang, rules), False
