"""Text preparation for a language other than English: sentences split by pysbd (with fix-ups
for its abbreviation and quote slips, and our own splitter for languages pysbd lacks), tokens
read out by engine.narration.normalize_intl, and Chinese and Japanese cut into phrase tokens by
BudouX, so captions and the spoken-word highlight work per character group."""
from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Final

from engine.languages import Language
from engine.narration import normalize
from engine.narration.markup import PARAGRAPH_MARK, clean_markup
from engine.narration.normalize_intl import rules_for, say_core
from engine.narration.sentences import Sentence, Token, chunk

if TYPE_CHECKING:
    import budoux

LEADING: Final = "\"'([{¡¿«„“‘「『（【《〈"
TRAILING: Final = "\"')]}.,;:!?…»”’」』）】》〉。、，！？：；؟،؛।"
#: Marks that end a sentence, in every script we speak.
SENTENCE_END: Final = ".!?…。！？؟।"
#: What the voice keeps of a token's trailing punctuation (prosody), per mark.
_SPOKEN_MARK: Final = {".": ".", "!": "!", "?": "?", ",": ",", ";": ",", ":": ",", "…": ",",
                       "。": "。", "！": "！", "？": "？", "、": "、", "，": "，", "：": "，", "；": "，",
                       "؟": "؟", "،": "،", "؛": "،", "।": "।"}
_CLOSERS: Final = "\"')]}»”’」』）】》〉"
_REGEX_SPLIT: Final = re.compile(r"(?<=[.!?…؟।])[\"'»”’)\]]*\s+")
#: A currency or percent sign or a unit standing apart from its number ("1.250 €", "25 %", "3,5 kg").
_SIGN: Final = frozenset({"$", "€", "£", "¥", "₹", "₩", "₽", "₺", "R$", "zł", "Kč", "%", "km/h", "°C", "km",
                          "cm", "mm", "kg", "ml", "min", "m", "g", "l", "h", "s"})


def split_token(token: str) -> tuple[str, str, str]:
    """'¿«Hola»?' -> ('¿«', 'Hola', '»?'); a token of punctuation only is all core."""
    return normalize.split_token(token, leading=LEADING, trailing=TRAILING)


@functools.lru_cache(maxsize=None)
def _budoux_parser(model: str) -> budoux.Parser:
    """BudouX's parser for ``model`` ("ja" or "zh-hans"), loaded once: each load reads and
    parses the model's JSON."""
    import budoux

    if model == "ja":
        return budoux.load_default_japanese_parser()
    return budoux.load_default_simplified_chinese_parser()


def _ends_with_abbreviation(segment: str, lang: Language) -> bool:
    words = segment.rstrip().split()
    if not words or not words[-1].endswith("."):
        return False
    last = words[-1].lstrip(LEADING).rstrip(".").lower()
    rules = rules_for(lang.code)
    if last.isdigit() and len(last) <= 3 and "." in rules.ordinal:
        return True  # German "am 3. Mai", Polish "3. maja"
    return last in rules.abbreviations or (len(last) == 1 and last.isalpha() and lang.spaced)


def split_sentences(text: str, lang: Language) -> list[str]:
    """One paragraph -> its sentences, in ``lang``."""
    text = text.strip()
    if not text:
        return []
    if lang.pysbd:
        import pysbd

        pieces = [p.strip() for p in pysbd.Segmenter(language=lang.pysbd, clean=False).segment(text)]
    else:
        pieces = [text]
    # pysbd misses some ends (Arabic ". " and "؟"); our split finds them, the merge below undoes
    # the splits after abbreviations and before lower-case words or closing quotes
    pieces = [q.strip() for p in pieces for q in _REGEX_SPLIT.split(p)]
    out: list[str] = []
    for piece in (p for p in pieces if p):
        starts_lower = piece[:1].islower() and lang.script in ("latin", "cyrillic", "greek")
        if out and (_ends_with_abbreviation(out[-1], lang) or piece[0] in _CLOSERS or starts_lower
                    or not out[-1].rstrip(_CLOSERS).endswith(tuple(SENTENCE_END))):
            out[-1] += (lang.joiner if piece[0] not in _CLOSERS else "") + piece
        else:
            out.append(piece)
    return out


