"""Stage ranges, the progress callback each stage receives, and cooperative cancellation."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Final

from engine.errors import JobCancelled

#: Overall percent owned by each stage, as the frontend expects.
STAGE_RANGES: Final[dict[str, tuple[float, float]]] = {
    "script": (0.0, 25.0),
    "images": (25.0, 50.0),
    "narration": (50.0, 75.0),
    "video": (75.0, 100.0),
}
STAGES: Final[tuple[str, ...]] = tuple(STAGE_RANGES)

#: sink(stage, overall_percent, substatus) — how a stage's report reaches the job record.
ProgressSink = Callable[[str, float, str], None]
#: note(line) — appends one line to the job's details.
DetailSink = Callable[[str], None]


def _ignore_progress(stage: str, percent: float, message: str) -> None:
    return None


def _ignore_detail(line: str) -> None:
    return None


@dataclass(frozen=True)
class StageProgress:
    """What a stage gets to report with: ``progress(fraction, message)``, ``note(line)``,
    ``check_cancelled()``. Fractions are of the stage (0..1); the overall number is derived here,
    so a stage can never step outside its quarter."""

    stage: str
    sink: ProgressSink = _ignore_progress
    detail: DetailSink = _ignore_detail
    cancel: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.stage not in STAGE_RANGES:
            raise ValueError(f"unknown stage {self.stage!r}; expected one of {', '.join(STAGES)}")

    def __call__(self, fraction: float, message: str) -> None:
        lo, hi = STAGE_RANGES[self.stage]
        fraction = min(1.0, max(0.0, float(fraction)))
        self.sink(self.stage, lo + (hi - lo) * fraction, message)

    def note(self, line: str) -> None:
        self.detail(line)

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise JobCancelled()

    def sub(self, start: float, end: float) -> "SubProgress":
        """A view mapping 0..1 onto [start, end] of this stage (e.g. one scene of many)."""
        return SubProgress(self, start, end)


@dataclass(frozen=True)
class SubProgress:
    """A slice of a StageProgress; same interface, so it can be handed to a helper."""

    parent: StageProgress
    start: float
    end: float

    def __call__(self, fraction: float, message: str) -> None:
        fraction = min(1.0, max(0.0, float(fraction)))
        self.parent(self.start + (self.end - self.start) * fraction, message)

    def note(self, line: str) -> None:
        self.parent.note(line)

    def check_cancelled(self) -> None:
        self.parent.check_cancelled()

    @property
    def cancel(self) -> threading.Event:
        return self.parent.cancel

    def sub(self, start: float, end: float) -> "SubProgress":
        """A slice of this slice (0..1 onto [start, end] of it)."""
        span = self.end - self.start
        return SubProgress(self.parent, self.start + span * start, self.start + span * end)


def null_progress(stage: str = "script") -> StageProgress:
    """A StageProgress that reports nowhere; for CLIs and tests."""
    return StageProgress(stage)
