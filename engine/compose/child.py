"""Rendering in a process of its own, as the server's pipeline does.

``render()`` lowers the priority of its frame-producing thread so the encoder sets the pace
(cpu.py). In a process that also serves HTTP, that thread would share the interpreter lock with
the event loop, and a low-priority thread holding the lock while descheduled stalls the loop
(measured in-process: /api/progress p99 54 ms instead of 27 ms). In a child process the lock is
its own; the parent only relays progress. A crash inside the compositor (or its memory) also
stays in the child.

Protocol: ``python -m engine.compose TIMELINE.json -o OUT.mp4 --events`` (or ``--stream``, the
timeline arriving on stdin as it grows, one ``{"timeline", "final"}`` object a line) writes one JSON object
per line on stdout — ``{"event": "progress", "fraction", "message"}``, ``{"event": "note",
"line"}``, then ``{"event": "done", "path"}`` or ``{"event": "error", "kind", "message"}`` — and
treats SIGTERM as a cancel (ffmpeg killed, partial files removed, exit 130). If the parent dies
(kill -9 of the server), the child's next progress event — at most half a second away — fails on
the closed pipe, and the render stops and cleans up the same way, so a restarted server never
finds an orphan render racing its own.
"""
from __future__ import annotations

import collections
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Final

from engine.compose.timeline import Timeline
from engine.errors import BadInput, EngineError, JobCancelled, RenderFailed, signal_death
from engine.progress import StageProgress, SubProgress

log = logging.getLogger(__name__)

Progress = StageProgress | SubProgress
_KINDS: Final[dict[str, type[EngineError]]] = {
    "BadInput": BadInput, "RenderFailed": RenderFailed, "JobCancelled": JobCancelled,
}
_ROOT: Final = Path(__file__).resolve().parents[2]
_STDERR_KEEP: Final = 50  # lines


