"""Text preparation, assembled: narration text -> sentences of (caption token, spoken words).

    >>> [s.text for s in prepare_text("Dr. Lee paid $5 in the 1990s. It was 3.5% more!")]
    ['Doctor Lee paid five dollars in the nineteen nineties.', 'It was three point five percent more!']

Sentences are split on . ! ? (not after "Dr." or inside "3.5"), and a sentence longer than a
model handles is cut into chunks at commas, then conjunctions, then spaces.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from engine.narration.markup import PARAGRAPH_MARK, clean_markup
from engine.narration.normalize import Context, normalize_core, split_token

_CONJUNCTIONS: Final = frozenset({"and", "but", "or", "so", "because", "which", "while", "when", "where",
                                  "although", "though", "until", "before", "after", "then", "that", "who"})
_SENTENCE_PUNCT: Final = re.compile(r"[.!?]")


@dataclass(frozen=True)
class Token:
    """One caption word and what the voice says for it ("" only for tokens merged away)."""

    display: str
    spoken: str

    @property
    def spoken_words(self) -> tuple[str, ...]:
        return tuple(self.spoken.split())


@dataclass(frozen=True)
class Sentence:
    """A unit of synthesis. ``continues``: a chunk of a longer sentence (a short pause follows);
    ``paragraph_end``: a paragraph break follows (a longer pause)."""

    tokens: tuple[Token, ...]
    continues: bool = False
    paragraph_end: bool = False
    #: between tokens when spoken: "" for Chinese and Japanese (written without spaces)
    joiner: str = " "

    @property
    def text(self) -> str:
        return self.joiner.join(t.spoken for t in self.tokens if t.spoken)

    @property
    def spoken_words(self) -> tuple[str, ...]:
        return tuple(w for t in self.tokens for w in t.spoken_words)


def _bare(core: str) -> str:
    return core.strip("\"'()[]{}.,;:!?").lower()


def _spoken_trail(trail: str, ends_sentence: bool) -> str:
    """Keep the punctuation that shapes prosody: , . ! ? ('...' inside a sentence -> ',')."""
    marks = "".join(c for c in trail if c in ".,;:!?").replace(";", ",").replace(":", ",")
    if "?" in marks:
        return "?"
    if "!" in marks:
        return "!"
    if "." in marks:
        return "." if ends_sentence else ","
    return "," if "," in marks else ""


def _has_words(text: str) -> bool:
    return any(c.isalnum() for c in text)


def _sentences_from_tokens(raw: list[str]) -> list[Sentence]:
    parts = [split_token(t) for t in raw]
    sentences: list[Sentence] = []
    current: list[Token] = []
    suffix = ""
    for i, (lead, core, trail) in enumerate(parts):
        if core == PARAGRAPH_MARK:
            if current:
                sentences.append(Sentence(tuple(current), paragraph_end=True))
                current = []
            elif sentences:
                last = sentences[-1]
                sentences[-1] = Sentence(last.tokens, last.continues, paragraph_end=True)
            continue
        nxt = next((p for p in parts[i + 1:] if p[1] != PARAGRAPH_MARK), ("", "", ""))
        ctx = Context(prev=_bare(parts[i - 1][1]) if i else "", next=_bare(nxt[1]), next_raw=nxt[1])
        spoken = normalize_core(core, ctx, dot=trail.startswith("."))
        display = lead + core + trail
        next_starts_lower = nxt[1][:1].islower() or nxt[1][:1] in ",;:"
        at_paragraph_end = i + 1 < len(parts) and parts[i + 1][1] == PARAGRAPH_MARK
        if spoken.consumed_dot:
            trail = trail[1:]
        ends = bool(_SENTENCE_PUNCT.search(trail)) and (
            not nxt[1] or not next_starts_lower or at_paragraph_end)
        if spoken.consumed_dot and not trail:
            ends = not nxt[1] or at_paragraph_end or (spoken.may_end and nxt[1][:1].isupper())
            trail = "." if ends else ""
        words = " ".join(w for w in (spoken.words, suffix) if w)
        suffix = spoken.suffix
        punct = _spoken_trail(trail, ends)
        if _has_words(words):
            current.append(Token(display, words + punct))
        elif current and (punct or words.strip() in (",", ".")):
            # a lone symbol ("-", "/") or punctuation: a pause on the previous word
            prev = current[-1]
            mark = punct or words.strip()
            if not prev.spoken.endswith((",", ".", "!", "?")):
                current[-1] = Token(prev.display, prev.spoken + mark)
        if ends and current:
            sentences.append(Sentence(tuple(current)))
            current = []
    if current:
        sentences.append(Sentence(tuple(current)))
    return [_with_final_stop(s) for s in sentences]


def _with_final_stop(sentence: Sentence) -> Sentence:
    last = sentence.tokens[-1]
    spoken = last.spoken.rstrip(",")
    if not spoken.endswith((".", "!", "?")):
        spoken += "."
    tokens = sentence.tokens[:-1] + (Token(last.display, spoken),)
    return Sentence(tokens, sentence.continues, sentence.paragraph_end, sentence.joiner)


def _cut_point(tokens: tuple[Token, ...], max_chars: int) -> int:
    """Index after which to cut so the first part fits in max_chars (at least one token)."""
    lengths = [len(t.spoken) + 1 for t in tokens]
    fits = 0
    total = 0
    for i, n in enumerate(lengths):
        total += n
        if total > max_chars:
            break
        fits = i + 1
    fits = max(1, fits)
    window = range(fits - 1, max(0, fits // 3) - 1, -1)
    for i in window:  # a comma, latest first, not too early
        if tokens[i].spoken.endswith((",", "，", "、", "،")):
            return i + 1
    for i in window:  # before a conjunction
        if i + 1 < len(tokens) and _bare(tokens[i + 1].spoken) in _CONJUNCTIONS:
            return i + 1
    return fits


def chunk(sentence: Sentence, max_chars: int) -> list[Sentence]:
    """Split a sentence that is too long for one synthesis call."""
    out: list[Sentence] = []
    rest = sentence.tokens
    while len(sentence.joiner.join(t.spoken for t in rest)) > max_chars and len(rest) > 1:
        cut = _cut_point(rest, max_chars)
        head = rest[:cut]
        last = head[-1]
        comma = "，" if not sentence.joiner else ","
        head = head[:-1] + (Token(last.display, last.spoken.rstrip(",.，。、") + comma),)
        out.append(Sentence(head, continues=True, joiner=sentence.joiner))
        rest = rest[cut:]
    out.append(Sentence(rest, continues=False, paragraph_end=sentence.paragraph_end, joiner=sentence.joiner))
    return out


def prepare_text(text: str, *, max_chars: int = 400, language: str = "en") -> tuple[Sentence, ...]:
    """Markup stripped, words normalised for speech, split into sentences, long ones chunked.
    ``language``: an engine.languages code; English has its own reader, the others
    engine.narration.sentences_intl."""
    if language != "en":
        from engine.languages import language as language_row
        from engine.narration.sentences_intl import prepare_text_intl

        return prepare_text_intl(text, language_row(language), max_chars=max_chars)
    raw = clean_markup(text).split()
    out: list[Sentence] = []
    for sentence in _sentences_from_tokens(raw):
        out.extend(chunk(sentence, max_chars))
    return tuple(out)


def normalize_text(text: str, language: str = "en") -> str:
    """The whole text as the voice will say it (for tests and debugging)."""
    sentences = prepare_text(text, language=language)
    return (sentences[0].joiner if sentences else " ").join(s.text for s in sentences)
