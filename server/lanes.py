"""Lanes: one supervisor thread per lane, each driving one worker process (server/worker.py).

A lane claims the oldest queued job from SQLite, hands it to its worker and records what the
worker reports. It notices a worker's end at once (the event pipe closes) and a hang within its
stall limit (no heartbeat), kills the worker's whole process group (the compositor and ffmpeg with
it), starts a fresh worker with a growing back-off, and puts the job back in the queue to resume
from its files — until MAX_ATTEMPTS claims, after which the job fails with the stage and the likely
cause. Cancel is read from the database on every tick, so it is never lost to a race.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable

from server.jobs import CANCELLED_MESSAGE, Job, JobState, JobStore
from server.storyboards import StoryboardStore
from server.workerproto import (CANCEL_GRACE, MAX_ATTEMPTS, TICK, BackendSummary, LaneSpec,
                                WorkerLost, command_events, describe_death)

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]

BOOT_TIMEOUT = 300.0  # seconds to choose backends (imports only; models load per stage)
MAX_BACKOFF = 30.0


def finish_cancelled(store: JobStore, workdir: Path, video: Path | None = None) -> None:
    """Files first: once the job reads "cancelled", its partial files (and a video it finished in
    the same instant) are already gone."""
    shutil.rmtree(workdir, ignore_errors=True)
    if video is not None:
        video.unlink(missing_ok=True)
    store.finish(workdir.name, JobState.CANCELLED, error=CANCELLED_MESSAGE, substatus="Cancelled")
    log.info("job %s cancelled", workdir.name)


class WorkerProcess:
    """One worker: its process group, its event stream (read by a thread into a queue)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, env=env, cwd=ROOT,
            start_new_session=True, text=True, encoding="utf-8", bufsize=1,
        )
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._send_lock = threading.Lock()
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True,
                         name=f"worker-{self.proc.pid}-events").start()

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            try:
                event = json.loads(line)
            except ValueError:
                log.warning("worker %d wrote a line that is not an event: %.200r", self.proc.pid, line)
                continue
            if isinstance(event, dict):
                self.events.put(event)
        self.events.put(None)  # end of stream: the worker is gone

    def send(self, **command: Any) -> None:
        with self._send_lock:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps(command) + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass  # the worker is gone; its end of stream says so

    def kill(self) -> int | None:
        """SIGKILL the whole process group (worker, compositor, ffmpeg) and reap the worker."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return None

    def close(self, grace: float) -> None:
        """Ask the worker to stop, wait ``grace`` seconds, then kill what is left."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def returncode(self) -> int | None:
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return self.kill()


