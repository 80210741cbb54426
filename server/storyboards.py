"""StoryboardStore: storyboards and their pending work in SQLite (the job database's file, tables of
their own), so a storyboard and a regenerate asked for survive a restart.

A storyboard row holds its spec — the request, whose ``script`` is the storyboard's scenes
(narration, image prompt, seed, the creator's picture) — a stable id per scene, the picture each
scene has now (its content key in the storyboard's pool, engine/storyboard.py), its state
(drafting / ready / error), progress, substatus and details, and the render jobs made from it.
Work on a storyboard (draft, a scene's picture or narration again) is a task row; the lanes claim
tasks before video jobs (they are short and a creator waits on them) and run them in their worker
(server/storyboard_tasks.py). A scene with a task pending is busy: edits to it answer 409.

Every change is one immediate transaction that checks what it relies on (the scene exists, is not
busy, the storyboard is not drafting); task results apply only to scenes that still exist."""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from engine.spec import JobSpec, ScriptScene

if TYPE_CHECKING:
    from engine.storyboard_prune import Pruned

log = logging.getLogger(__name__)

DETAIL_LINES = 20
OPS = ("draft", "image", "narration", "both")


def storyboards_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "storyboards"


def files_in_use(db_path: Path) -> set[Path]:
    """Files storyboards refer to (their requests' pictures, portraits and music): the retention
    sweep keeps uploads among them, as it keeps those of unfinished jobs. Read on a connection of
    its own."""
    used: set[Path] = set()
    if not Path(db_path).is_file():
        return used
    db = sqlite3.connect(db_path, timeout=5.0)
    try:
        rows = db.execute("SELECT spec FROM storyboards").fetchall()
    except sqlite3.OperationalError:  # no storyboards table yet
        rows = []
    finally:
        db.close()
    for (raw,) in rows:
        for path in JobSpec.from_dict(json.loads(raw)).files():
            try:
                used.add(Path(path).resolve())
            except (OSError, ValueError):
                continue
    return used


class Conflict(Exception):
    """The change cannot be made now (a scene is being regenerated, the storyboard is drafting)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class Task:
    id: str
    storyboard_id: str
    op: str  # draft | image | narration | both
    uid: str | None  # the scene, for everything but draft
    payload: Mapping[str, Any]
    spec: JobSpec  # the storyboard's spec when the task was claimed
    index: int  # the scene's 0-based index then (-1 for draft)


@dataclass(frozen=True)
class Board:
    id: str
    seq: int
    state: str  # drafting | ready | error
    spec: JobSpec
    uids: tuple[str, ...]
    images: Mapping[str, Mapping[str, Any]]  # uid -> {key, source, seed, prompt}
    progress: float
    substatus: str
    details: tuple[str, ...]
    error: str | None
    want_images: bool
    renders: tuple[str, ...]
    created_at: float
    updated_at: float
    busy: Mapping[str, str] = field(default_factory=dict)  # uid -> op pending on it

    @property
    def scenes(self) -> tuple[ScriptScene, ...]:
        return self.spec.script.scenes if self.spec.script is not None else ()

    @property
    def title(self) -> str:
        return self.spec.script.title if self.spec.script is not None else ""

    def index_of(self, uid: str) -> int | None:
        return self.uids.index(uid) if uid in self.uids else None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS storyboards (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    spec TEXT NOT NULL,
    uids TEXT NOT NULL DEFAULT '[]',
    images TEXT NOT NULL DEFAULT '{}',
    progress REAL NOT NULL DEFAULT 0,
    substatus TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    want_images INTEGER NOT NULL DEFAULT 1,
    renders TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS storyboard_tasks (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    storyboard_id TEXT NOT NULL,
    op TEXT NOT NULL,
    uid TEXT,
    payload TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'queued',
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS storyboard_tasks_seq ON storyboard_tasks(seq);
"""


def new_uid() -> str:
    return secrets.token_hex(4)


