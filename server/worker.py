"""A lane's worker process: ``python -m server.worker CONFIG_JSON``.

It chooses the backends once (models stay warm between jobs when they fit), then runs the jobs the
server sends it, one at a time, through engine.pipeline; the protocol is in server/workerproto.py.
Everything that can crash or exhaust memory — model libraries, native code, the compositor (its
child) — lives here, so the server that answers HTTP survives it and restarts this process.

A heartbeat thread writes every HEARTBEAT_SECONDS whatever the job is doing; the server restarts a
worker that goes quiet for longer than its stall limit. When stdin closes (the server is gone) the
running job is cancelled and the process exits, so no orphan keeps a GPU busy.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from engine.errors import EngineError, JobCancelled
from server.workerproto import BackendSummary, StageSummary, decode_config

log = logging.getLogger("server.worker")

HEARTBEAT_SECONDS = 1.0
#: Workers (and the compositor and ffmpeg they start) run below the server's priority, so the
#: HTTP process gets the CPU it needs at once even when every core renders.
WORKER_NICE = 10
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
PROGRESS_INTERVAL = 0.1  # seconds between progress events unless the stage or message changes
MB = 1 << 20


class Events:
    """The event pipe (thread-safe; a closed pipe means the server is gone: cancel everything)."""

    def __init__(self, stream: IO[str], gone: threading.Event) -> None:
        self._stream, self._lock, self._gone = stream, threading.Lock(), gone

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields}) + "\n"
        with self._lock:
            try:
                self._stream.write(line)
                self._stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self._gone.set()


class Reporter:
    """Pipeline progress -> events, throttled (a render reports every frame)."""

    def __init__(self, events: Events, job_id: str) -> None:
        self._events, self._id = events, job_id
        self._last: tuple[str, str] = ("", "")
        self._last_at = 0.0
        self.stage = "script"

    def progress(self, stage: str, percent: float, message: str) -> None:
        self.stage = stage
        now = time.monotonic()
        if (stage, message) == self._last and now - self._last_at < PROGRESS_INTERVAL:
            return
        self._last, self._last_at = (stage, message), now
        self._events.emit("progress", job_id=self._id, stage=stage, percent=percent, message=message)

    def note(self, line: str) -> None:
        self._events.emit("note", job_id=self._id, line=line)

    def stage_done(self, stage: str, seconds: float) -> None:
        self._events.emit("stage_done", job_id=self._id, stage=stage, seconds=seconds)


def estimated_bytes(duration_minutes: float) -> int:
    """Disk a job needs: its work files (pictures, audio, a timeline) and the MP4 (~1080p H.264
    with stereo AAC). Measured on the embedded defaults: ~60 MB per minute in all; doubled."""
    return int((30 + 80 * max(0.25, duration_minutes)) * MB)


def disk_full_message(folder: Path, duration_minutes: float) -> str | None:
    """The creator's sentence when ``folder``'s filesystem cannot hold a job of this length."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    need = estimated_bytes(duration_minutes)
    if free >= need:
        return None
    return (f"disk full: {free / MB:.0f} MB free on {folder.resolve()}; a {duration_minutes:g}-minute "
            f"video needs about {need / MB:.0f} MB — free some space (old videos in videos/, finished "
            "jobs with DELETE /api/jobs/<id>) and try again")


