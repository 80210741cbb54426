"""JobStore: every job in SQLite (WAL) under the data dir, so nothing is lost on a restart.

Writes come from the lane supervisor threads (claim, progress, final state) and the event loop
(create, cancel); one lock serialises them. Progress writes are coalesced (at most every
PROGRESS_WRITE_INTERVAL seconds unless the stage changes) and best effort: a failed progress write
is logged, never fatal. Every state change is conditional on the state it leaves (queued ->
running -> complete / error / cancelled): a finished job never changes back. A final state that
cannot be written (disk full, database locked) is kept in memory, served from there, and written
with the next successful write. Cancel is a row first (``cancel_requested``), so the intent
survives any crash or shutdown that follows."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

from engine.spec import JobSpec

log = logging.getLogger(__name__)

DETAIL_LINES = 20
CANCELLED_MESSAGE = "Cancelled by request"
PROGRESS_WRITE_INTERVAL = 0.25


class JobState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETE = "complete"
    ERROR = "error"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.COMPLETE, JobState.ERROR, JobState.CANCELLED)

    @property
    def public_status(self) -> str:
        """The frontend's vocabulary: generating / complete / error."""
        if self is JobState.COMPLETE:
            return "complete"
        if self in (JobState.ERROR, JobState.CANCELLED):
            return "error"
        return "generating"


