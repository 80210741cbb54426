"""How a script job is split into model answers (one answer, or an outline and batches of scenes
that fit the context), the context size and token counts that follow, and progress reported by
tokens generated against the expected count."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Final, Sequence

from engine.contracts import Progress
from engine.script import llama_prompts as prompts
from engine.script import llama_schema as shapes
from engine.script.length import WordBudget

#: Narration words asked for in one answer; long scripts are written in several.
CALL_WORDS: Final = 900
#: Scenes per answer at most (long answers drift), and scenes a one-answer script may have.
BATCH_SCENES: Final = 10
#: Expected tokens per narration word, and the most we allow before calling an answer runaway.
TOKENS_PER_WORD: Final = 1.4
MAX_TOKENS_PER_WORD: Final = 2.5
#: Tokens of JSON and image prompt around each scene's narration (expected, most).
SCENE_OVERHEAD: Final = (60, 160)
INSTRUCTION_TOKENS: Final = 1400
#: Tokens for a title and character sheet, at most.
SHEET_TOKENS: Final = 600


@dataclass(frozen=True)
class CallPlan:
    """How a job is split into answers, and the context and token counts that follows."""

    single: bool
    batches: tuple[tuple[int, int], ...]  # [start, stop) scene ranges, written after the outline
    first_words: tuple[int, ...]  # words asked for per scene in the first pass
    n_ctx: int
    expected_tokens: float


def answer_tokens(words: int, scenes: int) -> int:
    """The most tokens an answer with ``words`` narration words over ``scenes`` scenes may take."""
    return int(words * shapes.OVERRUN * MAX_TOKENS_PER_WORD + scenes * SCENE_OVERHEAD[1] + SHEET_TOKENS)


def plan_calls(budget: WordBudget, *, call_words: int = CALL_WORDS, n_ctx: int | None = None) -> CallPlan:
    """The answers a job needs and the context that holds them: the plan's own size (2048-32768),
    or ``n_ctx`` (the manifest's) when that is at least as large, so a kept model is not reloaded
    for every job and its memory use is the one the manifest states."""
    plan = _plan(budget, call_words)
    if n_ctx and n_ctx >= plan.n_ctx:
        plan = replace(plan, n_ctx=n_ctx)
    return plan


def _plan(budget: WordBudget, call_words: int) -> CallPlan:
    first = tuple(min(w, call_words) for w in budget.scene_targets)
    n = len(first)
    single = sum(first) <= call_words and n <= BATCH_SCENES
    batches: list[tuple[int, int]] = []
    if not single:
        start = 0
        while start < n:
            stop, words = start, 0
            while (
                stop < n
                and stop - start < BATCH_SCENES
                and (stop == start or words + first[stop] <= call_words)
            ):
                words += first[stop]
                stop += 1
            batches.append((start, stop))
            start = stop
    groups = [(0, n)] if single else batches
    first_pass = max(answer_tokens(sum(first[a:b]), b - a) for a, b in groups)
    more = (
        answer_tokens(min(call_words, budget.target), min(n, BATCH_SCENES))
        + min(n, BATCH_SCENES) * prompts.TAIL_WORDS * 2
    )
    outline = 0 if single else n * 120 + SHEET_TOKENS  # written once, then shown (shorter) to every batch
    needed = INSTRUCTION_TOKENS + outline + max(first_pass, more) + prompts.ECHO_CHARS // 2
    ctx = min(32768, max(2048, int(math.ceil(needed / 512.0)) * 512))
    expected = budget.target * TOKENS_PER_WORD + n * SCENE_OVERHEAD[0] + (0 if single else n * 45 + 100)
    return CallPlan(single, tuple(batches), first, ctx, expected)


@dataclass
class TokenMeter:
    """Progress by tokens generated against the expected count; cancellation between tokens."""

    progress: Progress
    expected: float
    done: int = 0
    label: Callable[[str], str] = field(default=lambda text: "Writing the script")
    _answer: list[str] = field(default_factory=list)

    def start(self, label: Callable[[str], str]) -> None:
        self.label, self._answer = label, []

    def piece(self, text: str) -> None:
        self.progress.check_cancelled()
        self.done += 1
        self._answer.append(text)
        if self.done % 16 == 0:  # the label joins the answer so far: not on every token
            fraction = 0.05 + 0.9 * min(1.0, self.done / max(1.0, self.expected))
            self.progress(fraction, self.label("".join(self._answer)))

    def expect_more(self, tokens: float) -> None:
        self.expected += tokens


def groups(items: Sequence[tuple[int, int]], call_words: int) -> list[list[tuple[int, int]]]:
    groups: list[list[tuple[int, int]]] = [[]]
    for item in items:
        if groups[-1] and (
            sum(d for _, d in groups[-1]) + item[1] > call_words or len(groups[-1]) >= BATCH_SCENES
        ):
            groups.append([])
        groups[-1].append(item)
    return groups


def scene_label(first: int, total: int) -> Callable[[str], str]:
    def label(answer: str) -> str:
        k = min(total, first + max(1, answer.count('"narration"')))
        return f"Writing scene {k} of {total}"

    return label