def os_error_message(exc: OSError, stage: str, folders: tuple[Path, ...]) -> str:
    """An OSError from a stage in words a creator can act on (a disk below a job's estimate is
    explained before this, by disk_full_message)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full while working on the {stage} stage ({exc.filename or folders[0]}); free some space"
    if exc.errno == errno.EROFS or exc.errno == errno.EACCES:
        where = exc.filename or folders[0]
        return (f"cannot write {where} ({exc.strerror}) during the {stage} stage — check that the "
                "data and videos folders are writable")
    return f"file error in the {stage} stage: {exc.strerror or exc} ({exc.filename or 'no file name'})"


class Worker:
    def __init__(self, config: Any, events: Events, gone: threading.Event) -> None:
        self._config, self._events, self._gone = config, events, gone
        self._backends: Any = None
        self._running: tuple[str, threading.Event] | None = None
        self._lock = threading.Lock()
        self._job_thread: threading.Thread | None = None

    def boot(self) -> bool:
        from engine.backends import choose_backends

        config = self._config
        try:
            choice = choose_backends(
                models_dir=config.models_dir,
                stock_dir=config.stock_path,
                manual_roots=config.manual_roots,
                script=config.script_backend,
                images=config.images_backend,
                narration=config.narration_backend,
                keep_warm=config.keep_warm,
                folders={"data": config.data_dir, "videos": config.videos_dir},
            )
        except EngineError as exc:
            self._events.emit("boot_error", message=exc.message)
            return False
        self._backends = choice.backends
        summary = BackendSummary(
            tuple(StageSummary(s.stage, s.backend, s.real_weights, s.weights, s.fix) for s in choice.stages),
            choice.keep_warm, choice.memory_note, tuple(getattr(choice, "warnings", ())),
        )
        self._events.emit("ready", **summary.to_event())
        return True

    def serve(self, commands: IO[str]) -> None:
        for line in commands:
            try:
                cmd = json.loads(line)
            except ValueError:
                log.error("ignoring a malformed command: %.200r", line)
                continue
            kind = cmd.get("cmd")
            if kind in ("run", "storyboard"):
                self._start(cmd)
            elif kind == "cancel":
                self._cancel(str(cmd.get("job_id")))
            elif kind == "stop":
                break
        self._gone.set()
        with self._lock:
            if self._running is not None:
                self._running[1].set()
        if self._job_thread is not None:
            self._job_thread.join()

    def _cancel(self, job_id: str) -> None:
        with self._lock:
            if self._running is not None and self._running[0] == job_id:
                self._running[1].set()

    def _start(self, cmd: dict[str, Any]) -> None:
        if self._job_thread is not None:
            self._job_thread.join()  # the server sends one job at a time; never two at once here
        cancel = threading.Event()
        with self._lock:
            self._running = (str(cmd["job_id"]), cancel)
        self._job_thread = threading.Thread(target=self._run, args=(cmd, cancel), name="job", daemon=True)
        self._job_thread.start()

    def _run(self, cmd: dict[str, Any], cancel: threading.Event) -> None:
        from engine.pipeline import run
        from engine.spec import JobSpec
        from server.storyboard_worker import after_render, before_render

        if cmd.get("cmd") == "storyboard":
            self._storyboard(cmd, cancel)
            return
        job_id = str(cmd["job_id"])
        reporter = Reporter(self._events, job_id)
        workdir, videos_dir = Path(cmd["workdir"]), Path(cmd["videos_dir"])
        try:
            spec = JobSpec.from_dict(cmd["spec"])
            for folder in (workdir.parent, videos_dir):
                folder.mkdir(parents=True, exist_ok=True)
                full = disk_full_message(folder, spec.duration_minutes)
                if full:
                    raise EngineError(full)
            pool = before_render(spec, workdir, self._config.data_dir)  # a storyboard's render
            result = run(spec, workdir, backends=self._backends, videos_dir=videos_dir,
                         reporter=reporter, cancel=cancel)
            after_render(workdir, pool)
            self._events.emit("done", job_id=job_id, video=result.video.name, duration=result.duration)
        except JobCancelled:
            self._events.emit("cancelled", job_id=job_id, stage=reporter.stage)
        except Exception as exc:
            message = self._explain(exc, reporter.stage, cmd, (workdir.parent, videos_dir))
            self._events.emit("error", job_id=job_id, stage=reporter.stage, message=message)
        finally:
            with self._lock:
                self._running = None

    def _storyboard(self, cmd: dict[str, Any], cancel: threading.Event) -> None:
        """A storyboard task (server/storyboard_worker.py), reported like a job."""
        from server.storyboard_worker import run_storyboard

        task_id, folder = str(cmd["job_id"]), Path(cmd["folder"])
        try:
            run_storyboard(cmd, self._backends, self._events, cancel)
        except JobCancelled:
            self._events.emit("cancelled", job_id=task_id, stage="storyboard")
        except Exception as exc:
            message = self._explain(exc, "storyboard", cmd, (folder.parent,))
            self._events.emit("error", job_id=task_id, stage="storyboard", message=message)
        finally:
            with self._lock:
                self._running = None

    def _explain(self, exc: Exception, stage: str, cmd: dict[str, Any], folders: tuple[Path, ...]) -> str:
        """A failed job's error in words a creator can act on. A full disk explains any failure
        (a library may have wrapped its ENOSPC in an error of its own)."""
        duration = float(cmd["spec"].get("duration_minutes", 1.0))
        for folder in folders:
            full = disk_full_message(folder, duration)
            if full:
                return full
        if _out_of_memory(exc):  # a library may have wrapped Python's MemoryError in its own error
            return (f"out of memory in the {stage} stage — try fewer scenes, a shorter video or the lite "
                    "profile (python scripts/download_models.py --profile lite)")
        if isinstance(exc, EngineError):
            return exc.message
        if isinstance(exc, OSError):
            return os_error_message(exc, stage, folders)
        log.exception("job %s crashed in stage %s", cmd.get("job_id"), stage)
        return (f"Unexpected failure in the {stage} stage ({exc}). The job's files are kept in "
                f"{folders[0] / str(cmd.get('job_id'))}; the server log has the details.")


def die_with_server() -> None:
    """End with the server: a worker must never outlive it (a server killed with SIGKILL, the OOM
    killer or a closed terminal would otherwise leave its workers writing into the data folder
    that the next server's start-up is cleaning, e.g. a cancelled job's folder it has removed).
    Linux asks the kernel to send SIGKILL when the lane thread that started us ends; the worker's
    compositor child notices the closed pipe within half a second and cleans up after itself."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        log.warning("could not tie the worker's life to the server's")
        return
    expected = os.environ.get("STORYREEL_SERVER_PID", "")
    if expected.isdigit() and os.getppid() != int(expected):  # the server died before the prctl
        os._exit(1)


