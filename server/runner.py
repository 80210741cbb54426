"""JobRunner: a FIFO queue feeding one GPU lane (a single worker thread). Jobs run one at a
time, off the event loop; cancel is cooperative (a threading.Event the stages check); on start,
unfinished jobs from a previous run are re-queued and resume from their artifacts."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.errors import EngineError, JobCancelled
from engine.pipeline import Backends, run
from engine.spec import JobSpec
from server.jobs import Job, JobState, JobStore

logger = logging.getLogger(__name__)


class StoreReporter:
    """Pipeline progress -> the job's row."""

    def __init__(self, store: JobStore, job_id: str) -> None:
        self._store, self._id = store, job_id
        self.stage = "script"

    def progress(self, stage: str, percent: float, message: str) -> None:
        self.stage = stage
        self._store.progress(self._id, stage, percent, message)

    def note(self, line: str) -> None:
        self._store.note(self._id, line)

    def stage_done(self, stage: str, seconds: float) -> None:
        self._store.stage_time(self._id, stage, seconds)


class JobRunner:
    def __init__(self, store: JobStore, backends: Backends, *, jobs_dir: Path, videos_dir: Path) -> None:
        self._store = store
        self._backends = backends
        self._jobs_dir = jobs_dir
        self._videos_dir = videos_dir
        self._lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpu-lane")
        self._cancels: dict[str, threading.Event] = {}
        self._futures: set[asyncio.Future[None]] = set()
        self._stopping = threading.Event()

    def __repr__(self) -> str:
        return f"<JobRunner pending={len(self._futures)} stopping={self._stopping.is_set()}>"

    # -- lifecycle -----------------------------------------------------------------------------
    def resume_unfinished(self) -> list[str]:
        """Re-queue every job a previous process left queued or running, oldest first."""
        resumed = []
        for job in self._store.unfinished():
            self._store.requeue(job.id)
            if job.state is JobState.RUNNING:
                self._store.note(job.id, "Server restarted: resuming from the files already made")
            self._enqueue(job.id)
            resumed.append(job.id)
            logger.info("job %s re-queued after restart (was %s)", job.id, job.state.value)
        return resumed

    async def close(self, timeout: float = 10.0) -> None:
        """Stop: the running job is interrupted and stays queued, so the next start resumes it."""
        self._stopping.set()
        for event in self._cancels.values():
            event.set()
        self._lane.shutdown(wait=False, cancel_futures=True)
        pending = [f for f in self._futures if not f.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    # -- requests --------------------------------------------------------------------------------
    def submit(self, spec: JobSpec) -> Job:
        job = self._store.create(spec)
        logger.info(
            "job %s queued: %r (%s, %.2g min, %d scenes)",
            job.id,
            spec.topic,
            spec.story_type,
            spec.duration_minutes,
            spec.num_scenes,
        )
        self._enqueue(job.id)
        return job

    def cancel(self, job_id: str) -> Job | None:
        job = self._store.get(job_id)
        if job is None or job.state.finished:
            return job
        event = self._cancels.get(job_id)
        if event is not None:
            event.set()
        if job.state is JobState.QUEUED:
            self._finish_cancelled(job_id)
        logger.info("job %s cancel requested (%s)", job_id, job.state.value)
        return self._store.get(job_id)

    # -- the lane --------------------------------------------------------------------------------
    def _enqueue(self, job_id: str) -> None:
        event = threading.Event()
        self._cancels[job_id] = event
        future = asyncio.get_running_loop().run_in_executor(self._lane, self._work, job_id, event)
        self._futures.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[None]) -> None:
        self._futures.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error("GPU lane task failed", exc_info=future.exception())

    def _work(self, job_id: str, cancel: threading.Event) -> None:
        try:
            job = self._store.get(job_id)
            if job is None or job.state.finished or self._stopping.is_set():
                return
            if cancel.is_set():
                self._finish_cancelled(job_id)
                return
            self._run_job(job, cancel)
        finally:
            self._cancels.pop(job_id, None)

    def _run_job(self, job: Job, cancel: threading.Event) -> None:
        self._store.start(job.id)
        started = time.perf_counter()
        logger.info("job %s running (attempt %d)", job.id, job.attempts + 1)
        reporter = StoreReporter(self._store, job.id)
        workdir = self._jobs_dir / job.id
        try:
            result = run(
                job.spec,
                workdir,
                backends=self._backends,
                videos_dir=self._videos_dir,
                reporter=reporter,
                cancel=cancel,
            )
        except JobCancelled:
            if self._stopping.is_set():
                self._store.requeue(job.id)
                logger.info("job %s interrupted by shutdown; will resume on next start", job.id)
            else:
                self._finish_cancelled(job.id)
            return
        except EngineError as exc:
            self._store.finish(job.id, JobState.ERROR, error=exc.message, substatus="Failed")
            logger.warning(
                "%6.2fs job %s failed in %s: %s",
                time.perf_counter() - started,
                job.id,
                reporter.stage,
                exc.message,
            )
            return
        except Exception as exc:  # a bug or an unexpected library failure: say so, keep serving
            logger.exception("job %s crashed in stage %s", job.id, reporter.stage)
            message = (
                f"Unexpected failure while working on the {reporter.stage} stage: "
                f"{type(exc).__name__}: {exc}. The job's files are in {workdir}; "
                "see the server log for details."
            )
            self._store.finish(job.id, JobState.ERROR, error=message, substatus="Failed")
            return
        self._store.finish(
            job.id, JobState.COMPLETE, video=result.video.name, substatus="Video ready for download"
        )
        logger.info("%6.2fs job %s complete -> %s", time.perf_counter() - started, job.id, result.video.name)

    def _finish_cancelled(self, job_id: str) -> None:
        # Files first: once the job reads "cancelled", its partial files are already gone.
        shutil.rmtree(self._jobs_dir / job_id, ignore_errors=True)
        self._store.finish(job_id, JobState.CANCELLED, error="Cancelled by request", substatus="Cancelled")
        logger.info("job %s cancelled", job_id)