class Lane:
    def __init__(self, spec: LaneSpec, store: JobStore, *, config_json: str, jobs_dir: Path,
                 videos_dir: Path, stall_seconds: float, wake: threading.Condition,
                 on_boot: Callable[["Lane", BackendSummary | None, str | None], None],
                 tasks: StoryboardStore) -> None:
        self.spec = spec
        self._tasks = tasks  # storyboard tasks (server/storyboard_tasks.py)
        self._store = store
        self._config_json = config_json
        self._jobs_dir, self._videos_dir = jobs_dir, videos_dir
        self._stall = stall_seconds
        self._wake = wake
        self._on_boot = on_boot
        self._stopping = threading.Event()
        self._worker: WorkerProcess | None = None
        self._deaths = 0  # in a row: sets the back-off
        self._restarts = 0  # in all
        self.current: str | None = None
        self.healthy = True
        self._thread = threading.Thread(target=self._loop, name=f"lane-{spec.index}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def status(self) -> dict[str, Any]:
        """For /health: the lane, its GPU, its worker's PID, the job it runs."""
        worker = self._worker
        return {"lane": self.spec.index, "gpu": self.spec.gpu, "healthy": self.healthy,
                "worker_pid": worker.proc.pid if worker is not None else None, "job_id": self.current,
                "worker_restarts": self._restarts}

    def stop(self) -> None:
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        if self._thread.is_alive() and self._worker is not None:
            self._worker.kill()  # a job that would not stop in time: its lane notices the end
            self._thread.join(5)
        return not self._thread.is_alive()

    # -- the worker ------------------------------------------------------------------------------
    def _spawn(self) -> WorkerProcess | None:
        env = dict(os.environ, STORYREEL_LANE=str(self.spec.index), STORYREEL_SERVER_PID=str(os.getpid()))
        if self.spec.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.spec.gpu
        worker = WorkerProcess([sys.executable, "-m", "server.worker", self._config_json], env)
        deadline = time.monotonic() + BOOT_TIMEOUT
        while not self._stopping.is_set():
            try:
                event = worker.events.get(timeout=min(TICK, max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() < deadline:
                    continue
                worker.kill()
                self._on_boot(self, None, f"the worker took more than {BOOT_TIMEOUT:.0f} s to start")
                return None
            if event is None:
                code = worker.returncode()
                self._on_boot(self, None, f"the worker {describe_death(code)}")
                return None
            if event.get("event") == "ready":
                self._on_boot(self, BackendSummary.from_event(event), None)
                return worker
            if event.get("event") == "boot_error":
                worker.close(5)
                self._on_boot(self, None, str(event.get("message")))
                return None
        worker.close(2)
        return None

    def _backoff(self) -> None:
        delay = min(MAX_BACKOFF, 0.5 * 2 ** max(0, self._deaths - 1)) if self._deaths else 0.0
        if delay:
            log.warning("lane %d: restarting its worker in %.1f s", self.spec.index, delay)
            self._stopping.wait(delay)

    # -- the loop --------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping.is_set():
            if self._worker is None:
                self._backoff()
                if self._stopping.is_set():
                    break
                self._worker = self._spawn()
                if self._worker is None:
                    self._deaths += 1
                    continue
            if self._storyboard_task():
                continue
            job = self._store.claim()
            if job is None:
                with self._wake:
                    self._wake.wait(1.0)
                continue
            self.current = job.id
            try:
                self._run(job)
            finally:
                self.current = None
        if self._worker is not None:
            self._worker.close(CANCEL_GRACE)
            self._worker = None

    def _run(self, job: Job) -> None:
        assert self._worker is not None
        worker = self._worker
        log.info("lane %d: job %s running (attempt %d of %d)", self.spec.index, job.id, job.attempts,
                 MAX_ATTEMPTS)
        workdir = self._jobs_dir / job.id
        worker.send(cmd="run", job_id=job.id, spec=job.spec.to_dict(), workdir=str(workdir),
                    videos_dir=str(self._videos_dir))
        stage = job.stage or "script"
        started = time.perf_counter()
        try:
            for event in command_events(worker, job.id, stall_seconds=self._stall, cancel=lambda: (
                    self._stopping.is_set() or self._cancel_requested(job.id))):
                kind = event.get("event")
                if kind == "progress":
                    stage = str(event["stage"])
                    self._store.progress(job.id, stage, float(event["percent"]), str(event["message"]))
                elif kind == "note":
                    self._store.note(job.id, str(event["line"]))
                elif kind == "stage_done":
                    self._store.stage_time(job.id, str(event["stage"]), float(event["seconds"]))
                elif kind in ("done", "error", "cancelled"):
                    self._deaths = 0
                    self._finished(job, kind, event, time.perf_counter() - started)
                    return
        except WorkerLost as lost:
            self._lost_worker(job, stage, lost.reason)

    def _storyboard_task(self) -> bool:
        """Run a queued storyboard task, if there is one (before video jobs: a creator waits on it)."""
        from server.storyboard_tasks import run_task

        assert self._worker is not None
        task = self._tasks.claim_task()
        if task is None:
            return False
        self.current = task.id
        try:
            kept = run_task(self._worker, task, self._tasks, data_dir=self._jobs_dir.parent,
                            stall_seconds=self._stall, stopping=self._stopping)
        finally:
            self.current = None
        if kept:
            self._deaths = 0
        else:
            self._drop_worker()
        return True

    def _cancel_requested(self, job_id: str) -> bool:
        job = self._store.get(job_id)
        return job is None or job.cancel_requested or job.state.finished

    def _finished(self, job: Job, kind: str, event: dict[str, Any], seconds: float) -> None:
        if kind == "done" and not self._cancel_requested(job.id):
            board = job.spec.storyboard_id
            if board:  # its scenes show what the render made, once complete
                self._tasks.adopt_render(board, job.id, job.spec, self._jobs_dir / job.id)
            self._store.finish(job.id, JobState.COMPLETE, video=str(event["video"]),
                               substatus="Video ready for download")
            log.info("%6.2fs job %s complete -> %s", seconds, job.id, event["video"])
            if board:  # what the storyboard no longer uses goes
                self._tasks.prune(board)
        elif kind == "error":
            self._store.finish(job.id, JobState.ERROR, error=str(event["message"]), substatus="Failed")
            log.warning("%6.2fs job %s failed in %s: %s", seconds, job.id, event.get("stage"),
                        event["message"])
        elif self._stopping.is_set() and not self._cancel_requested(job.id):
            self._store.requeue(job.id, refund=True)
            log.info("job %s interrupted by shutdown; will resume on next start", job.id)
        else:
            self.finish_cancelled(job.id, video=event.get("video"))

    def finish_cancelled(self, job_id: str, video: Any = None) -> None:
        finish_cancelled(self._store, self._jobs_dir / job_id,
                         self._videos_dir / str(video) if video else None)

    def _drop_worker(self) -> None:
        """The worker died, hung or failed a task: kill what is left of it; the loop starts a fresh
        one after the back-off."""
        assert self._worker is not None
        self._worker.kill()
        self._worker = None
        self._deaths += 1
        self._restarts += 1

    def _lost_worker(self, job: Job, stage: str, reason: str) -> None:
        """The worker died or hung with ``job`` on it: retry the job from its files, or fail it."""
        self._drop_worker()
        log.error("lane %d: the worker running job %s (%s stage) %s", self.spec.index, job.id, stage, reason)
        if self._cancel_requested(job.id):
            self.finish_cancelled(job.id)
        elif self._stopping.is_set():
            self._store.requeue(job.id, refund=True)
        elif job.attempts >= MAX_ATTEMPTS:
            self._store.finish(job.id, JobState.ERROR, substatus="Failed", error=(
                f"The {stage} stage {reason}. Tried {job.attempts} times; the job's files are kept "
                f"in {self._jobs_dir / job.id}."))
        else:
            self._store.note(job.id, f"The {stage} stage {reason}; retrying from the files already made "
                                     f"(attempt {job.attempts + 1} of {MAX_ATTEMPTS})")
            self._store.requeue(job.id)