def emit(event: str, **fields: Any) -> None:
    """Write one protocol line (child side)."""
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def cancel_on_sigterm(cancel: threading.Event) -> None:
    """Child side: SIGTERM sets ``cancel`` (the render stops between frames and cleans up)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: cancel.set())


def render_in_child(timeline_json: Path, out: Path, *, progress: Progress,
                    ffmpeg: Path | str | None = None, workers: int | None = None) -> Path:
    """Render the timeline saved at ``timeline_json`` to ``out`` in a child Python process,
    relaying its progress to ``progress`` and cancelling it when ``progress.cancel`` is set.
    Raises what ``render()`` would (BadInput, RenderFailed, JobCancelled)."""
    child = ChildRender(out, progress=progress, ffmpeg=ffmpeg, workers=workers, timeline_json=timeline_json)
    child.start()
    return child.wait()


class ChildRender:
    """A render in a child process. With ``timeline_json`` it renders that file; without, it is
    a streamed render: ``send(timeline, final)`` as the timeline grows (the child starts on the
    first scenes), the last one with ``final=True``; then ``wait()``. ``wait()`` (or ``stop()``)
    must always be called once ``start()`` returned."""

    def __init__(self, out: Path, *, progress: Progress, ffmpeg: Path | str | None = None,
                 workers: int | None = None, timeline_json: Path | None = None,
                 expect_seconds: float | None = None) -> None:
        self.out = out
        self.progress = progress
        argv = [sys.executable, "-m", "engine.compose"]
        argv += [str(timeline_json)] if timeline_json is not None else ["--stream"]
        argv += ["-o", str(out), "--events"]
        if ffmpeg is not None:
            argv += ["--ffmpeg", str(ffmpeg)]
        if workers is not None:
            argv += ["--workers", str(workers)]
        if expect_seconds is not None:
            argv += ["--expect-seconds", f"{expect_seconds:g}"]
        self.argv = argv
        self.streamed = timeline_json is None
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_KEEP)
        self._lines: list[threading.Thread] = []
        self._relay_thread: threading.Thread | None = None
        self._relay_error: BaseException | None = None
        self._result: dict[str, Any] = {}

    def start(self) -> "ChildRender":
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(_ROOT), *filter(None, [env.get("PYTHONPATH")])])
        try:
            proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE if self.streamed else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                                    bufsize=1)
        except OSError as e:
            raise RenderFailed(f"could not start the compositor process ({sys.executable}): "
                               f"{e.strerror or e}") from e
        self._proc = proc
        assert proc.stderr is not None
        self._lines = [
            threading.Thread(target=lambda: self._stderr.extend(proc.stderr),  # type: ignore[arg-type]
                             name="compose-child-stderr", daemon=True),
            threading.Thread(target=_terminate_on_cancel, args=(proc, self.progress.cancel),
                             name="compose-child-cancel", daemon=True),
        ]
        for t in self._lines:
            t.start()
        self._relay_thread = threading.Thread(target=self._relay, name="compose-child-events", daemon=True)
        self._relay_thread.start()
        return self

    def send(self, timeline: Timeline, final: bool) -> None:
        """Stream the timeline as known now (absolute paths) to the child. A child that has
        already stopped is not an error here: ``wait()`` says why it stopped."""
        assert self._proc is not None and self._proc.stdin is not None
        line = json.dumps({"timeline": timeline.to_dict(), "final": final}) + "\n"
        try:
            self._proc.stdin.write(line)
            self._proc.stdin.flush()
            if final:
                self._proc.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            log.debug("compositor process stopped before a timeline update")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        """Cancel the render (the child removes its partial files) and wait for it."""
        if self._proc is not None and self._proc.poll() is None:
            _stop(self._proc)

    def _relay(self) -> None:
        """Relay the child's events as they come (its own thread, from ``start()``)."""
        proc, progress = self._proc, self.progress
        assert proc is not None and proc.stdout is not None
        try:
            for line in proc.stdout:
                try:
                    msg = json.loads(line)
                except ValueError:
                    self._stderr.append(line)
                    continue
                kind = msg.get("event")
                if kind == "progress":
                    progress(float(msg["fraction"]), str(msg["message"]))
                elif kind == "note":
                    progress.note(str(msg["line"]))
                elif kind in ("done", "error"):
                    self._result = msg
        except BaseException as e:  # a progress sink that failed: stop the render, say why
            self._relay_error = e
            _stop(proc)

    def wait(self) -> Path:
        """Wait for the child to end; raises what ``render()`` would."""
        proc, progress = self._proc, self.progress
        assert proc is not None
        try:
            while self._relay_thread is not None and self._relay_thread.is_alive():
                self._relay_thread.join(timeout=0.2)
            rc = proc.wait()
        except BaseException:
            _stop(proc)
            raise
        finally:
            self._lines[0].join(timeout=5)
            if proc.stdin is not None:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
        if self._relay_error is not None:
            raise self._relay_error
        result = self._result
        if result.get("event") == "done" and rc == 0:
            return Path(result["path"])
        if result.get("event") == "error":
            raise _KINDS.get(str(result.get("kind")), RenderFailed)(str(result.get("message")))
        if progress.cancel.is_set():
            raise JobCancelled()
        by_signal = signal_death(rc)
        if by_signal is not None:
            raise RenderFailed(f"the video stage's compositor process {by_signal}")
        tail = "".join(self._stderr).strip()[-2000:]
        raise RenderFailed(f"the compositor process ended unexpectedly (exit {rc}): {tail or 'no message'}")


def _terminate_on_cancel(proc: subprocess.Popen[str], cancel: threading.Event) -> None:
    """Parent side: stop the child once the job is cancelled."""
    while proc.poll() is None:
        if cancel.wait(0.2):
            _stop(proc)
            return


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM (the child kills its ffmpeg and removes its partial files); SIGKILL if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        log.warning("compositor process %s ignored SIGTERM; killing it", proc.pid)
        proc.kill()
        proc.wait()
