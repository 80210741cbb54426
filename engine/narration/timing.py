"""When each word is said, and how long to pause: pacing profiles, word spans from a model's own
phoneme durations (or, failing that, from the audio's energy), and words-per-minute estimates."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from engine.contracts import Word
from engine.narration.audio import voiced_frames
from engine.narration.sentences import Sentence
from engine.spec import Pacing

Span = tuple[float, float]
#: A word as the model said it: (start s, end s, number of phoneme/character symbols in it).
Group = tuple[float, float, int]


@dataclass(frozen=True)
class PacingProfile:
    """Speaking rate (x normal) and pauses (seconds) for one ``Pacing``."""

    rate: float
    sentence_pause: float
    chunk_pause: float
    paragraph_pause: float
    scene_lead_in: float
    scene_tail: float

    def pause_after(self, sentence: Sentence) -> float:
        if sentence.continues:
            return self.chunk_pause
        if sentence.paragraph_end:
            return self.paragraph_pause
        text = sentence.text
        pause = self.sentence_pause
        if text.endswith(("?", "!")):
            pause *= 1.15
        if len(sentence.spoken_words) <= 4:  # a short punchy line: let it land
            pause *= 1.2
        return pause


PACING: dict[Pacing, PacingProfile] = {
    Pacing.SLOW: PacingProfile(0.88, 0.65, 0.22, 1.0, 0.25, 1.1),
    Pacing.MODERATE: PacingProfile(1.0, 0.45, 0.16, 0.8, 0.2, 0.8),
    Pacing.DYNAMIC: PacingProfile(1.07, 0.32, 0.12, 0.6, 0.15, 0.6),
    Pacing.FAST: PacingProfile(1.16, 0.22, 0.08, 0.45, 0.1, 0.45),
}

_VOWEL_GROUPS = re.compile(r"[aeiouy]+")


def syllables(word: str) -> int:
    """A rough syllable count (for weighting a word's share of a stretch of speech)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 1
    count = len(_VOWEL_GROUPS.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee")) and count > 1:
        count -= 1
    return max(1, count)


def _weight(word: str) -> float:
    letters = sum(c.isalnum() for c in word)
    return 0.6 * syllables(word) + 0.1 * letters + 0.2


def groups_from_units(kinds: Sequence[bool | None], samples: Sequence[int], sample_rate: int) -> list[Group]:
    """Word groups from a model's per-symbol sample counts. ``kinds``: True for a symbol inside
    a word, False for a separator (space, punctuation, start/end), None for a neutral symbol
    (padding/blank), which belongs to a word only between two word symbols."""
    resolved: list[bool] = []
    for i, kind in enumerate(kinds):
        if kind is None:
            before = next((k for k in reversed(kinds[:i]) if k is not None), False)
            after = next((k for k in kinds[i + 1:] if k is not None), False)
            kind = bool(before and after)
        resolved.append(kind)
    groups: list[Group] = []
    t = 0
    start: int | None = None
    last_end = 0
    size = 0
    for kind, raw_kind, n in zip(resolved, kinds, samples):
        if kind and start is None:
            start, size = t, 0
        if not kind and start is not None:
            groups.append((start / sample_rate, last_end / sample_rate, size))
            start = None
        t += int(n)
        if kind:
            last_end = t
            size += raw_kind is not None
    if start is not None:
        groups.append((start / sample_rate, last_end / sample_rate, size))
    return groups


def _partition(long: Sequence[float], short: Sequence[float]) -> list[tuple[int, int]]:
    """Split ``long`` into len(short) contiguous runs whose shares best match ``short``'s shares.
    Returns (start, end) index pairs into ``long``."""
    n, m = len(long), len(short)
    total_l, total_s = float(sum(long)) or 1.0, float(sum(short)) or 1.0
    cum = np.concatenate([[0.0], np.cumsum(long)]) / total_l
    target = np.concatenate([[0.0], np.cumsum(short)]) / total_s
    inf = float("inf")
    cost = np.full((m + 1, n + 1), inf)
    back = np.zeros((m + 1, n + 1), dtype=int)
    cost[0, 0] = 0.0
    for j in range(1, m + 1):
        for i in range(j, n - (m - j) + 1):
            best, arg = inf, 0
            for k in range(j - 1, i):
                c = cost[j - 1, k] + (cum[i] - target[j]) ** 2
                if c < best:
                    best, arg = c, k
            cost[j, i], back[j, i] = best, arg
    runs: list[tuple[int, int]] = []
    i = n
    for j in range(m, 0, -1):
        k = int(back[j, i])
        runs.append((k, i))
        i = k
    return runs[::-1]


def _split_span(span: Span, weights: Sequence[float]) -> list[Span]:
    start, end = span
    total = float(sum(weights)) or 1.0
    out: list[Span] = []
    t = start
    for w in weights:
        nxt = t + (end - start) * w / total
        out.append((t, nxt))
        t = nxt
    return out


def _letters(word: str) -> float:
    return float(max(1, sum(c.isalnum() for c in word)))


def align_words(words: Sequence[str], groups: Sequence[Group]) -> list[Span]:
    """One span per spoken word, from the model's word groups, which may merge words ("of the"
    said as one) or split one ("nineteen-ninety"): matched by letters vs. symbols per group."""
    if not words:
        return []
    if not groups:
        return [(0.0, 0.0)] * len(words)
    if len(groups) == len(words):
        return [(g[0], g[1]) for g in groups]
    letters = [_letters(w) for w in words]
    sizes = [float(max(1, g[2])) for g in groups]
    if len(words) > len(groups):  # share each merged group out by syllable weight
        out: list[Span] = []
        for g, (a, b) in zip(groups, _partition(letters, sizes)):
            out.extend(_split_span((g[0], g[1]), [_weight(w) for w in words[a:b]]))
        return out
    return [(groups[a][0], groups[b - 1][1]) for a, b in _partition(sizes, letters)]


def spans_from_energy(audio: np.ndarray, sample_rate: int, words: Sequence[str]) -> list[Span]:
    """Fallback when a model gives no durations: spread words over the voiced time only, by
    syllable weight, so pauses inside the sentence fall between words."""
    voiced = voiced_frames(audio, sample_rate, floor_db=-35.0)
    frame = 0.010
    if not voiced.any():
        total = len(audio) / sample_rate
        return _split_span((0.0, total), [_weight(w) for w in words])
    # fill gaps shorter than 60 ms (stops and plosives are not pauses)
    idx = np.flatnonzero(voiced)
    filled = voiced.copy()
    for a, b in zip(idx[:-1], idx[1:]):
        if 1 < b - a <= 6:
            filled[a:b] = True
    times = np.flatnonzero(filled) * frame  # start time of each voiced frame
    weights = np.array([_weight(w) for w in words])
    edges = np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum() * len(times)
    spans: list[Span] = []
    for a, b in zip(edges[:-1], edges[1:]):
        ia = min(len(times) - 1, int(round(a)))
        ib = min(len(times) - 1, max(ia, int(round(b)) - 1))
        spans.append((float(times[ia]), float(times[ib] + frame)))
    return spans


def token_words(sentence: Sentence, spans: Sequence[Span], offset: float) -> list[Word]:
    """Caption words (one per token with speech) from per-spoken-word spans."""
    out: list[Word] = []
    i = 0
    for token in sentence.tokens:
        n = len(token.spoken_words)
        if n == 0:
            continue
        own = spans[i: i + n]
        i += n
        if not own:
            continue
        out.append(Word(token.display, round(offset + own[0][0], 3), round(offset + own[-1][1], 3)))
    return out


def words_per_minute(words_per_second: float, profile: PacingProfile, *, speed: float,
                     num_scenes: int, duration_s: float, words_per_sentence: float = 14.0) -> float:
    """Narration words per minute, pauses included, for a voice speaking ``words_per_second`` at
    normal speed: what the script stage should write to fill ``duration_s``."""
    rate = words_per_second * speed * profile.rate
    per_sentence = words_per_sentence / rate + profile.sentence_pause
    effective = words_per_sentence / per_sentence  # words per second over sentences
    overhead = num_scenes * (profile.scene_lead_in + profile.scene_tail)
    share = max(0.3, 1.0 - overhead / max(duration_s, 1.0))
    return 60.0 * effective * share
