"""A lane runs a storyboard task on its worker (server/lanes.py calls ``run_task``): the command
goes down the worker's stdin, progress and notes come back as events and are written to the
storyboard, the result is applied. A task whose storyboard is deleted meanwhile is cancelled. A
worker that dies or goes quiet fails the task with the reason (the creator asks again; a
storyboard task is seconds of work, not worth a retry loop) and the lane starts a new worker."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from server.storyboards import StoryboardStore, Task, storyboards_dir
from server.workerproto import Worker, WorkerLost, command_events

log = logging.getLogger(__name__)


def command(task: Task, data_dir: Path) -> dict[str, Any]:
    return {"cmd": "storyboard", "job_id": task.id, "op": task.op, "index": task.index,
            "spec": task.spec.to_dict(), "payload": dict(task.payload),
            "folder": str(storyboards_dir(data_dir) / task.storyboard_id)}


def run_task(worker: Worker, task: Task, store: StoryboardStore, *, data_dir: Path, stall_seconds: float,
             stopping: threading.Event) -> bool:
    """Run ``task`` on ``worker``; False when the worker was lost (killed here, or dead)."""
    started = time.perf_counter()
    worker.send(**command(task, data_dir))
    try:
        for event in command_events(worker, task.id, stall_seconds=stall_seconds,
                                    cancel=lambda: stopping.is_set() or not store.task_alive(task.id)):
            kind = event.get("event")
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
    except WorkerLost as lost:
        store.task_failed(task, f"the worker {lost.reason}; ask again")
        return False
    raise AssertionError("command_events ends only by raising")  # pragma: no cover
