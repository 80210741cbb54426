"""Caption chunking: narration words with absolute times -> short captions (2-5 words) that
break at sentence ends, clause punctuation and pauses, so each fits in at most two lines.

Chinese and Japanese "words" are the phrase tokens of the narration (BudouX character groups):
they join without spaces, and a caption holds up to twice as many of them in half as many
characters (full-width characters are about twice as wide)."""
from __future__ import annotations

from typing import Final, Sequence

from engine.compose.timeline import Caption, CaptionWord
from engine.languages import language as language_row

_CLOSERS: Final = "\"'”’」』）)»"
_SENTENCE_MARKS: Final = (".", "!", "?", "…", "。", "！", "？", "؟", "।")
_SENTENCE_END: Final = tuple(m + c for m in _SENTENCE_MARKS for c in ("", *_CLOSERS))
_CLAUSE_END: Final = (",", ";", ":", "—", "–", "、", "，", "；", "：", "،", "؛")


def chunk_captions(words: Sequence[CaptionWord], *, max_words: int = 5, max_chars: int = 32,
                   max_gap: float = 0.6, linger: float = 0.3, min_words: int = 2,
                   language: str = "en") -> tuple[Caption, ...]:
    """Group timed words into captions.

    Words are first cut into phrases at sentence ends and at pauses longer than ``max_gap``
    seconds, and at clause punctuation when both sides keep ``min_words``; each phrase is then
    split into the fewest near-equal chunks of at most ``max_words`` words and ``max_chars``
    characters (11 words -> 4 + 4 + 3, not 5 + 5 + 1). A lone word is merged into a neighbour when
    that stays within the limits. Each caption stays up ``linger`` seconds after its last word,
    never past the next caption's start."""
    if max_words < 1:
        raise ValueError("max_words must be at least 1")
    lang = language_row(language)
    joiner = lang.joiner
    if not lang.spaced:
        max_words, max_chars = max_words * 2, max(4, max_chars // 2)
    clean = [CaptionWord(w.text.strip(), float(w.start), float(max(w.end, w.start)))
             for w in words if w.text and w.text.strip()]
    clean.sort(key=lambda w: w.start)
    phrases: list[list[CaptionWord]] = []
    for w in clean:
        if (not phrases or phrases[-1][-1].text.endswith(_SENTENCE_END)
                or w.start - phrases[-1][-1].end > max_gap):
            phrases.append([])
        phrases[-1].append(w)
    groups: list[list[CaptionWord]] = []
    for ph in phrases:
        for piece in _split_clauses(ph, min_words):
            groups.extend(_balanced(piece, max_words, max_chars, joiner))
    groups = _merge_orphans(groups, max_words, max_chars, max_gap, joiner)
    out: list[Caption] = []
    for i, g in enumerate(groups):
        start, end = g[0].start, g[-1].end + linger
        if i + 1 < len(groups):
            end = min(end, groups[i + 1][0].start)
        end = max(end, start + 0.05)
        out.append(Caption(joiner.join(w.text for w in g), start, end, tuple(g)))
    return tuple(out)


def _split_clauses(ws: list[CaptionWord], min_words: int) -> list[list[CaptionWord]]:
    out, cur = [], []
    for k, w in enumerate(ws):
        cur.append(w)
        rest = len(ws) - k - 1
        if w.text.endswith(_CLAUSE_END) and len(cur) >= min_words and rest >= min_words:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def _chars(ws: Sequence[CaptionWord], joiner: str = " ") -> int:
    return sum(len(w.text) + len(joiner) for w in ws) - len(joiner)


def _balanced(ws: list[CaptionWord], max_words: int, max_chars: int,
              joiner: str = " ") -> list[list[CaptionWord]]:
    n = len(ws)
    for k in range(max(1, -(-n // max_words)), n + 1):
        base, extra = divmod(n, k)
        sizes = [base + (1 if i < extra else 0) for i in range(k)]
        parts, i = [], 0
        for sz in sizes:
            parts.append(ws[i:i + sz])
            i += sz
        if all(_chars(p, joiner) <= max_chars or len(p) == 1 for p in parts):
            return parts
    return [[w] for w in ws]


def _merge_orphans(groups: list[list[CaptionWord]], max_words: int, max_chars: int,
                   max_gap: float, joiner: str = " ") -> list[list[CaptionWord]]:
    def fits(ws: list[CaptionWord]) -> bool:
        return len(ws) <= max_words and _chars(ws, joiner) <= max_chars

    i = 0
    while i < len(groups):
        g = groups[i]
        if len(g) == 1 and len(groups) > 1:
            w = g[0]
            prev = groups[i - 1] if i > 0 else None
            nxt = groups[i + 1] if i + 1 < len(groups) else None
            if (prev is not None and not prev[-1].text.endswith(_SENTENCE_END)
                    and w.start - prev[-1].end <= max_gap and fits(prev + g)):
                prev.append(w)
                del groups[i]
                continue
            if (nxt is not None and not w.text.endswith(_SENTENCE_END + _CLAUSE_END)
                    and nxt[0].start - w.end <= max_gap and fits(g + nxt)):
                groups[i + 1] = g + nxt
                del groups[i]
                continue
        i += 1
    return groups


def highlighted_word(caption: Caption, time: float) -> int:
    """Index of the word being spoken at ``time`` (the last one that has started), or -1."""
    idx = -1
    for i, w in enumerate(caption.words):
        if w.start <= time:
            idx = i
        else:
            break
    return idx
