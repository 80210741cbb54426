"""The ffmpeg writer: raw NV12 frames on stdin (the layout H.264 encoders read natively, so the
pipe costs one copy and ffmpeg converts nothing), H.264 with BT.709 tags into an MP4; then the mux
that adds the AAC soundtrack by stream copy and moves the index to the front (``+faststart``).

Frames move through a small fixed pool of buffers: the compositor fills one while a writer thread
pushes earlier ones into ffmpeg, so production and encoding overlap and memory stays flat. A
second thread drains ffmpeg's stderr so it can never block, and keeps its tail for the error.
"""
from __future__ import annotations

import collections
import logging
import os
import queue
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Final, Sequence

from engine.compose import ffmpeg as ff
from engine.errors import RenderFailed

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

log = logging.getLogger(__name__)

_F_SETPIPE_SZ: Final = 1031  # Linux fcntl
_F_GETPIPE_SZ: Final = 1032
_PIPE_BYTES: Final = 1 << 20
_STDERR_KEEP: Final = 64 * 1024


def rate_arg(fps: float) -> str:
    """ffmpeg frame rate string, exact for NTSC rates (29.97 -> 30000/1001)."""
    f = Fraction(fps).limit_denominator(1001)
    return f"{f.numerator}/{f.denominator}"


def encoder_argv(ffmpeg: Path, *, width: int, height: int, fps: float, codec_args: Sequence[str],
                 out: Path) -> list[str]:
    """The video encoder: NV12 frames on stdin -> H.264 in an MP4 (video only; ``mux`` adds the
    soundtrack and moves the index to the front)."""
    return [str(ffmpeg), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "nv12", "-s", f"{width}x{height}", "-framerate", rate_arg(fps),
            "-i", "pipe:0", "-map", "0:v:0",
            # BT.709 limited range, tagged on the frames (encoders copy frame tags into the VUI)
            "-vf", "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709",
            *codec_args, "-f", "mp4", "-y", str(out)]


def mux(ffmpeg: Path, video: Path, audio: Path, out: Path, *, stop: threading.Event | None = None) -> Path:
    """Put the encoded video and soundtrack side by side in ``out`` by stream copy (no
    re-encoding), index first (``+faststart``) so a browser can start playing and seeking at once."""
    ff.run(ffmpeg, ["-i", str(video), "-i", str(audio), "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
                    "-movflags", "+faststart", "-f", "mp4", "-y", str(out)],
           "writing the final video", stop=stop)
    if not out.is_file() or out.stat().st_size == 0:
        raise RenderFailed(f"writing the final video: ffmpeg wrote no file at {out}")
    return out


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view):]


class _SpliceUnsupported(Exception):
    pass


