"""A lane runs a storyboard task on its worker (server/lanes.py calls ``run_task``): the command
goes down the worker's stdin, progress and notes come back as events and are written to the
storyboard, the result is applied. A task whose storyboard is deleted meanwhile is cancelled. A
worker that dies or goes quiet fails the task with the reason (the creator asks again; a
storyboard task is seconds of work, not worth a retry loop) and the lane starts a new worker."""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from server.storyboards import StoryboardStore, Task, storyboards_dir
from server.workerproto import describe_death

log = logging.getLogger(__name__)

TICK = 0.25
CANCEL_GRACE = 10.0


class Worker(Protocol):
    events: "queue.Queue[dict[str, Any] | None]"

    def send(self, **command: Any) -> None: ...

    def kill(self) -> int | None: ...

    def returncode(self) -> int | None: ...


def command(task: Task, data_dir: Path) -> dict[str, Any]:
    return {"cmd": "storyboard", "job_id": task.id, "op": task.op, "index": task.index,
            "spec": task.spec.to_dict(), "payload": dict(task.payload),
            "folder": str(storyboards_dir(data_dir) / task.storyboard_id)}


def run_task(worker: Worker, task: Task, store: StoryboardStore, *, data_dir: Path, stall_seconds: float,
             stopping: threading.Event) -> bool:
    """Run ``task`` on ``worker``; False when the worker was lost (killed here, or dead)."""
    started = time.perf_counter()
    worker.send(**command(task, data_dir))
    heard = time.monotonic()
    cancel_sent: float | None = None
    while True:
        if cancel_sent is None and (stopping.is_set() or not store.task_alive(task.id)):
            worker.send(cmd="cancel", job_id=task.id)
            cancel_sent = time.monotonic()
        try:
            event = worker.events.get(timeout=TICK)
        except queue.Empty:
            quiet = time.monotonic() - heard
            late = cancel_sent is not None and time.monotonic() - cancel_sent > CANCEL_GRACE
            if late or quiet > stall_seconds:
                worker.kill()
                why = ("did not stop in time after a cancel" if late
                       else describe_death(None, stalled_for=quiet))
                store.task_failed(task, f"the worker {why}; ask again")
                return False
            continue
        heard = time.monotonic()
        if event is None:
            store.task_failed(task, f"the worker {describe_death(worker.returncode())}; ask again")
            return False
        kind = event.get("event")
        if kind == "heartbeat" or event.get("job_id") != task.id:
            continue
        if kind == "progress":
            store.task_progress(task, float(event["percent"]), str(event["message"]))
        elif kind == "note":
            store.task_note(task, str(event["line"]))
        elif kind == "task_done":
            store.task_done(task, dict(event["result"]))
            log.info("%6.2fs storyboard %s: %s done", time.perf_counter() - started, task.storyboard_id,
                     task.op)
            return True
        elif kind == "error":
            store.task_failed(task, str(event["message"]))
            log.warning("storyboard %s: %s failed: %s", task.storyboard_id, task.op, event["message"])
            return True
        elif kind == "cancelled":  # deleted, or the server is stopping (requeued at the next start)
            return True
