"""Frame production: for frame n, sample the visible scene(s) into an NV12 buffer, crossfade,
burn in the caption and apply the start/end fade. Scene pictures are prepared one scene ahead on
a helper thread and dropped once their scene is over, so memory does not grow with length."""
from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from engine.compose import motion as mo
from engine.compose.caption_art import CaptionArt, layout_for, render_caption
from engine.compose.captions import highlighted_word
from engine.compose.cpu import yield_to_encoder
from engine.compose.sampler import sample
from engine.compose.shared_captions import ordered_captions
from engine.compose.still import Still, canvas_size, prepare_still
from engine.compose.timeline import Timeline

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NV12:
    """Views of one frame buffer: the luma plane and the interleaved chroma plane."""

    buf: "np.ndarray"
    y: "np.ndarray"
    uv: "np.ndarray"

    @classmethod
    def wrap(cls, buf: "np.ndarray", width: int, height: int) -> "NV12":
        n = width * height
        return cls(buf, buf[:n].reshape(height, width), buf[n:].reshape(height // 2, width // 2, 2))


def frame_bytes(width: int, height: int) -> int:
    return width * height * 3 // 2


class FrameComposer:
    """Produces frames (in order, or every W-th frame in a worker). Not thread-safe; one per
    render or worker. ``close()`` when done.

    ``final=False`` is a streamed timeline that will grow (``extend``): scenes are only ever
    appended, so what is known stays valid, and the closing fade waits for the final timeline.
    A scene's camera path depends on its neighbours' lengths (its crossfades), so the caller asks
    only for frames before the last known scene becomes visible (see produce.py)."""

    def __init__(self, timeline: Timeline, *, final: bool = True,
                 stills: "Callable[[int, mo.ScenePlan], Still] | None" = None,
                 captions: "Callable[[int], CaptionArt | None] | None" = None) -> None:
        import numpy as np

        self._source = stills  # where prepared scene pictures come from (default: made here)
        self._caption_source = captions  # where drawn captions come from, by number (default: drawn here)

        self.w, self.h = timeline.width, timeline.height
        self.frame_dt = 1.0 / timeline.fps
        self._set_timeline(timeline, final)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compose-prep",
                                        initializer=yield_to_encoder)
        self._stills: dict[int, Future[Still]] = {}
        self._scratch = NV12.wrap(np.empty(frame_bytes(self.w, self.h), np.uint8), self.w, self.h)
        self._black = np.empty(frame_bytes(self.w, self.h), np.uint8)
        self._black[: self.w * self.h] = 16
        self._black[self.w * self.h:] = 128
        self._layout = layout_for(self.w, self.h, timeline.language)
        self._cap_i = 0
        self._cap_art: tuple[int, CaptionArt | None] | None = None
        self._static: dict[int, "np.ndarray"] = {}

    def _set_timeline(self, timeline: Timeline, final: bool) -> None:
        self.t = timeline
        self.final = final
        self.plans = mo.plan_scenes(timeline)
        self._starts = [p.start for p in self.plans]
        if final:
            self.fade = mo.fade_length(timeline, self.plans)
        else:  # only the opening fade is drawn before the final timeline: limited by scene 1
            first = self.plans[0]
            self.fade = max(0.0, min(timeline.fade, first.end - first.start - first.xfade_out / 2))
        self._captions = ordered_captions(timeline)

    def extend(self, timeline: Timeline, *, final: bool) -> None:
        """The streamed timeline grew (scenes appended; the earlier ones unchanged)."""
        if (timeline.width, timeline.height, timeline.fps) != (self.w, self.h, self.t.fps) or \
                len(timeline.scenes) < len(self.t.scenes):
            raise ValueError("a streamed timeline may only grow by appending scenes")
        self._set_timeline(timeline, final)

    # -- scene pictures ------------------------------------------------------------------------

    def _still(self, i: int) -> Still:
        fut = self._stills.get(i)
        if fut is None:
            fut = self._stills[i] = self._pool.submit(self._prepare, i)
        nxt = i + 1
        if nxt < len(self.plans) and nxt not in self._stills:
            self._stills[nxt] = self._pool.submit(self._prepare, nxt)
        return fut.result()

    def _prepare(self, i: int) -> Still:
        p = self.plans[i]
        if self._source is not None:
            return self._source(i, p)
        return prepare_still(self.t.scenes[i].image, self.w, self.h, p.amount,
                             mirrored=p.motion in mo.ZOOMS, what=f"scene {i + 1} image")

    def _release_before(self, i: int) -> None:
        for k in [k for k in self._stills if k < i]:
            self._stills.pop(k).cancel()
            self._static.pop(k, None)

    def prepare_first(self) -> None:
        """Decode the first scene now (surfacing a bad image before the encoder starts)."""
        self._still(0)

    # -- frames --------------------------------------------------------------------------------

    def render(self, n: int, out: NV12) -> None:
        """Compose frame ``n`` into ``out``."""
        import cv2

        time = n * self.frame_dt
        layers = mo.layers_at(self.plans, time, self._starts)
        self._release_before(layers[0][0])
        self._draw_scene(layers[0][0], time, out)
        if len(layers) == 2:
            (_, wa), (j, wb) = layers
            self._draw_scene(j, time, self._scratch)
            cv2.addWeighted(out.buf, wa, self._scratch.buf, wb, 0.0, dst=out.buf)
        self._draw_caption(time, out)
        f = mo.fade_factor(time, self.t.duration if self.final else float("inf"), self.fade,
                           self.frame_dt)
        if f < 1.0:
            cv2.addWeighted(out.buf, f, self._black, 1.0 - f, 0.0, dst=out.buf)

    def _draw_scene(self, i: int, time: float, out: NV12) -> None:
        import numpy as np

        p = self.plans[i]
        if p.motion == "static":  # one picture for the whole scene: sample it once
            frame = self._static.get(i)
            if frame is None:
                frame = np.empty(frame_bytes(self.w, self.h), np.uint8)
                self._sample(i, time, NV12.wrap(frame, self.w, self.h))
                self._static[i] = frame
            np.copyto(out.buf, frame)
            return
        self._sample(i, time, out)

    def _sample(self, i: int, time: float, out: NV12) -> None:
        p = self.plans[i]
        still = self._still(i)
        cw, ch = still.width, still.height
        assert (cw, ch) == canvas_size(self.w, self.h, p.amount)
        view = mo.view_for(p.motion, p.amount, mo.progress_at(p, time), self.w, self.h, cw, ch)
        sample(still, view, out.y, out.uv)

    def _draw_caption(self, time: float, out: NV12) -> None:
        caps = self._captions
        while self._cap_i < len(caps) and caps[self._cap_i].end <= time:
            self._cap_i += 1
        if self._cap_i >= len(caps) or caps[self._cap_i].start > time:
            return
        cap = caps[self._cap_i]
        if self._cap_art is None or self._cap_art[0] != self._cap_i:
            source = self._caption_source or self.draw_caption
            self._cap_art = (self._cap_i, source(self._cap_i))
        art = self._cap_art[1]
        if art is not None:
            art.blend(out.y, out.uv, highlighted_word(cap, time))

    def draw_caption(self, i: int) -> CaptionArt | None:
        """Caption ``i`` (shared_captions.ordered_captions numbering) drawn for this frame size."""
        return render_caption(self._captions[i], self.w, self.h, self._layout)

    def close(self) -> None:
        for fut in self._stills.values():
            fut.cancel()
        self._stills.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