def _vmsplice() -> Callable[[int, "np.ndarray"], None] | None:
    """Linux vmsplice(2): hands the buffer's pages to the pipe instead of copying them (ffmpeg's
    read copies them once, as it would from a file). The pipe is sized to at most one frame, and
    a spliced buffer is handed back for refilling only after the next frame has been spliced in
    full, by which time ffmpeg has read every page of it. None where unavailable (then write())."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes
        import errno

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.vmsplice
    except (OSError, AttributeError):
        return None

    class IoVec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    fn.argtypes = [ctypes.c_int, ctypes.POINTER(IoVec), ctypes.c_size_t, ctypes.c_uint]
    fn.restype = ctypes.c_ssize_t

    def splice(fd: int, buf: "np.ndarray") -> None:
        addr, left = buf.ctypes.data, buf.nbytes
        first = True
        while left:
            iov = IoVec(addr, left)
            n = fn(fd, ctypes.byref(iov), 1, 0)
            if n < 0:
                err = ctypes.get_errno()
                if err == errno.EINTR:
                    continue
                if first and err in (errno.ENOSYS, errno.EINVAL, errno.EBADF, errno.EPERM):
                    raise _SpliceUnsupported()
                raise OSError(err, os.strerror(err))
            first = False
            addr += n
            left -= n

    return splice


class FrameWriter:
    """Feeds frames to an ffmpeg process. Use: ``start()``, then ``acquire()`` a buffer, fill it,
    ``submit()`` it; finally ``finish()`` (or ``abort()`` on any error). ``buffers``: how many
    frame buffers to make, or the buffers themselves (e.g. shared memory the workers fill)."""

    def __init__(self, argv: Sequence[str], frame_size: int, *,
                 buffers: "int | Sequence[np.ndarray]" = 6) -> None:
        import numpy as np

        self.argv = list(argv)
        self.frame_size = frame_size
        bufs = [np.empty(frame_size, np.uint8) for _ in range(buffers)] if isinstance(buffers, int) \
            else list(buffers)
        if any(b.nbytes != frame_size for b in bufs):
            raise ValueError("every frame buffer must hold exactly one frame")
        self._buffers = len(bufs)
        self._pipe_bytes = 64 * 1024
        self._free: queue.Queue[np.ndarray] = queue.Queue()
        for b in bufs:
            self._free.put(b)
        self._work: queue.Queue[np.ndarray | None] = queue.Queue()
        self._err: collections.deque[bytes] = collections.deque()
        self._err_len = 0
        self._failure: BaseException | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._threads: list[threading.Thread] = []
        self.written = 0

    def start(self) -> "FrameWriter":
        log.debug("ffmpeg: %s", " ".join(self.argv))
        try:
            self._proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, bufsize=0)
        except OSError as e:
            raise RenderFailed(f"ffmpeg could not be started ({self.argv[0]}): {e.strerror or e}") from e
        assert self._proc.stdin is not None
        self._pipe_bytes = 64 * 1024
        try:
            import fcntl

            want = 64 * 1024
            while want * 2 <= min(_PIPE_BYTES, self.frame_size):
                want *= 2
            fd = self._proc.stdin.fileno()
            fcntl.fcntl(fd, _F_SETPIPE_SZ, want)
            self._pipe_bytes = fcntl.fcntl(fd, _F_GETPIPE_SZ)
        except (ImportError, OSError):
            pass  # a bigger pipe only saves context switches
        self._threads = [threading.Thread(target=self._write_loop, name="compose-writer", daemon=True),
                         threading.Thread(target=self._drain_stderr, name="compose-stderr", daemon=True)]
        for t in self._threads:
            t.start()
        return self

    # -- producer side -------------------------------------------------------------------------

    def acquire(self) -> "np.ndarray":
        while True:
            if self._failure is not None:
                raise self._failed()
            try:
                return self._free.get(timeout=0.25)
            except queue.Empty:
                if self._proc is not None and self._proc.poll() is not None:
                    self._failure = self._failure or BrokenPipeError("ffmpeg exited early")
                continue

    def submit(self, buf: "np.ndarray") -> None:
        self._work.put(buf)

    def finish(self, tick: Callable[[], None] = lambda: None) -> None:
        """Close the stream and wait for ffmpeg; ``tick`` is called about every 0.25 s (progress,
        cancellation). Raises RenderFailed with ffmpeg's message on any failure."""
        assert self._proc is not None
        self._work.put(None)
        while self._threads[0].is_alive():
            tick()
            self._threads[0].join(timeout=0.25)
        if self._proc.stdin:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        while True:
            try:
                rc = self._proc.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                tick()
        self._threads[1].join()
        if self._failure is not None or rc != 0:
            raise self._failed(rc)

    def abort(self) -> None:
        """Kill ffmpeg and stop the threads (idempotent)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self._failure = self._failure or RuntimeError("aborted")
        self._work.put(None)
        for t in self._threads:
            t.join(timeout=5)
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log.warning("ffmpeg (pid %s) did not exit after kill", self._proc.pid)
            if self._proc.stdin:
                try:
                    self._proc.stdin.close()
                except OSError:
                    pass

    # -- threads -------------------------------------------------------------------------------

    def _write_loop(self) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        fd = self._proc.stdin.fileno()
        # zero-copy only while the pipe cannot hold pages of a buffer that is being refilled
        splice = _vmsplice() if self.frame_size >= self._pipe_bytes and self._buffers >= 3 else None
        held: "np.ndarray | None" = None  # spliced last: the pipe may still reference its pages
        while True:
            buf = self._work.get()
            if buf is None:
                if held is not None:
                    self._free.put(held)
                return
            spliced = False
            if self._failure is None:
                try:
                    if splice is not None:
                        try:
                            splice(fd, buf)
                            spliced = True
                        except _SpliceUnsupported:
                            splice = None
                            _write_all(fd, memoryview(buf.data))
                    else:
                        _write_all(fd, memoryview(buf.data))
                    self.written += 1
                except OSError as e:  # BrokenPipe: ffmpeg died; its stderr says why
                    self._failure = e
            if spliced:
                # This frame is now fully in the pipe, which holds less than a frame, so every
                # page of the previous one has been read: that buffer may be refilled.
                if held is not None:
                    self._free.put(held)
                held = buf
            else:
                self._free.put(buf)

    def _drain_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for chunk in iter(lambda: self._proc.stderr.read(4096), b""):  # type: ignore[union-attr]
            self._err.append(chunk)
            self._err_len += len(chunk)
            while self._err_len > _STDERR_KEEP and len(self._err) > 1:
                self._err_len -= len(self._err.popleft())

    def stderr_text(self) -> str:
        return b"".join(self._err).decode("utf-8", "replace")

    def _failed(self, rc: int | None = None) -> RenderFailed:
        if self._proc is not None and rc is None:
            try:
                rc = self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                rc = self._proc.wait()
            self._threads[1].join(timeout=5)
        msg = ff.stderr_tail(self.stderr_text())
        if not msg and self._failure is not None:
            msg = str(self._failure)
        return ff.failed("encoding the video", rc, msg)
