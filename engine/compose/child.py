"""Rendering in a process of its own, as the server's pipeline does.

``render()`` lowers the priority of its frame-producing thread so the encoder sets the pace
(cpu.py). In a process that also serves HTTP, that thread would share the interpreter lock with
the event loop, and a low-priority thread holding the lock while descheduled stalls the loop
(measured in-process: /api/progress p99 54 ms instead of 27 ms). In a child process the lock is
its own; the parent only relays progress. A crash inside the compositor (or its memory) also
stays in the child.

Protocol: ``python -m engine.compose TIMELINE.json -o OUT.mp4 --events`` writes one JSON object
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

from engine.errors import BadInput, EngineError, JobCancelled, RenderFailed
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
                    ffmpeg: Path | str | None = None) -> Path:
    """Render the timeline saved at ``timeline_json`` to ``out`` in a child Python process,
    relaying its progress to ``progress`` and cancelling it when ``progress.cancel`` is set.
    Raises what ``render()`` would (BadInput, RenderFailed, JobCancelled)."""
    argv = [sys.executable, "-m", "engine.compose", str(timeline_json), "-o", str(out), "--events"]
    if ffmpeg is not None:
        argv += ["--ffmpeg", str(ffmpeg)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, text=True, bufsize=1)
    except OSError as e:
        raise RenderFailed(f"could not start the compositor process ({sys.executable}): "
                           f"{e.strerror or e}") from e
    assert proc.stdout is not None and proc.stderr is not None
    stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_KEEP)
    drain = threading.Thread(target=lambda: stderr.extend(proc.stderr),  # type: ignore[arg-type]
                             name="compose-child-stderr", daemon=True)
    drain.start()
    stopper = threading.Thread(target=_terminate_on_cancel, args=(proc, progress.cancel),
                               name="compose-child-cancel", daemon=True)
    stopper.start()
    result: dict[str, Any] = {}
    try:
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                stderr.append(line)
                continue
            kind = msg.get("event")
            if kind == "progress":
                progress(float(msg["fraction"]), str(msg["message"]))
            elif kind == "note":
                progress.note(str(msg["line"]))
            elif kind in ("done", "error"):
                result = msg
        rc = proc.wait()
    except BaseException:
        _stop(proc)
        raise
    finally:
        drain.join(timeout=5)
    if result.get("event") == "done" and rc == 0:
        return Path(result["path"])
    if result.get("event") == "error":
        raise _KINDS.get(str(result.get("kind")), RenderFailed)(str(result.get("message")))
    if progress.cancel.is_set():
        raise JobCancelled()
    tail = "".join(stderr).strip()[-2000:]
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
