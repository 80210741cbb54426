"""How many words a script should have, how they spread over the scenes, and trimming an
over-long script back into range at sentence boundaries."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from engine.script.speakable import sentences, trim_to_words, word_count

#: The final word count must land within this fraction of the target.
TOLERANCE: Final = 0.10
#: A scene always gets a few words (a very short video with many scenes is floored by this).
MIN_SCENE_WORDS: Final = 3
DEFAULT_WPM: Final = 150.0


@dataclass(frozen=True)
class WordBudget:
    """``target`` words in all, ``scene_targets`` per scene (balanced, summing to ``target``)."""

    target: int
    scene_targets: tuple[int, ...]
    #: minutes x words per minute, before the per-scene floor.
    requested: float

    @property
    def low(self) -> int:
        return math.ceil(self.target * (1.0 - TOLERANCE))

    @property
    def high(self) -> int:
        return math.floor(self.target * (1.0 + TOLERANCE))

    @property
    def floored(self) -> bool:
        """True when the scene count, not the duration, set the target."""
        return self.target > round(self.requested)

    def accepts(self, words: int) -> bool:
        return self.low <= words <= self.high


def word_budget(
    num_scenes: int, duration_minutes: float, words_per_minute: float = DEFAULT_WPM
) -> WordBudget:
    if num_scenes < 1:
        raise ValueError(f"num_scenes must be at least 1, got {num_scenes}")
    if duration_minutes <= 0 or words_per_minute <= 0:
        raise ValueError("duration and words per minute must be positive")
    requested = duration_minutes * words_per_minute
    target = max(round(requested), MIN_SCENE_WORDS * num_scenes)
    base, extra = divmod(target, num_scenes)
    scene_targets = tuple(base + (1 if i < extra else 0) for i in range(num_scenes))
    return WordBudget(target=target, scene_targets=scene_targets, requested=requested)


def trim_to_budget(narrations: list[str], budget: WordBudget) -> list[str]:
    """Bring a script that is over ``budget.high`` down to about its target: drop the last
    sentence of whichever scene is furthest over its share, while that keeps the total at or above
    ``budget.low``; then, if still over, cut inside the most over-long scene. Scenes keep at least
    one sentence. Scripts already in range come back unchanged."""
    out = list(narrations)
    total = sum(word_count(t) for t in out)
    if total <= budget.high:
        return out
    for _ in range(sum(len(sentences(t)) for t in out) + 1):
        if total <= budget.target:
            break
        excess = [word_count(t) - share for t, share in zip(out, budget.scene_targets)]
        order = sorted(range(len(out)), key=lambda i: excess[i], reverse=True)
        changed = False
        for i in order:
            parts = sentences(out[i])
            if len(parts) < 2 or excess[i] <= 0:
                continue
            last = word_count(parts[-1])
            if total - last < budget.low or word_count(out[i]) - last < 0.6 * budget.scene_targets[i]:
                continue  # keep the total in range and the scenes balanced
            out[i] = " ".join(parts[:-1])
            total -= last
            changed = True
            break
        if not changed:
            break
    while total > budget.high:
        i = max(range(len(out)), key=lambda j: word_count(out[j]) - budget.scene_targets[j])
        before = word_count(out[i])
        keep = max(1, before - (total - budget.target))
        if keep >= before:
            break
        out[i] = trim_to_words(out[i], keep, exact=True)
        total += word_count(out[i]) - before
    return out


#: A scene written again on its own (a storyboard's "regenerate narration") lands within this
#: fraction of its share of the script (a share is small, so the range is wider than the script's).
SCENE_TOLERANCE: Final = 0.15


@dataclass(frozen=True)
class SceneBudget:
    """One scene's share of its script's words (characters for Chinese and Japanese) and the range
    a rewrite of that scene must land in."""

    target: int

    @property
    def low(self) -> int:
        return max(1, math.floor(self.target * (1.0 - SCENE_TOLERANCE)))

    @property
    def high(self) -> int:
        return max(self.low + 1, math.ceil(self.target * (1.0 + SCENE_TOLERANCE)))

    def accepts(self, words: int) -> bool:
        return self.low <= words <= self.high


def scene_budget(
    num_scenes: int, duration_minutes: float, words_per_minute: float, index: int
) -> SceneBudget:
    """Scene ``index``'s share of a ``num_scenes``-scene script of ``duration_minutes``."""
    budget = word_budget(num_scenes, duration_minutes, words_per_minute)
    if not 0 <= index < num_scenes:
        raise ValueError(f"scene {index + 1} is not one of {num_scenes}")
    return SceneBudget(budget.scene_targets[index])