def lower_priority(nice: int) -> None:
    """Give the HTTP process the CPU first. The worker runs in a session of its own, and where the
    kernel groups sessions for scheduling (autogroup, on by default in most desktop kernels) a
    process's nice only ranks it within its own group: each worker's group would otherwise get as
    much CPU as the server's. So the group's nice is lowered as well as the process's; the
    compositor and ffmpeg inherit both."""
    try:
        os.nice(nice)
    except OSError:
        log.warning("could not lower the worker's priority")
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(nice))
    except OSError:  # not Linux, autogroup off, or not allowed: the process's nice still holds
        pass


def _out_of_memory(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(16):  # the chain of causes, bounded
        if seen is None:
            return False
        if isinstance(seen, MemoryError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _heartbeat(events: Events, gone: threading.Event) -> None:
    while not gone.wait(HEARTBEAT_SECONDS):
        events.emit("heartbeat")


def _event_pipe() -> IO[str]:
    """Keep the original stdout for events and point fd 1 at stderr, so whatever a native library
    prints can never corrupt the protocol."""
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    return os.fdopen(fd, "w", buffering=1, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    from engine.models import set_offline_env
    from server.config import Config

    args = sys.argv[1:] if argv is None else argv
    lane = os.environ.get("STORYREEL_LANE", "0")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s %(levelname)-7s worker{lane} %(name)s: %(message)s")
    set_offline_env()
    die_with_server()
    lower_priority(WORKER_NICE)
    gone = threading.Event()
    events = Events(_event_pipe(), gone)
    worker = Worker(decode_config(Config, args[0]), events, gone)
    threading.Thread(target=_heartbeat, args=(events, gone), name="heartbeat", daemon=True).start()
    if not worker.boot():
        return 2
    worker.serve(sys.stdin)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
