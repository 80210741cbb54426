"""What the server and a lane's worker process say to each other, and how a worker's end is put
into words, and how a lane watches one command's events. Of the engine only engine.errors (no
model libraries): the server process stays free of them.

The worker (``python -m server.worker CONFIG_JSON``) reads one JSON command per line on stdin —
``{"cmd": "run", "job_id", "spec", "workdir", "videos_dir"}``, ``{"cmd": "cancel", "job_id"}``,
``{"cmd": "stop"}`` — and writes one JSON event per line on its event pipe (its original stdout;
anything a library prints goes to stderr): ``ready`` (the backends it chose), ``boot_error``,
``heartbeat``, ``progress``, ``note``, ``stage_done``, then ``done`` / ``error`` / ``cancelled``
for each job. Closing its stdin tells it the server is gone: it stops what it is doing and exits.
"""

from __future__ import annotations

import json
import queue
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol

from engine.errors import signal_death

#: How many times a job may be claimed before a worker death fails it for good.
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class LaneSpec:
    index: int
    gpu: str | None  # CUDA_VISIBLE_DEVICES for this lane's worker (it then sees cuda:0)


@dataclass(frozen=True)
class StageSummary:
    stage: str
    backend: str
    real_weights: bool
    weights: str | None
    fix: str | None


@dataclass(frozen=True)
class BackendSummary:
    """The backends a worker chose at boot, as /health and /api/models show them."""

    stages: tuple[StageSummary, ...]
    keep_warm: bool
    memory_note: str
    warnings: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {s.stage: {f.name: getattr(s, f.name) for f in fields(s)} for s in self.stages}

    def to_event(self) -> dict[str, Any]:
        return {"stages": self.describe(), "keep_warm": self.keep_warm,
                "memory_note": self.memory_note, "warnings": list(self.warnings)}

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> "BackendSummary":
        stages = tuple(StageSummary(**{f.name: s.get(f.name) for f in fields(StageSummary)})
                       for s in event["stages"].values())
        return cls(stages, bool(event["keep_warm"]), str(event["memory_note"]),
                   tuple(str(w) for w in event.get("warnings", ())))


def encode_config(config: Any) -> str:
    """A frozen Config as JSON for the worker's command line (paths as strings)."""
    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    return json.dumps({f.name: plain(getattr(config, f.name)) for f in fields(config)})


def decode_config(config_type: type, text: str) -> Any:
    """The inverse of encode_config, for a Config dataclass type."""
    raw = json.loads(text)
    values: dict[str, Any] = {}
    for f in fields(config_type):
        if f.name not in raw:
            continue
        value, kind = raw[f.name], str(f.type)
        if isinstance(value, list):
            value = tuple(Path(v) if "Path" in kind else v for v in value)
        elif isinstance(value, str) and "Path" in kind:
            value = Path(value)
        values[f.name] = value
    return config_type(**values)


def describe_death(returncode: int | None, *, stalled_for: float | None = None) -> str:
    """Why a worker ended, for the job's error: '... was killed, probably out of memory — ...'."""
    if stalled_for is not None:
        return (f"stopped responding for {stalled_for:.0f} s and was restarted — a model or the "
                "GPU driver hung; run python -m server --doctor to check the GPU set-up")
    by_signal = signal_death(returncode)
    if by_signal is not None:
        return by_signal
    return f"exited unexpectedly (exit code {returncode})"


TICK = 0.25  # seconds between checks while a command runs
CANCEL_GRACE = 10.0  # seconds a worker gets to stop a cancelled command before it is killed


class Worker(Protocol):
    """What watching needs of a lane's worker (server.lanes.WorkerProcess)."""

    events: "queue.Queue[dict[str, Any] | None]"

    def send(self, **command: Any) -> None: ...

    def kill(self) -> int | None: ...

    def returncode(self) -> int | None: ...


class WorkerLost(Exception):
    """The worker died, went quiet or ignored a cancel while running a command; ``reason`` ends
    the sentence "the worker …". A worker that went quiet or ignored the cancel has been killed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def command_events(worker: Worker, command_id: str, *, cancel: Callable[[], bool],
                   stall_seconds: float) -> Iterator[dict[str, Any]]:
    """The events of the command ``command_id`` already sent to ``worker`` (heartbeats and other
    commands' events left out), until the caller stops reading. Sends one cancel once ``cancel()``
    says so; raises WorkerLost when the worker dies, sends nothing for ``stall_seconds``, or has
    not stopped CANCEL_GRACE seconds after the cancel."""
    heard = time.monotonic()
    cancel_sent: float | None = None
    while True:
        if cancel_sent is None and cancel():
            worker.send(cmd="cancel", job_id=command_id)
            cancel_sent = time.monotonic()
        try:
            event = worker.events.get(timeout=TICK)
        except queue.Empty:
            quiet = time.monotonic() - heard
            if cancel_sent is not None and time.monotonic() - cancel_sent > CANCEL_GRACE:
                worker.kill()
                raise WorkerLost("did not stop in time after a cancel") from None
            if quiet > stall_seconds:
                worker.kill()
                raise WorkerLost(describe_death(None, stalled_for=quiet)) from None
            continue
        heard = time.monotonic()
        if event is None:
            raise WorkerLost(describe_death(worker.returncode()))
        if event.get("event") != "heartbeat" and event.get("job_id") == command_id:
            yield event
