"""Retention: what the server keeps on a creator's disk over months, and how much room it takes.

- ``DELETE /api/jobs/{id}`` removes a finished (complete, failed or cancelled) job's work folder,
  and its video when asked (``delete_job_files``). The job's row stays, so its id still answers.
- A finished job's work folder is kept ``keep_work_days`` for reruns and edits, then swept.
- An upload no unfinished job refers to is swept once it is a day old.
- The sweep runs at start and then hourly, on a thread; ``/health`` reads a cached disk report
  that is re-measured on a thread when older than a few seconds.

Nothing here runs on the event loop except reading the cache."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, AsyncIterator, Callable, TypeVar

from aiohttp import web

from engine.errors import EngineError
from engine.tempnames import is_part_name, remove
from server.config import Config
from server.jobs import Job, JobStore
from server.storyboards import files_in_use

logger = logging.getLogger(__name__)
T = TypeVar("T")

DAY_S = 86400.0
ORPHAN_UPLOAD_AGE_S = DAY_S
SWEEP_INTERVAL_S = 3600.0
DISK_MAX_AGE_S = 5.0


class DeleteFailed(EngineError):
    """Files of a job could not be removed (permissions, a busy file); the message says which."""


@dataclass(frozen=True)
class Deleted:
    job_id: str
    work_folder: bool  # True when a work folder was there and is gone now
    video: str | None  # the video file removed, if one was asked for and there
    freed_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "deleted": {"work_folder": self.work_folder, "video": self.video},
                "freed_bytes": self.freed_bytes}


@dataclass(frozen=True)
class SweepResult:
    work_folders: tuple[str, ...] = ()  # job ids whose folders were removed
    uploads: tuple[str, ...] = ()  # upload file names removed
    freed_bytes: int = 0
    failed: tuple[str, ...] = ()


@dataclass(frozen=True)
class FolderUsage:
    path: str
    used_bytes: int
    free_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "used_bytes": self.used_bytes, "free_bytes": self.free_bytes}


@dataclass(frozen=True)
class DiskReport:
    data: FolderUsage
    videos: FolderUsage
    measured_at: float

    def to_json(self) -> dict[str, Any]:
        return {"data": self.data.to_json(), "videos": self.videos.to_json(), "measured_at": self.measured_at}


def disk_used(path: Path) -> int:
    """Bytes allocated on disk under ``path`` (like ``du``; symlinks not followed). Never raises."""
    total = 0
    pending = [path]
    while pending:
        current = pending.pop()
        try:
            st = current.lstat()
        except OSError:
            continue
        total += st.st_blocks * 512
        if not os.path.isdir(current) or os.path.islink(current):
            continue
        try:
            with os.scandir(current) as entries:
                pending.extend(Path(e.path) for e in entries)
        except OSError:
            continue
    return total


def _folder_usage(path: Path) -> FolderUsage:
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        free = 0
    return FolderUsage(str(path.resolve()), disk_used(path), free)


def measure_disk(data_dir: Path, videos_dir: Path) -> DiskReport:
    return DiskReport(_folder_usage(data_dir), _folder_usage(videos_dir), time.time())


def _video_file(videos_dir: Path, name: str | None) -> Path | None:
    """The job's video, only when its recorded name is a plain file name in ``videos_dir``."""
    if not name or Path(name).name != name or name.startswith("."):
        return None
    return videos_dir / name


def delete_job_files(job: Job, *, jobs_dir: Path, videos_dir: Path, video: bool) -> Deleted:
    """Remove a finished job's work folder (and its video when ``video``). Blocking; the caller
    checks that the job is finished. Deleting twice is not an error: nothing is left to remove."""
    if not job.state.finished:
        raise ValueError(f"job {job.id} is {job.state.value}; cancel it first")
    folder = jobs_dir / job.id
    freed = 0
    had_folder = os.path.lexists(folder)
    if had_folder:
        freed += disk_used(folder)
        why = remove(folder)
        if why is not None:
            raise DeleteFailed(f"could not remove the work folder of job {job.id}: {why}")
    removed_video = None
    path = _video_file(videos_dir, job.video) if video else None
    if path is not None and os.path.lexists(path):
        freed += disk_used(path)
        why = remove(path)
        if why is not None:
            raise DeleteFailed(f"could not remove the video {path.name}: {why}")
        removed_video = path.name
    logger.info("job %s: removed%s%s (%.1f MB)", job.id, " its work folder" if had_folder else "",
                f" and {removed_video}" if removed_video else "", freed / 1e6)
    return Deleted(job.id, had_folder, removed_video, freed)


def _uploads_in_use(store: JobStore) -> set[Path]:
    used = set()
    for job in store.unfinished():
        for raw in job.spec.files():
            try:
                used.add(Path(raw).resolve())
            except (OSError, ValueError):
                continue
    return used