def _with_signs(words: list[str], spaced_groups: bool = False) -> list[str]:
    """A sign standing apart joins its number: ['1.250', '€'] -> ['1.250 €']; with
    ``spaced_groups`` (French, Polish, Russian and Czech write 25 000, and the SI way is allowed
    everywhere) so do digit groups: ['25', '000'] -> ['25 000']."""
    out: list[str] = []
    for word in words:
        lead, core, _ = split_token(word)
        if (spaced_groups and out and re.fullmatch(r"\d{3}", core) and not lead
                and re.fullmatch(r"\d{1,3}(?: \d{3})*", out[-1])):
            out[-1] += " " + word
        elif out and core in _SIGN and any(c.isdigit() for c in out[-1]):
            out[-1] += " " + word
        elif out and split_token(out[-1])[1] in _SIGN and word[:1].isdigit():
            out[-1] += " " + word
        else:
            out.append(word)
    return out


def _tokens(sentence: str, lang: Language) -> list[str]:
    words = _with_signs(sentence.split(), spaced_groups=True)  # 25 000: the SI way, in every language
    if lang.spaced or not lang.budoux:
        return words
    parser = _budoux_parser(lang.budoux)
    out: list[str] = []
    for word in words:
        for phrase in parser.parse(word):
            numeric = out and (
                re.search(r"[\d./:,¥$€£-]$", out[-1]) and re.match(r"[\d./:,%°A-Za-z-]", phrase)
                or re.search(r"\d[A-Za-z]+$", out[-1]) and phrase.startswith("/"))
            if numeric:  # a date, time or amount is never cut ("2024-03" + "-15")
                out[-1] += phrase
            elif out and all(c in TRAILING or c in _CLOSERS for c in phrase):
                out[-1] += phrase  # a phrase of punctuation only stays with the one before
            elif out and out[-1] and all(c in LEADING for c in out[-1]):
                out[-1] += phrase
            else:
                out.append(phrase)
    return out


def _spoken_trail(trail: str) -> str:
    marks = [_SPOKEN_MARK[c] for c in trail if c in _SPOKEN_MARK]
    for strongest in ("?", "？", "؟", "!", "！", ".", "。", "।"):
        if strongest in marks:
            return strongest
    return marks[0] if marks else ""


def sentence_tokens(sentence: str, lang: Language) -> tuple[Token, ...]:
    tokens: list[Token] = []
    for raw in _tokens(sentence, lang):
        lead, core, trail = split_token(raw)
        words, consumed = say_core(core, lang, dot=trail.startswith("."))
        if consumed:
            trail = trail[1:]
        spoken = words + _spoken_trail(trail)
        if any(c.isalnum() for c in words):
            tokens.append(Token(raw, spoken))
        elif tokens and _spoken_trail(trail + core):
            prev = tokens[-1]
            if not prev.spoken.endswith(tuple(_SPOKEN_MARK.values())):
                tokens[-1] = Token(prev.display, prev.spoken + _spoken_trail(trail + core))
    return tuple(tokens)


def _final_stop(tokens: tuple[Token, ...], lang: Language) -> tuple[Token, ...]:
    last = tokens[-1]
    spoken = last.spoken.rstrip(",，、،")
    if not spoken.endswith(tuple(SENTENCE_END)):
        spoken += "。" if not lang.spaced else ("।" if lang.code == "hi" else ".")
    return tokens[:-1] + (Token(last.display, spoken),)


def prepare_text_intl(text: str, lang: Language, *, max_chars: int) -> tuple[Sentence, ...]:
    """Markup stripped, sentences split in ``lang``, words read out, long sentences chunked."""
    cleaned = clean_markup(text)
    out: list[Sentence] = []
    paragraphs = [p for p in cleaned.split(PARAGRAPH_MARK)]
    for pi, paragraph in enumerate(paragraphs):
        sentences = [sentence_tokens(s, lang) for s in split_sentences(paragraph, lang)]
        sentences = [s for s in sentences if s]
        for si, tokens in enumerate(sentences):
            end = si == len(sentences) - 1 and pi < len(paragraphs) - 1
            whole = Sentence(_final_stop(tokens, lang), paragraph_end=end, joiner=lang.joiner)
            out.extend(chunk(whole, max_chars))
    return tuple(out)
