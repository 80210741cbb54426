"""Frames on every core: worker processes that compose different frames at once into shared
memory, while one writer feeds ffmpeg in order.

Worker k of W composes frames k, k+W, k+2W, ... with its own FrameComposer. The scene pictures
(decoded, cover-cropped, converted and mirrored once per scene: ~0.1 s of CPU) are prepared once,
by the producer on its own thread a scene ahead, into files in shared memory that every worker
maps read-only (SharedStills): no worker repeats that work, and the pages exist once. A scene's
file goes as soon as every frame that shows it is done.
A frame's pixels go straight into one of a fixed set of frame slots in a shared memory file, the
same slots the FrameWriter hands to ffmpeg, so nothing is copied between processes; only small
messages travel: a frame request is 8 packed bytes (frame, slot) out and 4 (the frame) back;
only the rare control messages (a grown timeline, an error) are pickled. Each frame goes to the
worker with the fewest frames outstanding, so one that was held up (a caption drawn, a scene's
picture mapped, the producer's own turn on its core) gets less until it has caught up; each
worker answers its own requests in order, so the producer waits for each frame on the pipe of
the worker it went to and submits frames to the writer in order.

Processes rather than threads: most of a frame's time is OpenCV and numpy, which release the
interpreter lock, but not all of it, and the rest serialises threads. Processes scale with cores.
The workers run at the compositor's low priority (cpu.py) so the encoder keeps the cores first.
A worker that dies (or a parent that dies) ends the render: the workers read end-of-file on their
request pipe and exit, and the producer raises RenderFailed.
"""
from __future__ import annotations

import logging
import mmap
import os
import pickle
import struct
import subprocess
import sys
import tempfile
from collections import deque
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from engine.compose.cpu import usable_cores
from engine.compose.shared_captions import CaptionPlan, load_caption, write_caption
from engine.compose.shared_stills import SharedStills, load_still, shm_dir
from engine.errors import BadInput, RenderFailed, signal_death

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from engine.compose.caption_art import CaptionArt
    from engine.compose.timeline import Timeline

log = logging.getLogger(__name__)

#: Environment override of the worker count (an integer >= 1).
ENV_WORKERS: Final = "STORYREEL_FRAME_WORKERS"
_START_TIMEOUT: Final = 60.0  # seconds for a worker to import numpy/OpenCV and attach
_ROOT: Final = Path(__file__).resolve().parents[2]
_REQUEST: Final = struct.Struct("<ii")  # frame, slot: producer -> worker
_DONE: Final = struct.Struct("<i")  # frame: worker -> producer
_STOP: Final = b"stop"


