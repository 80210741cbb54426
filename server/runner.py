"""JobRunner: the job queue in SQLite, served by N lanes (server/lanes.py), each a supervisor
thread driving one worker process that runs the four stages. The server process itself never
loads a model. FIFO: every lane claims the oldest queued job. On start, jobs a previous process
left running go back to the queue and resume from their artifacts; jobs whose cancel was recorded
before a crash or shutdown are cancelled, never rendered."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from pathlib import Path

from engine.errors import EngineError
from engine.spec import JobSpec
from server.jobs import Job, JobState, JobStore
from server.lanes import Lane, finish_cancelled
from server.storyboards import StoryboardStore
from server.workerproto import BackendSummary, LaneSpec

logger = logging.getLogger(__name__)
SHUTDOWN_GRACE = 15.0


class JobRunner:
    def __init__(self, store: JobStore, *, config_json: str, lanes: tuple[LaneSpec, ...], jobs_dir: Path,
                 videos_dir: Path, stall_seconds: float, tasks: StoryboardStore) -> None:
        self._store = store
        self._tasks = tasks
        self._jobs_dir = jobs_dir
        self._wake = threading.Condition()
        self._boot: asyncio.Future[BackendSummary] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.summary: BackendSummary | None = None
        self._lanes = tuple(
            Lane(spec, store, config_json=config_json, jobs_dir=jobs_dir, videos_dir=videos_dir,
                 stall_seconds=stall_seconds, wake=self._wake, on_boot=self._booted, tasks=tasks)
            for spec in lanes
        )

    def __repr__(self) -> str:
        return f"<JobRunner lanes={len(self._lanes)} running={[lane.current for lane in self._lanes]}>"

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> BackendSummary:
        """Start every lane's worker; returns the backends the first one to boot chose. Raises
        EngineError with the worker's own words when it cannot start (e.g. a forced backend
        without weights)."""
        self._loop = asyncio.get_running_loop()
        self._boot = self._loop.create_future()
        for lane in self._lanes:
            lane.start()
        self.summary = await self._boot
        return self.summary

    def _booted(self, lane: Lane, summary: BackendSummary | None, error: str | None) -> None:
        """Called from a lane's thread each time its worker boots (or fails to)."""
        lane.healthy = summary is not None
        if error is not None:
            logger.error("lane %d: worker could not start: %s", lane.spec.index, error)
        if self._loop is None or self._boot is None:
            return

        def settle() -> None:
            assert self._boot is not None
            if self._boot.done():
                return
            if summary is not None:
                self._boot.set_result(summary)
            elif not any(other.healthy for other in self._lanes if other is not lane):
                self._boot.set_exception(EngineError(error or "the worker could not start"))

        self._loop.call_soon_threadsafe(settle)

    def resume_unfinished(self) -> list[str]:
        """Before the lanes start: jobs left running by a previous process go back to the queue
        (oldest first, as they were); jobs cancelled before that process ended are cancelled."""
        resumed = []
        for job in self._store.unfinished():
            if job.cancel_requested:
                finish_cancelled(self._store, self._jobs_dir / job.id)  # recorded before the last stop
                continue
            if job.state is JobState.RUNNING:
                self._store.requeue(job.id)
                self._store.note(job.id, "Server restarted: resuming from the files already made")
            resumed.append(job.id)
            logger.info("job %s re-queued after restart (was %s)", job.id, job.state.value)
        return resumed

    async def close(self) -> None:
        """Stop: running jobs are interrupted and go back to the queue without spending an attempt."""
        for lane in self._lanes:
            lane.stop()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(None, lane.join, SHUTDOWN_GRACE) for lane in self._lanes))

    def lanes(self) -> list[dict[str, object]]:
        return [lane.status() for lane in self._lanes]

    # -- requests --------------------------------------------------------------------------------
    def submit(self, spec: JobSpec) -> Job:
        job = self._store.create(spec)
        logger.info("job %s queued: %r (%s, %.2g min, %d scenes)", job.id, spec.topic, spec.story_type,
                    spec.duration_minutes, spec.num_scenes)
        with self._wake:
            self._wake.notify_all()
        return job

    def wake(self) -> None:
        """New work (a storyboard task) is queued: idle lanes look now."""
        with self._wake:
            self._wake.notify_all()

    def cancel(self, job_id: str) -> Job | None:
        """The wish is in the database before this returns; a running job's lane acts on it
        within a quarter of a second, a queued job is cancelled at once."""
        job = self._store.request_cancel(job_id)
        if job is not None and job.state is JobState.CANCELLED:
            shutil.rmtree(self._jobs_dir / job_id, ignore_errors=True)
        logger.info("job %s cancel requested (%s)", job_id, job.state.value if job else "unknown")
        return job
