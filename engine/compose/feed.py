"""A render's timeline as it becomes known: fixed (a finished timeline) or streamed (scenes are
appended while the pipeline is still painting and narrating; the render starts on scene 1).

A streamed timeline only grows: each update must keep every scene already sent, so frames made
early stay right. ``final`` marks the last update (all scenes, the narration track, the closing
fade). The compositor child reads updates as JSON lines on stdin (``read_lines``)."""
from __future__ import annotations

import json
import threading
from typing import IO, Callable

from engine.compose.timeline import Timeline
from engine.errors import BadInput, EngineError, RenderFailed


class TimelineFeed:
    """The latest known timeline, and whether it is the final one. Thread-safe."""

    def __init__(self, timeline: Timeline | None = None, *, final: bool = True,
                 expected_seconds: float | None = None) -> None:
        self._cond = threading.Condition()
        self._timeline = timeline
        self._final = final and timeline is not None
        self._error: EngineError | None = None
        self.expected_seconds = expected_seconds

    def put(self, timeline: Timeline, final: bool) -> None:
        with self._cond:
            old = self._timeline
            if self._final:
                raise BadInput("timeline update after the final one")
            if old is not None and (timeline.scenes[:len(old.scenes)] != old.scenes
                                    or (timeline.width, timeline.height, timeline.fps)
                                    != (old.width, old.height, old.fps)):
                raise BadInput("a streamed timeline may only grow by appending scenes")
            self._timeline, self._final = timeline, final
            self._cond.notify_all()

    def fail(self, error: EngineError) -> None:
        with self._cond:
            if not self._final:
                self._error = error
            self._cond.notify_all()

    def current(self, tick: Callable[[], None]) -> tuple[Timeline, bool]:
        """The timeline known now, waiting for the first one (``tick`` every 0.2 s)."""
        return self.newer_than(None, tick)

    def newer_than(self, known: Timeline | None, tick: Callable[[], None]) -> tuple[Timeline, bool]:
        """Wait until the timeline differs from ``known`` (or is final); ``tick`` (cancel checks,
        progress) runs every 0.2 s while waiting. Raises the feed's failure, if any."""
        while True:
            with self._cond:
                if self._error is not None:
                    raise self._error
                t = self._timeline
                if t is not None and (self._final or t is not known):
                    return t, self._final
                self._cond.wait(0.2)
            tick()

    def final(self, tick: Callable[[], None]) -> Timeline:
        t, final = self.current(tick)
        while not final:
            t, final = self.newer_than(t, tick)
        return t


def read_lines(stream: IO[str], feed: TimelineFeed) -> None:
    """Feed ``{"timeline": {...}, "final": bool}`` lines from ``stream`` (the child's stdin) until
    the final one; an end of input before it (the pipeline stopped) fails the feed."""
    try:
        for line in stream:
            if not line.strip():
                continue
            msg = json.loads(line)
            feed.put(Timeline.from_dict(msg["timeline"]), bool(msg.get("final")))
            if msg.get("final"):
                return
    except EngineError as e:
        feed.fail(e)
        return
    except (ValueError, KeyError, TypeError, OSError) as e:
        feed.fail(RenderFailed(f"bad timeline update from the pipeline: {type(e).__name__}: {e}"))
        return
    feed.fail(RenderFailed("the pipeline stopped sending scenes before the last one"))