class StoryboardStore:
    def __init__(self, db_path: Path, data_dir: Path | None = None) -> None:
        """``data_dir``: where the storyboards' folders and the job folders are (default: the
        database's folder, as server.config lays them out)."""
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        self._data_dir = Path(data_dir) if data_dir is not None else Path(db_path).parent
        self._pruning: set[str] = set()  # storyboards being pruned: their tasks wait
        self._lock = threading.Lock()
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None, timeout=5.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"<StoryboardStore {self._db!r}>"

    # -- reads ---------------------------------------------------------------------------------
    def get(self, board_id: str) -> Board | None:
        with self._lock:
            row = self._row(board_id)
            return self._board(row) if row else None

    def recent(self, limit: int = 50) -> list[Board]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM storyboards ORDER BY seq DESC LIMIT ?",
                                    (limit,)).fetchall()
            return [self._board(r) for r in rows]

    def _row(self, board_id: str) -> sqlite3.Row | None:
        """The storyboard's row (None when there is none); the caller holds the lock."""
        row: sqlite3.Row | None = self._db.execute("SELECT * FROM storyboards WHERE id = ?",
                                                   (board_id,)).fetchone()
        return row

    def _board(self, row: sqlite3.Row) -> Board:
        busy = {r["uid"] or "*": r["op"] for r in self._db.execute(
            "SELECT uid, op FROM storyboard_tasks WHERE storyboard_id = ? ORDER BY seq", (row["id"],))}
        return Board(
            id=row["id"], seq=row["seq"], state=row["state"], spec=JobSpec.from_dict(json.loads(row["spec"])),
            uids=tuple(json.loads(row["uids"])), images=json.loads(row["images"]), progress=row["progress"],
            substatus=row["substatus"], details=tuple(json.loads(row["details"])), error=row["error"],
            want_images=bool(row["want_images"]), renders=tuple(json.loads(row["renders"])),
            created_at=row["created_at"], updated_at=row["updated_at"], busy=busy)

    # -- writes --------------------------------------------------------------------------------
    def _transaction(self, work: Callable[[], Any]) -> Any:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                out = work()
                self._db.execute("COMMIT")
                return out
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _add_task(self, board_id: str, op: str, uid: str | None, payload: Mapping[str, Any]) -> str:
        task_id = uuid.uuid4().hex[:16]
        self._db.execute(
            "INSERT INTO storyboard_tasks (id, seq, storyboard_id, op, uid, payload, created_at) VALUES "
            "(?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM storyboard_tasks), ?, ?, ?, ?, ?)",
            (task_id, board_id, op, uid, json.dumps(dict(payload)), time.time()))
        return task_id

    def create(self, spec: JobSpec, *, want_images: bool) -> Board:
        board_id = uuid.uuid4().hex[:16]
        now = time.time()

        def work() -> None:
            self._db.execute(
                "INSERT INTO storyboards (id, seq, state, spec, want_images, details, created_at, "
                "updated_at) "
                "VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM storyboards), 'drafting', ?, ?, ?, ?, ?)",
                (board_id, json.dumps(spec.to_dict()), int(want_images), json.dumps(list(spec.notes)),
                 now, now))
            self._add_task(board_id, "draft", None, {"images": want_images})

        self._transaction(work)
        board = self.get(board_id)
        assert board is not None
        return board

    def edit(self, board_id: str, change: Callable[[Board], Board]) -> Board:
        """Apply ``change`` to the storyboard in one transaction (it raises Conflict to refuse)."""
        self._change(board_id, change)
        self.prune(board_id)
        board = self.get(board_id)
        assert board is not None
        return board

    def regenerate(self, board_id: str, uid: str, op: str, change: Callable[[Board], Board],
                   payload: Mapping[str, Any]) -> Board:
        """Apply ``change`` (the new prompt or seed) and queue the task, in one transaction."""
        self._change(board_id, change, (op, uid, payload))
        board = self.get(board_id)
        assert board is not None
        return board

    def _change(self, board_id: str, change: Callable[[Board], Board],
                task: tuple[str, str, Mapping[str, Any]] | None = None) -> None:
        """``change`` written, and ``task`` (op, uid, payload) queued, in one transaction; KeyError
        when there is no such storyboard."""
        def work() -> None:
            row = self._row(board_id)
            if row is None:
                raise KeyError(board_id)
            self._write(change(self._board(row)))
            if task is not None:
                self._add_task(board_id, *task)

        self._transaction(work)

    def add_render(self, board_id: str, job_id: str) -> None:
        def work() -> None:
            row = self._db.execute("SELECT renders FROM storyboards WHERE id = ?", (board_id,)).fetchone()
            if row is not None:
                renders = [*json.loads(row[0]), job_id]
                self._db.execute("UPDATE storyboards SET renders = ?, updated_at = ? WHERE id = ?",
                                 (json.dumps(renders), time.time(), board_id))
        self._transaction(work)

    def delete(self, board_id: str) -> list[str]:
        """Remove the storyboard and its pending tasks; returns the tasks that were running."""
        def work() -> list[str]:
            running = [r[0] for r in self._db.execute(
                "SELECT id FROM storyboard_tasks WHERE storyboard_id = ? AND state = 'running'", (board_id,))]
            self._db.execute("DELETE FROM storyboard_tasks WHERE storyboard_id = ?", (board_id,))
            self._db.execute("DELETE FROM storyboards WHERE id = ?", (board_id,))
            return running
        out: list[str] = self._transaction(work)
        return out

    def _write(self, b: Board) -> None:
        self._db.execute(
            "UPDATE storyboards SET state = ?, spec = ?, uids = ?, images = ?, progress = ?, substatus = ?, "
            "details = ?, error = ?, updated_at = ? WHERE id = ?",
            (b.state, json.dumps(b.spec.to_dict()), json.dumps(list(b.uids)), json.dumps(dict(b.images)),
             b.progress, b.substatus, json.dumps(list(b.details)[-DETAIL_LINES:]), b.error, time.time(),
             b.id))

    # -- tasks (lane threads) ------------------------------------------------------------------
    def claim_task(self) -> Task | None:
        """The oldest queued task, now running, with its storyboard as it is now."""
        def work() -> Task | None:
            waiting = sorted(self._pruning)  # a storyboard being pruned: its tasks wait
            row = self._db.execute(
                "SELECT * FROM storyboard_tasks WHERE state = 'queued' AND storyboard_id NOT IN "
                f"({', '.join('?' for _ in waiting)}) ORDER BY seq LIMIT 1", waiting).fetchone()
            if row is None:
                return None
            board_row = self._row(row["storyboard_id"])
            if board_row is None:
                self._db.execute("DELETE FROM storyboard_tasks WHERE id = ?", (row["id"],))
                return None
            self._db.execute("UPDATE storyboard_tasks SET state = 'running' WHERE id = ?", (row["id"],))
            board = self._board(board_row)
            index = board.index_of(row["uid"]) if row["uid"] else -1
            if index is None:  # the scene is gone: nothing to do
                self._db.execute("DELETE FROM storyboard_tasks WHERE id = ?", (row["id"],))
                return None
            return Task(row["id"], board.id, row["op"], row["uid"], json.loads(row["payload"]), board.spec,
                        index)
        for _ in range(8):  # a task for a deleted scene is dropped; try the next
            task: Task | None = self._transaction(work)
            if task is not None or not self._has_queued():
                return task
        return None

    def _has_queued(self) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM storyboard_tasks WHERE state = 'queued' LIMIT 1").fetchone()
            return row is not None

    def task_alive(self, task_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM storyboard_tasks WHERE id = ?", (task_id,)).fetchone()
            return row is not None

    def requeue_running(self) -> int:
        """At start: tasks a previous process was running go back to the queue."""
        def work() -> int:
            cur = self._db.execute("UPDATE storyboard_tasks SET state = 'queued' WHERE state = 'running'")
            return int(cur.rowcount)
        n: int = self._transaction(work)
        return n

    def task_progress(self, task: Task, percent: float, message: str) -> None:
        try:
            with self._lock:
                self._db.execute(
                    "UPDATE storyboards SET progress = ?, substatus = ?, updated_at = ? WHERE id = ?",
                    (round(max(0.0, min(100.0, percent)), 1), message, time.time(), task.storyboard_id))
        except sqlite3.Error as exc:
            log.warning("storyboard %s: progress not recorded (%s)", task.storyboard_id, exc)

    def task_note(self, task: Task, line: str) -> None:
        def change(b: Board) -> Board:
            return replace(b, details=(*b.details, line)[-DETAIL_LINES:])
        self._apply(task, change, finished=False)

    def task_done(self, task: Task, result: Mapping[str, Any]) -> None:
        self._apply(task, lambda b: _result(b, task, result), finished=True)
        self.prune(task.storyboard_id)

    # -- renders -------------------------------------------------------------------------------
    def adopt_render(self, board_id: str, job_id: str, spec: JobSpec, workdir: Path) -> None:
        """A render of the storyboard made its video (the lane's thread, before the job reads as
        complete): the storyboard adopts the pictures it used for the scenes that did not change
        since it was queued (server/storyboard_adopt.py). Never raises: the render is complete
        whatever happens here."""
        from server.storyboard_adopt import adopt, render_pictures

        folder = storyboards_dir(self._data_dir) / board_id
        try:
            made = render_pictures(spec, workdir, folder) if folder.is_dir() else ()
        except Exception:
            log.exception("storyboard %s: the pictures of job %s not adopted", board_id, job_id)
            return

        def work() -> None:
            row = self._row(board_id)
            if row is not None:
                self._write(adopt(self._board(row), job_id, made))

        if not made:
            return
        try:
            self._transaction(work)
        except Exception:
            log.exception("storyboard %s: the pictures of job %s not adopted", board_id, job_id)

    # -- pruning -------------------------------------------------------------------------------
    def prune(self, board_id: str) -> Pruned | None:
        """Remove the pictures and voices the storyboard no longer uses from its folder
        (server/storyboard_prune.py says what it uses; engine/storyboard_prune.py removes the rest,
        atomically per file). Called after an edit, a finished task and a finished render; does
        nothing (None) while a task of the storyboard is queued or running, a render of it is
        unfinished, or it is drafting; its tasks are not claimed meanwhile. Never raises."""
        from engine.storyboard_prune import prune
        from server.storyboard_prune import keep_for

        with self._lock:
            if board_id in self._pruning:
                return None
            try:
                row = self._row(board_id)
                task = self._db.execute("SELECT 1 FROM storyboard_tasks WHERE storyboard_id = ? LIMIT 1",
                                        (board_id,)).fetchone()
                board = self._board(row) if row is not None else None
                renders = self._renders(board.renders) if board is not None else []
            except sqlite3.Error as exc:
                log.warning("storyboard %s: not pruned (%s)", board_id, exc)
                return None
            if board is None or task is not None or board.state != "ready":
                return None
            if any(state in ("queued", "running") for _, state, _ in renders):
                return None
            self._pruning.add(board_id)
        try:
            done = [(job_id, spec) for job_id, state, spec in renders if state == "complete" and spec]
            latest = (done[-1][1], self._data_dir / "jobs" / done[-1][0]) if done else None
            keep = keep_for(board, latest)
            if keep is None:
                return None
            pruned = prune(storyboards_dir(self._data_dir) / board_id, keep)
            if pruned.removed:
                log.info("storyboard %s: pruned %d file(s) no scene uses", board_id, len(pruned.removed))
            return pruned
        except OSError as exc:
            log.warning("storyboard %s: pruning stopped (%s)", board_id, exc)
            return None
        finally:
            with self._lock:
                self._pruning.discard(board_id)

    def _renders(self, job_ids: tuple[str, ...]) -> list[tuple[str, str, JobSpec | None]]:
        """The storyboard's render jobs that still exist: id, state, spec (in the order made)."""
        if not job_ids:
            return []
        try:
            rows = self._db.execute(
                f"SELECT id, state, spec FROM jobs WHERE id IN ({', '.join('?' for _ in job_ids)})",
                job_ids).fetchall()
        except sqlite3.OperationalError:  # no jobs table (a store used on its own)
            return []
        found = {r[0]: (str(r[1]), JobSpec.from_dict(json.loads(r[2]))) for r in rows}
        return [(j, *found[j]) for j in job_ids if j in found]

    def task_failed(self, task: Task, message: str) -> None:
        def change(b: Board) -> Board:
            where = "The storyboard" if task.op == "draft" else _what(task, b)
            line = f"{where} could not be made: {message}"
            failed = replace(b, details=(*b.details, line)[-DETAIL_LINES:], substatus="Failed", error=message)
            return replace(failed, state="error") if task.op == "draft" else failed
        self._apply(task, change, finished=True)

    def _apply(self, task: Task, change: Callable[[Board], Board], *, finished: bool) -> None:
        def work() -> None:
            row = self._row(task.storyboard_id)
            if finished:
                self._db.execute("DELETE FROM storyboard_tasks WHERE id = ?", (task.id,))
            if row is not None:
                self._write(change(self._board(row)))
        try:
            self._transaction(work)
        except sqlite3.Error as exc:
            log.error("storyboard %s: task %s not recorded (%s)", task.storyboard_id, task.id, exc)


def _what(task: Task, b: Board) -> str:
    index = b.index_of(task.uid or "")
    scene = f"scene {index + 1}" if index is not None else "a deleted scene"
    return {"image": f"The picture of {scene}", "narration": f"The narration of {scene}",
            "both": f"The narration and picture of {scene}"}.get(task.op, "The storyboard")


def _result(b: Board, task: Task, result: Mapping[str, Any]) -> Board:
    """A finished task's result applied to the storyboard as it is now."""
    from engine.storyboard import with_scenes

    if task.op == "draft":
        spec = JobSpec.from_dict(dict(result["spec"]))
        uids = tuple(new_uid() for _ in (spec.script.scenes if spec.script else ()))
        images: dict[str, Mapping[str, Any]] = {
            uids[int(i)]: dict(rec) for i, rec in dict(result.get("images", {})).items()}
        return replace(b, state="ready", spec=spec, uids=uids, images=images, progress=100.0,
                       substatus="Storyboard ready", error=None)
    index = b.index_of(task.uid or "")
    if index is None or b.spec.script is None:
        return b
    scenes = list(b.scenes)
    pictures: dict[str, Mapping[str, Any]] = dict(b.images)
    if "narration" in result:
        keep_prompt = task.op == "narration"
        scenes[index] = replace(scenes[index], narration=str(result["narration"]),
                                image_prompt=scenes[index].image_prompt if keep_prompt
                                else str(result.get("image_prompt") or scenes[index].image_prompt))
    if "image" in result:
        pictures[task.uid or ""] = dict(result["image"])
    spec = with_scenes(b.spec, tuple(scenes), b.title)
    return replace(b, spec=spec, images=pictures, progress=100.0, substatus=f"{_what(task, b)} is ready",
                   error=None)