def frame_workers(codec: str, cores: int | None = None) -> int:
    """How many frame workers a render gets: sized to the cores the encoder leaves.

    NVENC encodes on the GPU and needs about one core to feed it, so the rest make frames (up to
    8, which keep it fed at 1080p; ~6 ms of CPU per frame per worker). libx264 itself keeps
    every core busy and costs several times what a frame does, so one worker per four cores is
    plenty; on a small machine (<= 3 cores) the render keeps its single in-process frame thread,
    which costs nothing to hand frames over. ``$STORYREEL_FRAME_WORKERS`` overrides."""
    env = os.environ.get(ENV_WORKERS, "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            log.warning("ignoring %s=%r (not a whole number)", ENV_WORKERS, env)
    if cores is None:
        cores = usable_cores()
    if codec == "h264_nvenc":
        return max(1, min(8, cores - 2))
    return max(1, min(4, cores // 4))


class FramePool:
    """``workers`` processes composing frames into ``slots`` shared frame buffers.

    Use: ``start(timeline, final)``; ``buffers`` are the slots (hand them to the FrameWriter);
    ``request(n, slot)`` then ``wait(n)`` in request order; ``update(timeline, final)`` when a
    streamed timeline grows; ``close()`` always."""

    def __init__(self, width: int, height: int, workers: int, slots: int) -> None:
        import numpy as np

        from engine.compose.frames import frame_bytes

        self.workers = workers
        self.frame_size = frame_bytes(width, height)
        self.size = (width, height)
        fd, name = tempfile.mkstemp(prefix="storyreel-frames-", dir=shm_dir())
        self._path: Path | None = Path(name)
        try:
            os.ftruncate(fd, self.frame_size * slots)
            self._map = mmap.mmap(fd, self.frame_size * slots)
        finally:
            os.close(fd)
        flat = np.frombuffer(self._map, np.uint8)
        self.buffers: list[np.ndarray] = [flat[i * self.frame_size:(i + 1) * self.frame_size]
                                          for i in range(slots)]
        self._slot_of = {id(b): i for i, b in enumerate(self.buffers)}
        self._procs: list[subprocess.Popen[bytes]] = []
        self._tasks: list[Connection] = []
        self._done: list[Connection] = []
        self._pending: deque[tuple[int, int]] = deque()  # (frame, worker), oldest first
        self._load: list[int] = []  # frames requested of each worker and not yet collected
        self._closed = False
        self._stills = SharedStills()
        self._captions = CaptionPlan(self._stills.folder)  # their drawings go in the same folder

    def slot(self, buf: "np.ndarray") -> int:
        return self._slot_of[id(buf)]

    def start(self, timeline: "Timeline", final: bool) -> None:
        """Start the workers (a fresh interpreter each, ``python -m engine.compose.workers``:
        never a fork of a process that runs threads, and no re-import of the caller's script)."""
        assert self._path is not None
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(_ROOT), *filter(None, [env.get("PYTHONPATH")])])
        for k in range(self.workers):
            task_r, task_w = os.pipe()
            done_r, done_w = os.pipe()
            argv = [sys.executable, "-m", "engine.compose.workers", str(task_r), str(done_w), str(self._path),
                    str(len(self.buffers)), str(self.frame_size), str(self.size[0]), str(self.size[1]),
                    str(self._stills.folder)]
            try:
                p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, pass_fds=(task_r, done_w), env=env)
            except OSError as e:
                for fd in (task_r, task_w, done_r, done_w):
                    os.close(fd)
                raise RenderFailed(f"could not start a frame worker ({sys.executable}): "
                                   f"{e.strerror or e}") from e
            os.close(task_r)
            os.close(done_w)
            self._procs.append(p)
            self._tasks.append(Connection(task_w, readable=False))
            self._done.append(Connection(done_r, writable=False))
            self._load.append(0)
        for k in range(self.workers):  # attached: the file's name is no longer needed
            self._receive(k, "ready", timeout=_START_TIMEOUT)
        self._unlink()
        self.update(timeline, final)

    def update(self, timeline: "Timeline", final: bool) -> None:
        """Send every worker the timeline as known now (before any request that needs it)."""
        self._stills.update(timeline)
        self._captions.update(timeline)
        msg = pickle.dumps(("timeline", timeline.to_dict(), final))
        for k in range(self.workers):
            self._send(k, msg)

    def request(self, n: int, slot: int) -> None:
        self._stills.ensure(n)
        for i in self._captions.due(n):  # each caption drawn once, by one worker, ahead of need
            self._send(self._least_loaded(), pickle.dumps(("caption", i)))
        k = self._least_loaded()
        self._send(k, _REQUEST.pack(n, slot))
        self._load[k] += 1
        self._pending.append((n, k))

    def prepare_all(self) -> None:
        """Prepare every scene's picture now (benchmarks: time the frames alone)."""
        self._stills.prepare_all()

    def ready(self) -> bool:
        """Whether the oldest requested frame is done (without waiting)."""
        return bool(self._pending) and self._done[self._pending[0][1]].poll()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def wait(self) -> int:
        """Wait for the oldest requested frame; return its number."""
        n, k = self._pending.popleft()
        self._load[k] -= 1
        got = self._receive(k, "frame")
        if got != n:
            raise RenderFailed(f"frame worker {k} returned frame {got} for {n}")
        self._stills.release_before(n)
        self._captions.release_before(n)
        return n

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for conn in self._tasks:
            try:
                conn.send_bytes(_STOP)
            except OSError:
                pass
        for p in self._procs:
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for conn in (*self._tasks, *self._done):
            conn.close()
        self._procs.clear()
        self._unlink()
        self._stills.close()
        # The mapping itself goes when the last buffer view does (the writer may still hold some).

    # -- internals ---------------------------------------------------------------------------

    def _send(self, k: int, msg: bytes) -> None:
        try:
            self._tasks[k].send_bytes(msg)
        except OSError as e:
            raise self._dead(k) from e

    def _receive(self, k: int, kind: str, timeout: float | None = None) -> Any:
        conn = self._done[k]
        while not conn.poll(0.25 if timeout is None else timeout):
            # any worker gone ends the render: this one may be waiting on a caption that one drew
            for j, p in enumerate(self._procs):
                if p.poll() is not None:
                    raise self._dead(j)
            if timeout is not None:
                raise RenderFailed(f"frame worker {k} did not start within {timeout:.0f}s")
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError) as e:
            raise self._dead(k) from e
        if len(data) == _DONE.size:
            if kind != "frame":
                raise RenderFailed(f"frame worker {k}: expected {kind!r}, got a frame")
            return _DONE.unpack(data)[0]
        msg = pickle.loads(data)
        if msg[0] == "error":
            raise _reported(msg)
        if msg[0] != kind:
            raise RenderFailed(f"frame worker {k}: expected {kind!r}, got {msg[0]!r}")
        return msg[1]

    def _dead(self, k: int) -> RenderFailed | BadInput:
        """Why worker ``k`` stopped: the error it reported, if it did, else how it ended."""
        p = self._procs[k]
        try:
            rc = p.wait(timeout=1)
        except subprocess.TimeoutExpired:
            rc = None
        try:
            while self._done[k].poll():  # replies it sent before the error come first
                data = self._done[k].recv_bytes()
                msg = pickle.loads(data) if len(data) != _DONE.size else None
                if msg is not None and msg[0] == "error":
                    return _reported(msg)
        except (EOFError, OSError, pickle.UnpicklingError):
            pass
        return RenderFailed(f"frame worker {k} {signal_death(rc) or f'stopped unexpectedly (exit {rc})'}")

    def _least_loaded(self) -> int:
        return min(range(self.workers), key=self._load.__getitem__)

    def _unlink(self) -> None:
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None