@dataclass(frozen=True)
class Job:
    id: str
    state: JobState
    spec: JobSpec
    created_at: float
    updated_at: float
    stage: str = ""
    progress: float = 0.0
    substatus: str = ""
    details: tuple[str, ...] = ()
    error: str | None = None
    video: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    attempts: int = 0
    cancel_requested: bool = False


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    stage TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    substatus TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    video TEXT,
    timings TEXT NOT NULL DEFAULT '{}',
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_seq ON jobs(seq);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
"""


def _row_to_job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        state=JobState(row["state"]),
        spec=JobSpec.from_dict(json.loads(row["spec"])),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        stage=row["stage"],
        progress=row["progress"],
        substatus=row["substatus"],
        details=tuple(json.loads(row["details"])),
        error=row["error"],
        video=row["video"],
        timings=json.loads(row["timings"]),
        attempts=row["attempts"],
        cancel_requested=bool(row["cancel_requested"]),
    )


#: Columns added after the first release, with their definitions (added to older databases).
_ADDED_COLUMNS: Mapping[str, str] = {"cancel_requested": "INTEGER NOT NULL DEFAULT 0"}


class JobStore:
    def __init__(self, db_path: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # A short busy timeout: a write that cannot get the database in a second is retried later
        # (progress) or kept in memory (a final state) rather than holding up the readers.
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None, timeout=1.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        have = {r["name"] for r in self._db.execute("PRAGMA table_info(jobs)")}
        for name, definition in _ADDED_COLUMNS.items():
            if name not in have:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {definition}")
        # Readers (the event loop) have a connection of their own: in WAL mode they never wait for
        # a writer's commit or checkpoint, which can take a while on a disk busy with renders.
        self._read_lock = threading.Lock()
        self._reader = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None, timeout=1.0)
        self._reader.row_factory = sqlite3.Row
        # Coalesced progress: the latest report per running job, which of them are not yet
        # written, and when each was last written.
        self._pending: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        self._last_write: dict[str, float] = {}
        # Final states that could not be written yet: job id -> column values.
        self._unwritten: dict[str, dict[str, Any]] = {}

    def close(self) -> None:
        with self._lock:
            self._flush_all()
            self._retry_unwritten()
            self._db.close()
        with self._read_lock:
            self._reader.close()

    def __repr__(self) -> str:
        return f"<JobStore {self._db!r}>"

    # -- reads ---------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        with self._read_lock:
            row = self._reader.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._view(row) if row else None

    def latest(self) -> Job | None:
        with self._read_lock:
            row = self._reader.execute("SELECT * FROM jobs ORDER BY seq DESC LIMIT 1").fetchone()
        return self._view(row) if row else None

    def recent(self, limit: int = 50) -> list[Job]:
        with self._read_lock:
            rows = self._reader.execute("SELECT * FROM jobs ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [self._view(r) for r in rows]

    def unfinished(self) -> list[Job]:
        """Queued or running jobs, oldest first (the order they must run in)."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY seq"
            ).fetchall()
        return [j for j in (self._view(r) for r in rows) if not j.state.finished]

    def ahead_of(self, job_id: str) -> int:
        """How many unfinished jobs were submitted before this one."""
        with self._read_lock:
            row = self._reader.execute(
                "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running') "
                "AND seq < (SELECT seq FROM jobs WHERE id = ?)",
                (job_id,),
            ).fetchone()
        return int(row[0])

    # -- writes --------------------------------------------------------------------------------
    def create(self, spec: JobSpec) -> Job:
        now = time.time()
        job_id = uuid.uuid4().hex[:16]
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, seq, state, spec, created_at, updated_at, details) "
                "VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs), ?, ?, ?, ?, ?)",
                (
                    job_id,
                    JobState.QUEUED.value,
                    json.dumps(spec.to_dict()),
                    now,
                    now,
                    json.dumps(list(spec.notes)[-DETAIL_LINES:]),
                ),
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def claim(self) -> Job | None:
        """Atomically move the oldest queued job to running and count the attempt; None when the
        queue is empty. One statement in one immediate transaction: two lanes (or two processes)
        can never claim the same job."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "UPDATE jobs SET state = 'running', started_at = COALESCE(started_at, ?), "
                    "updated_at = ?, attempts = attempts + 1, error = NULL WHERE id = ("
                    "SELECT id FROM jobs WHERE state = 'queued' AND cancel_requested = 0 "
                    "ORDER BY seq LIMIT 1) AND state = 'queued' RETURNING *",
                    (now, now),
                ).fetchone()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return _row_to_job(row) if row else None

    def start(self, job_id: str) -> bool:
        """queued -> running for one job (counts an attempt). False when it was not queued."""
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET state = 'running', started_at = COALESCE(started_at, ?), updated_at = ?, "
                "attempts = attempts + 1, error = NULL WHERE id = ? AND state = 'queued'",
                (now, now, job_id),
            )
        return cur.rowcount == 1

    def request_cancel(self, job_id: str) -> Job | None:
        """Record the wish to cancel before anyone acts on it. A queued job is cancelled at once;
        a running one keeps running until its lane stops it (see ``finish``). None: no such job."""
        now = time.time()
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET cancel_requested = 1, updated_at = ? "
                "WHERE id = ? AND state IN ('queued', 'running')",
                (now, job_id),
            )
            self._db.execute(
                "UPDATE jobs SET state = 'cancelled', error = ?, substatus = 'Cancelled', finished_at = ?, "
                "updated_at = ? WHERE id = ? AND state = 'queued'",
                (CANCELLED_MESSAGE, now, now, job_id),
            )
        return self.get(job_id)

    def progress(self, job_id: str, stage: str, percent: float, substatus: str) -> None:
        """Record progress; never lets the number go down. Cheap enough to call per frame, and
        best effort: a failed write is logged and retried with the next report."""
        now = time.monotonic()
        with self._lock:
            previous = self._pending.get(job_id, {})
            floor = max(float(percent), float(previous.get("progress", 0.0)))
            self._pending[job_id] = {"stage": stage, "progress": floor, "substatus": substatus}
            self._dirty.add(job_id)
            if (
                previous.get("stage") != stage
                or now - self._last_write.get(job_id, 0.0) >= PROGRESS_WRITE_INTERVAL
            ):
                self._flush_best_effort(job_id)

    def note(self, job_id: str, line: str) -> None:
        """Add a line to the job's details (best effort, like progress)."""
        with self._lock:
            try:
                self._retry_unwritten()
                self._flush(job_id)
                row = self._db.execute("SELECT details FROM jobs WHERE id = ?", (job_id,)).fetchone()
                if row is None:
                    return
                details = json.loads(row[0])
                details.append(line)
                self._db.execute(
                    "UPDATE jobs SET details = ?, updated_at = ? WHERE id = ?",
                    (json.dumps(details[-DETAIL_LINES:]), time.time(), job_id),
                )
            except sqlite3.Error as exc:
                log.warning("job %s: could not record a note (%s)", job_id, exc)

    def stage_time(self, job_id: str, stage: str, seconds: float) -> None:
        with self._lock:
            try:
                row = self._db.execute("SELECT timings FROM jobs WHERE id = ?", (job_id,)).fetchone()
                if row is None:
                    return
                timings = json.loads(row[0])
                timings[stage] = round(seconds, 3)
                self._db.execute("UPDATE jobs SET timings = ? WHERE id = ?", (json.dumps(timings), job_id))
            except sqlite3.Error as exc:
                log.warning("job %s: could not record the %s stage's time (%s)", job_id, stage, exc)

    def requeue(self, job_id: str, *, refund: bool = False) -> bool:
        """running -> queued (a lane died, or the server is stopping). ``refund`` gives back the
        attempt counted at claim (an interrupted job did not fail). False when it was not running."""
        with self._lock:
            self._forget(job_id)
            cur = self._db.execute(
                "UPDATE jobs SET state = 'queued', updated_at = ?, "
                "attempts = MAX(0, attempts - ?) WHERE id = ? AND state = 'running'",
                (time.time(), 1 if refund else 0, job_id),
            )
        return cur.rowcount == 1

    def finish(
        self,
        job_id: str,
        state: JobState,
        *,
        video: str | None = None,
        error: str | None = None,
        substatus: str = "",
    ) -> bool:
        """running (or queued) -> a final state. False when the job had already finished (a
        cancelled or finished job never changes back). When the database cannot be written (disk
        full, locked), the final state is served from memory and written with the next write."""
        if not state.finished:
            raise ValueError(f"{state} is not a final state")
        now = time.time()
        values = {"state": state.value, "video": video, "error": error, "substatus": substatus,
                  "finished_at": now, "updated_at": now}
        with self._lock:
            self._flush_best_effort(job_id)
            self._forget(job_id)
            try:
                return self._write_final(job_id, values)
            except sqlite3.Error as exc:
                log.error("job %s: could not record its final state %s (%s); keeping it in memory "
                          "until the database can be written", job_id, state.value, exc)
                self._unwritten[job_id] = values
                return True

    # -- internals (lock held) -----------------------------------------------------------------
    def _write_final(self, job_id: str, values: Mapping[str, Any]) -> bool:
        progress_sql = "100" if values["state"] == JobState.COMPLETE.value else "progress"
        cur = self._db.execute(
            f"UPDATE jobs SET state = ?, video = ?, error = ?, substatus = ?, progress = {progress_sql}, "
            "finished_at = ?, updated_at = ? WHERE id = ? AND state IN ('queued', 'running')",
            (values["state"], values["video"], values["error"], values["substatus"],
             values["finished_at"], values["updated_at"], job_id),
        )
        self._unwritten.pop(job_id, None)
        return cur.rowcount == 1

    def _retry_unwritten(self) -> None:
        for job_id, values in list(self._unwritten.items()):
            try:
                self._write_final(job_id, values)
            except sqlite3.Error:
                return

    def _view(self, row: sqlite3.Row) -> Job:
        """A row as readers should see it: with the progress not yet written and a final state
        kept in memory laid over it (reads never write, so they never wait for the disk)."""
        job = _row_to_job(row)
        pending = self._pending.get(job.id)
        if pending is not None and job.state is JobState.RUNNING:
            job = replace(job, stage=pending["stage"], substatus=pending["substatus"],
                          progress=max(job.progress, pending["progress"]))
        values = self._unwritten.get(job.id)
        if values is None:
            return job
        return replace(
            job, state=JobState(values["state"]), video=values["video"], error=values["error"],
            substatus=values["substatus"], finished_at=values["finished_at"],
            progress=100.0 if values["state"] == JobState.COMPLETE.value else job.progress,
        )

    def _flush_best_effort(self, job_id: str) -> None:
        try:
            self._retry_unwritten()
            self._flush(job_id)
        except sqlite3.Error as exc:
            log.warning("job %s: progress not recorded (%s); will retry", job_id, exc)

    def _flush(self, job_id: str) -> None:
        if job_id not in self._dirty:
            return
        pending = self._pending[job_id]
        self._db.execute(
            "UPDATE jobs SET stage = ?, progress = MAX(progress, ?), substatus = ?, updated_at = ? "
            "WHERE id = ? AND state = 'running'",
            (pending["stage"], pending["progress"], pending["substatus"], time.time(), job_id),
        )
        self._dirty.discard(job_id)
        self._last_write[job_id] = time.monotonic()

    def _forget(self, job_id: str) -> None:
        self._pending.pop(job_id, None)
        self._dirty.discard(job_id)
        self._last_write.pop(job_id, None)

    def _flush_all(self) -> None:
        for job_id in list(self._dirty):
            self._flush_best_effort(job_id)

    # -- retention (server/retention.py) ---------------------------------------------------------
    def finished_before(self, cutoff: float) -> list[Job]:
        """Complete, failed or cancelled jobs that finished before ``cutoff`` (epoch seconds),
        oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE state IN ('complete', 'error', 'cancelled') "
                "AND finished_at < ? ORDER BY finished_at",
                (cutoff,),
            ).fetchall()
        return [self._view(r) for r in rows]
