"""The frame loop: frames 0, 1, 2, ... into the FrameWriter, in order, as far as the timeline
known so far allows (a streamed timeline grows while this runs; see feed.py).

Two producers behind one loop: the single in-process frame thread (small machines: nothing to
hand over), and a FramePool of worker processes (workers.py) that compose frames on every core
while this thread only hands out slots and submits finished frames in order.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Callable, Protocol

from engine.compose.feed import TimelineFeed
from engine.compose.frames import NV12, FrameComposer
from engine.compose.timeline import Timeline

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from engine.compose.encoder import FrameWriter
    from engine.compose.workers import FramePool


class Producer(Protocol):
    def update(self, timeline: Timeline, final: bool) -> None: ...

    def frame(self, n: int) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class InProcess:
    """Frames composed on the calling thread (the render's low-priority frame thread)."""

    def __init__(self, writer: "FrameWriter", timeline: Timeline, final: bool) -> None:
        self.writer = writer
        self.w, self.h = timeline.width, timeline.height
        self.composer = FrameComposer(timeline, final=final)
        self.composer.prepare_first()

    def update(self, timeline: Timeline, final: bool) -> None:
        self.composer.extend(timeline, final=final)

    def frame(self, n: int) -> None:
        buf = self.writer.acquire()
        self.composer.render(n, NV12.wrap(buf, self.w, self.h))
        self.writer.submit(buf)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.composer.close()


class Pooled:
    """Frames composed by worker processes into the writer's own (shared) buffers."""

    def __init__(self, writer: "FrameWriter", pool: "FramePool") -> None:
        self.writer = writer
        self.pool = pool
        self._held: deque["np.ndarray"] = deque()
        # leave the writer two slots (one being written, one held by the pipe), so it never waits
        self._limit = max(1, len(pool.buffers) - 2)

    def update(self, timeline: Timeline, final: bool) -> None:
        self.pool.update(timeline, final)

    def frame(self, n: int) -> None:
        buf = self.writer.acquire()
        self.pool.request(n, self.pool.slot(buf))
        self._held.append(buf)
        while self.pool.pending and (self.pool.pending >= self._limit or self.pool.ready()):
            self._submit_oldest()

    def flush(self) -> None:
        while self.pool.pending:
            self._submit_oldest()

    def _submit_oldest(self) -> None:
        self.pool.wait()
        self.writer.submit(self._held.popleft())

    def close(self) -> None:
        self.pool.close()


def produce(feed: TimelineFeed, make: Callable[[Timeline, bool], Producer],
            tick: Callable[[], None]) -> int:
    """Compose every frame of the feed's timeline in order; returns the frame count. ``tick``
    (progress, cancellation) runs before every frame and while waiting for scenes. Until the
    timeline is final, a frame is made only before the last known scene appears (its camera path
    and crossfades depend on the length of the scene after it), so nothing made early changes
    when scenes are appended: the render runs one scene behind the scenes that are ready."""
    timeline, final = feed.current(tick)
    producer = make(timeline, final)
    try:
        n = 0
        dt = 1.0 / timeline.fps
        while True:
            if final and n >= timeline.frame_count:
                break
            if not final and n * dt + timeline.transition / 2 + 2 * dt > _last_start(timeline):
                timeline, final = feed.newer_than(timeline, tick)
                producer.update(timeline, final)
                continue
            tick()
            producer.frame(n)
            n += 1
        producer.flush()
        return n
    finally:
        producer.close()


def _last_start(timeline: Timeline) -> float:
    return timeline.duration - timeline.scenes[-1].duration