def _reported(msg: tuple[str, str, str]) -> RenderFailed | BadInput:
    """The error a worker reported, ``("error", kind, text)``, as the render's own."""
    _, kind, text = msg
    return (BadInput if kind == "BadInput" else RenderFailed)(text)


def _worker_main(tasks: Connection, done: Connection, path: str, slots: int, frame_size: int,
                 size: tuple[int, int], stills: Path) -> None:
    """A frame worker: attach the slots, then compose each requested frame into its slot. A
    SIGTERM or SIGINT (the render's own cancel) ends it quietly; the producer sees it gone."""
    import numpy as np

    from engine.compose.cpu import single_threaded_cv, yield_to_encoder
    from engine.compose.frames import NV12, FrameComposer
    from engine.compose.timeline import Timeline
    from engine.errors import EngineError

    yield_to_encoder()
    w, h = size
    with open(path, "r+b") as fh:
        mapping = mmap.mmap(fh.fileno(), frame_size * slots)
    flat = np.frombuffer(mapping, np.uint8)
    frames = [NV12.wrap(flat[i * frame_size:(i + 1) * frame_size], w, h) for i in range(slots)]
    composer: FrameComposer | None = None
    drawn: dict[int, CaptionArt | None] = {}  # captions this worker drew, until it shows them
    done.send_bytes(pickle.dumps(("ready", None)))
    try:
        with single_threaded_cv():
            while True:
                try:
                    data = tasks.recv_bytes()
                except (EOFError, OSError):  # the producer is gone: nobody else will clean up
                    import shutil

                    shutil.rmtree(stills, ignore_errors=True)
                    return
                if data == _STOP:
                    return
                if len(data) == _REQUEST.size:
                    n, slot = _REQUEST.unpack(data)
                    assert composer is not None
                    composer.render(n, frames[slot])
                    done.send_bytes(_DONE.pack(n))
                    continue
                msg = pickle.loads(data)
                if msg[0] == "timeline":
                    timeline = Timeline.from_dict(msg[1])
                    if composer is None:
                        composer = FrameComposer(
                            timeline, final=msg[2],
                            stills=lambda i, plan: load_still(stills, i, plan, w, h),
                            captions=lambda i: _caption(drawn, stills, i))
                    else:
                        composer.extend(timeline, final=msg[2])
                elif msg[0] == "caption":  # draw it for every worker (and keep it)
                    assert composer is not None
                    art = drawn[msg[1]] = composer.draw_caption(msg[1])
                    write_caption(stills, msg[1], art)
    except EngineError as e:
        done.send_bytes(pickle.dumps(("error", type(e).__name__, e.message)))
    except Exception as e:  # reported to the producer, which raises RenderFailed with it
        log.exception("frame worker failed")
        done.send_bytes(pickle.dumps(("error", "RenderFailed",
                                      f"composing the video failed: {type(e).__name__}: {e}")))
    finally:
        if composer is not None:
            composer.close()
        del frames, flat
        try:
            mapping.close()
        except BufferError:
            pass


def _caption(drawn: "dict[int, CaptionArt | None]", folder: Path, i: int) -> "CaptionArt | None":
    """Caption ``i`` for a worker's frames: its own drawing if it made it, else the shared one
    (drawings of captions it passed without showing are dropped)."""
    for k in [k for k in drawn if k < i]:
        del drawn[k]
    return drawn.pop(i) if i in drawn else load_caption(folder, i)


def main(argv: list[str]) -> int:
    """``python -m engine.compose.workers TASK_FD DONE_FD SLOTS_FILE SLOTS FRAME_BYTES W H STILLS``."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    task_fd, done_fd, path, slots, frame_size, w, h, stills = argv
    _worker_main(Connection(int(task_fd), writable=False), Connection(int(done_fd), readable=False),
                 path, int(slots), int(frame_size), (int(w), int(h)), Path(stills))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