def sweep_once(store: JobStore, config: Config, *, now: float | None = None) -> SweepResult:
    """Remove work folders of jobs finished more than ``keep_work_days`` ago and uploads no
    unfinished job refers to that are older than a day. Logs what it could not remove; never
    raises (a locked database or an unreadable folder waits for the next sweep)."""
    now = time.time() if now is None else now
    keep_s = max(0, config.keep_work_days) * DAY_S
    folders: list[str] = []
    uploads: list[str] = []
    failed: list[str] = []
    freed = 0
    try:
        old_jobs = store.finished_before(now - keep_s)
        in_use = _uploads_in_use(store) | files_in_use(config.db_path)  # and storyboards' uploads
    except sqlite3.Error as e:
        logger.warning("retention sweep skipped: the job database could not be read (%s)", e)
        return SweepResult()
    for job in old_jobs:
        folder = config.jobs_dir / job.id
        if not os.path.lexists(folder):
            continue
        size = disk_used(folder)
        why = remove(folder)
        if why is None:
            folders.append(job.id)
            freed += size
        else:
            failed.append(why)
    try:
        with os.scandir(config.upload_dir) as entries:
            candidates = [Path(e.path) for e in entries if e.is_file(follow_symlinks=False)]
    except OSError:
        candidates = []
    for path in candidates:
        if is_part_name(path.name) or path.resolve() in in_use:
            continue  # an upload being written, or one a queued or running job needs
        try:
            st = path.lstat()
        except OSError:
            continue
        if st.st_mtime > now - ORPHAN_UPLOAD_AGE_S:
            continue
        why = remove(path)
        if why is None:
            uploads.append(path.name)
            freed += st.st_blocks * 512
        else:
            failed.append(why)
    for why in failed:
        logger.warning("retention: could not remove %s", why)
    if folders or uploads:
        logger.info("retention: removed %d work folder(s) older than %d day(s) and %d unused upload(s), "
                    "%.1f MB", len(folders), config.keep_work_days, len(uploads), freed / 1e6)
    return SweepResult(tuple(folders), tuple(uploads), freed, tuple(failed))


class Retention:
    """Per app: the periodic sweep (a cleanup context) and the cached disk report."""

    def __init__(self, config: Config, store: Callable[[], JobStore], *,
                 interval_s: float = SWEEP_INTERVAL_S, disk_max_age_s: float = DISK_MAX_AGE_S) -> None:
        self._config = config
        self._store = store
        self._interval_s = interval_s
        self._disk_max_age_s = disk_max_age_s
        self._disk: DiskReport | None = None
        self._measuring: asyncio.Future[DiskReport] | None = None
        self.last_sweep: SweepResult | None = None

    def __repr__(self) -> str:
        return f"<Retention keep_work_days={self._config.keep_work_days} every {self._interval_s:.0f}s>"

    # -- /health ---------------------------------------------------------------------------------
    def disk(self) -> dict[str, Any] | None:
        """The last disk report (instant); starts a re-measure on a thread when it is stale."""
        stale = self._disk is None or time.time() - self._disk.measured_at > self._disk_max_age_s
        if stale and (self._measuring is None or self._measuring.done()):
            self._measuring = asyncio.get_running_loop().run_in_executor(None, self._measure)
        return self._disk.to_json() if self._disk is not None else None

    def _measure(self) -> DiskReport:
        report = measure_disk(self._config.data_dir, self._config.videos_dir)
        self._disk = report
        return report

    # -- DELETE /api/jobs/{id} -------------------------------------------------------------------
    async def delete(self, job: Job, *, video: bool) -> Deleted:
        deleted = await self._off_loop(lambda: delete_job_files(
            job, jobs_dir=self._config.jobs_dir, videos_dir=self._config.videos_dir, video=video))
        if self._disk is not None:
            self._disk = replace(self._disk, measured_at=0.0)  # the next /health re-measures
        return deleted

    # -- lifecycle -------------------------------------------------------------------------------
    async def ctx(self, app: web.Application) -> AsyncIterator[None]:
        """Register after the job store's context: measures the disk, then sweeps now and hourly."""
        await self._off_loop(self._measure)
        task = asyncio.create_task(self._periodic(), name="retention-sweep")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.wait([task])
            if self._measuring is not None:
                await asyncio.wait([self._measuring])

    async def _periodic(self) -> None:
        while True:
            try:
                self.last_sweep = await self._off_loop(lambda: sweep_once(self._store(), self._config))
                await self._off_loop(self._measure)
            except Exception:  # a bug here must not stop the next sweeps; the log has it
                logger.exception("retention sweep failed")
            await asyncio.sleep(self._interval_s)

    @staticmethod
    async def _off_loop(fn: Callable[[], T]) -> T:
        """Run ``fn`` on a thread; if the caller is cancelled meanwhile, wait for the thread to end
        (so the job store is never closed under it) and then let the cancellation through."""
        future = asyncio.get_running_loop().run_in_executor(None, fn)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            raise
