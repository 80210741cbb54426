"""JobStore: every job in SQLite (WAL) under the data dir, so nothing is lost on a restart.

Writes come from the GPU lane thread (progress) and the event loop (create, cancel); one lock
serialises them. Progress writes are coalesced (at most every PROGRESS_WRITE_INTERVAL seconds
unless the stage or substatus changes) so a render's per-frame reports cost nothing."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

from engine.spec import JobSpec

DETAIL_LINES = 20
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
    attempts INTEGER NOT NULL DEFAULT 0
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
    )


class JobStore:
    def __init__(self, db_path: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        # Coalesced progress: the latest report per running job, which of them are not yet
        # written, and when each was last written.
        self._pending: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        self._last_write: dict[str, float] = {}

    def close(self) -> None:
        with self._lock:
            self._flush_all()
            self._db.close()

    def __repr__(self) -> str:
        return f"<JobStore {self._db!r}>"

    # -- reads ---------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        with self._lock:
            self._flush(job_id)
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _row_to_job(row) if row else None

    def latest(self) -> Job | None:
        with self._lock:
            self._flush_all()
            row = self._db.execute("SELECT * FROM jobs ORDER BY seq DESC LIMIT 1").fetchone()
        return _row_to_job(row) if row else None

    def recent(self, limit: int = 50) -> list[Job]:
        with self._lock:
            self._flush_all()
            rows = self._db.execute("SELECT * FROM jobs ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [_row_to_job(r) for r in rows]

    def unfinished(self) -> list[Job]:
        """Queued or running jobs, oldest first (the order they must run in)."""
        with self._lock:
            self._flush_all()
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY seq"
            ).fetchall()
        return [_row_to_job(r) for r in rows]

    def ahead_of(self, job_id: str) -> int:
        """How many unfinished jobs were submitted before this one."""
        with self._lock:
            row = self._db.execute(
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
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            self._db.execute(
                "INSERT INTO jobs (id, seq, state, spec, created_at, updated_at, details) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    job_id,
                    seq,
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

    def start(self, job_id: str) -> None:
        now = time.time()
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state = ?, started_at = COALESCE(started_at, ?), updated_at = ?, "
                "attempts = attempts + 1, error = NULL WHERE id = ?",
                (JobState.RUNNING.value, now, now, job_id),
            )

    def progress(self, job_id: str, stage: str, percent: float, substatus: str) -> None:
        """Record progress; never lets the number go down. Cheap enough to call per frame."""
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
                self._flush(job_id)

    def note(self, job_id: str, line: str) -> None:
        with self._lock:
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

    def stage_time(self, job_id: str, stage: str, seconds: float) -> None:
        with self._lock:
            row = self._db.execute("SELECT timings FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return
            timings = json.loads(row[0])
            timings[stage] = round(seconds, 3)
            self._db.execute("UPDATE jobs SET timings = ? WHERE id = ?", (json.dumps(timings), job_id))

    def requeue(self, job_id: str) -> None:
        with self._lock:
            self._forget(job_id)
            self._db.execute(
                "UPDATE jobs SET state = ?, updated_at = ? WHERE id = ? AND state IN ('queued', 'running')",
                (JobState.QUEUED.value, time.time(), job_id),
            )

    def finish(
        self,
        job_id: str,
        state: JobState,
        *,
        video: str | None = None,
        error: str | None = None,
        substatus: str = "",
    ) -> None:
        if not state.finished:
            raise ValueError(f"{state} is not a final state")
        now = time.time()
        with self._lock:
            self._flush(job_id)
            progress_sql = "100" if state is JobState.COMPLETE else "progress"
            self._db.execute(
                f"UPDATE jobs SET state = ?, video = ?, error = ?, substatus = ?, progress = {progress_sql}, "
                "finished_at = ?, updated_at = ? WHERE id = ?",
                (state.value, video, error, substatus, now, now, job_id),
            )
            self._forget(job_id)

    # -- internals (lock held) -----------------------------------------------------------------
    def _flush(self, job_id: str) -> None:
        if job_id not in self._dirty:
            return
        self._dirty.discard(job_id)
        pending = self._pending[job_id]
        self._db.execute(
            "UPDATE jobs SET stage = ?, progress = MAX(progress, ?), substatus = ?, updated_at = ? "
            "WHERE id = ?",
            (pending["stage"], pending["progress"], pending["substatus"], time.time(), job_id),
        )
        self._last_write[job_id] = time.monotonic()

    def _forget(self, job_id: str) -> None:
        self._pending.pop(job_id, None)
        self._dirty.discard(job_id)
        self._last_write.pop(job_id, None)

    def _flush_all(self) -> None:
        for job_id in list(self._dirty):
            self._flush(job_id)
