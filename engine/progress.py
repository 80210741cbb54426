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


#: reporter.progress(stage, overall_percent, substatus) — where the combined number goes.
OverallSink = Callable[[str, float, str], None]


class OverallProgress:
    """The one number and line the frontend reads while stages overlap.

    Overall progress is the weighted completion of the stages: each stage contributes its own
    share of its range (a quarter each), so the number moves whichever stage advances and never
    goes backwards (a stage's fraction only counts when it is higher than before). The reported
    ``stage`` is the stage whose range holds that number (the earliest unfinished one when it
    sits on a boundary), so the contract's "each report lies within its stage's range" holds;
    ``substatus`` names every stage running, in pipeline order ("Creating scene 6 of 10 ·
    Narrating scene 8 of 10 · Rendering video 23%"). Thread-safe; reports at most every
    ``interval`` seconds except when a stage starts or finishes."""

    def __init__(self, sink: OverallSink, interval: float = 0.2) -> None:
        self._sink = sink
        self._interval = interval
        self._lock = threading.Lock()
        self._fraction = {s: 0.0 for s in STAGES}
        self._message: dict[str, str] = {}
        self._running: set[str] = set()
        self._done: set[str] = set()
        self._last_at = float("-inf")
        self._last_percent = 0.0

    def sink(self, stage: str, percent: float, message: str) -> None:
        """A StageProgress sink: ``percent`` is the overall number of that stage alone."""
        lo, hi = STAGE_RANGES[stage]
        self.update(stage, (percent - lo) / (hi - lo), message)

    def update(self, stage: str, fraction: float, message: str) -> None:
        import time

        with self._lock:
            first = stage not in self._running and stage not in self._done
            if stage not in self._done:
                self._running.add(stage)
            self._fraction[stage] = max(self._fraction[stage], min(1.0, max(0.0, fraction)))
            self._message[stage] = message
            now = time.monotonic()
            if first or now - self._last_at >= self._interval:
                self._emit(now)

    def finish(self, stage: str, message: str | None = None) -> None:
        """``stage`` is complete: its whole share counts and it leaves the substatus."""
        import time

        with self._lock:
            self._fraction[stage] = 1.0
            self._running.discard(stage)
            self._done.add(stage)
            if message is not None:
                self._message[stage] = message
            self._emit(time.monotonic(), fallback=stage)

    @property
    def percent(self) -> float:
        with self._lock:
            return self._overall()

    def _overall(self) -> float:
        return sum((hi - lo) * self._fraction[s] for s, (lo, hi) in STAGE_RANGES.items())

    def _emit(self, now: float, fallback: str | None = None) -> None:
        percent = max(self._last_percent, self._overall())
        self._last_percent, self._last_at = percent, now
        label = next((s for s in STAGES if s not in self._done and
                      STAGE_RANGES[s][0] <= percent <= STAGE_RANGES[s][1]), None)
        if label is None:
            label = next(s for s in STAGES if STAGE_RANGES[s][0] <= percent <= STAGE_RANGES[s][1])
        running = [s for s in STAGES if s in self._running]
        shown = running or ([fallback] if fallback else [])
        text = " · ".join(self._message.get(s, "") for s in shown if self._message.get(s))
        self._sink(label, percent, text)
