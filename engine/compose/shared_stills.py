"""Scene pictures shared by the frame workers: the producer prepares each scene's picture once
(decode, cover-crop, colour conversion, mirrored copies: ~0.12 s of CPU at 1080p), a scene ahead,
into a file in shared memory; every worker maps it read-only. A scene's file goes once every
frame that shows it is done; the folder goes with the render (or, when the render process died,
with its last worker)."""
from __future__ import annotations

import mmap
import os
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Final

from engine.errors import RenderFailed

if TYPE_CHECKING:  # pragma: no cover
    from engine.compose.motion import ScenePlan
    from engine.compose.still import Still
    from engine.compose.timeline import Timeline

_STILL_TIMEOUT: Final = 300.0  # seconds a worker waits for a scene picture the producer is making


def shm_dir() -> str | None:
    """/dev/shm when it is there and writable (memory-backed), else the system's temp folder."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


class SharedStills:
    """Producer side: each scene's prepared picture, once, in a file the workers map."""

    def __init__(self) -> None:
        from engine.compose.cpu import yield_to_encoder

        self.folder = Path(tempfile.mkdtemp(prefix="storyreel-stills-", dir=shm_dir()))
        self._prep = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compose-stills",
                                        initializer=yield_to_encoder)
        self._made: dict[int, Future[None]] = {}
        self._plans: tuple[ScenePlan, ...] = ()
        self._starts: list[float] = []
        self._timeline: Timeline | None = None
        self._settled_until = -1.0  # frames before this time show pictures known to exist

    def update(self, timeline: "Timeline") -> None:
        from engine.compose import motion as mo

        self._timeline = timeline
        self._plans = mo.plan_scenes(timeline)
        self._starts = [p.start for p in self._plans]
        self._settled_until = -1.0

    def ensure(self, n: int) -> None:
        """Make sure the pictures frame ``n`` shows exist (and start on the next scene's)."""
        from engine.compose import motion as mo

        assert self._timeline is not None
        time = n / self._timeline.fps
        if time < self._settled_until:  # the same scenes as the frame before: nothing to do
            return
        visible = [i for i, _ in mo.layers_at(self._plans, time, self._starts)]
        for i in [*visible, visible[-1] + 1]:
            if i < len(self._plans) and i not in self._made:
                self._made[i] = self._prep.submit(self._write, i, self._timeline, self._plans[i])
        for i in visible:
            self._made[i].result()  # raises the picture's own error (BadInput naming the scene)
        # the visible scenes stay the same until one of them ends or the next one fades in
        nxt = visible[-1] + 1
        self._settled_until = min([self._plans[i].visible_to for i in visible]
                                  + ([self._plans[nxt].visible_from] if nxt < len(self._plans) else []))

    def prepare_all(self) -> None:
        assert self._timeline is not None
        for i, plan in enumerate(self._plans):
            if i not in self._made:
                self._made[i] = self._prep.submit(self._write, i, self._timeline, plan)
        for fut in self._made.values():
            fut.result()

    def release_before(self, n: int) -> None:
        """Frame ``n`` and all before it are done: drop the pictures no later frame shows (the
        workers that mapped them keep their pages until they let go)."""
        assert self._timeline is not None
        time = n / self._timeline.fps
        for i in [i for i in self._made if self._plans[i].visible_to < time - 1.0 / self._timeline.fps]:
            fut = self._made.pop(i)
            if fut.done():
                (self.folder / _still_name(i)).unlink(missing_ok=True)

    def close(self) -> None:
        import shutil

        self._prep.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _write(self, i: int, timeline: "Timeline", plan: "ScenePlan") -> None:
        from engine.compose import motion as mo
        from engine.compose.still import prepare_still

        still = prepare_still(timeline.scenes[i].image, timeline.width, timeline.height, plan.amount,
                              mirrored=plan.motion in mo.ZOOMS, what=f"scene {i + 1} image")
        part = self.folder / f".{_still_name(i)}.part"
        with open(part, "wb") as fh:
            for plane in (*still.y, *still.uv):
                fh.write(memoryview(plane.data))  # contiguous planes, in order
        os.replace(part, self.folder / _still_name(i))


def _still_name(i: int) -> str:
    return f"still_{i:04d}"


def load_still(folder: Path, i: int, plan: "ScenePlan", width: int, height: int) -> "Still":
    """Worker side: scene ``i``'s prepared picture, mapped read-only from the producer's file."""
    import numpy as np

    from engine.compose import motion as mo
    from engine.compose.still import Still, canvas_size

    cw, ch = canvas_size(width, height, plan.amount)
    copies = 4 if plan.motion in mo.ZOOMS else 1
    path = folder / _still_name(i)
    waited = 0.0
    while not path.exists():  # the producer makes it a scene ahead; a look-ahead may come first
        if waited > _STILL_TIMEOUT:
            raise RenderFailed(f"scene {i + 1}: the prepared picture did not arrive in {_STILL_TIMEOUT:.0f}s")
        time.sleep(0.005)
        waited += 0.005
    with open(path, "rb") as fh:  # mapped with its page tables filled at once (not a fault a page)
        data = np.frombuffer(mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ,
                                       flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)), np.uint8)
    ysz, uvsz = cw * ch, (cw // 2) * (ch // 2) * 2
    if data.size != copies * (ysz + uvsz):
        raise RenderFailed(f"scene {i + 1}: prepared picture has {data.size} bytes, expected "
                           f"{copies * (ysz + uvsz)}")
    ys = tuple(data[k * ysz:(k + 1) * ysz].reshape(ch, cw) for k in range(copies))
    base = copies * ysz
    uvs = tuple(data[base + k * uvsz:base + (k + 1) * uvsz].reshape(ch // 2, cw // 2, 2)
                for k in range(copies))
    return Still(ys, uvs)
