"""Pruning a storyboard's folder: pictures and voices no scene uses leave its pool after an edit, a
finished task or a finished render; what the scenes and the latest render's unchanged scenes use
stays (the next render reuses exactly that); nothing goes while a task of the storyboard is
queued or running or a render of it is unfinished, nor a file younger than the grace period; a
prune cut short is finished by the next. Real drafts, real pictures, real renders."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

from engine import artifacts
from engine import storyboard as sb
from engine.backends import choose_backends
from engine.pipeline import Backends
from engine.spec import Character, JobSpec
from engine.storyboard_prune import TRASH
from server.config import Config
from server.storyboard_edits import regenerate
from server.storyboard_models import Regenerate
from server.storyboards import Board, StoryboardStore, storyboards_dir
from tests.conftest import EXAMPLE_REQUEST
from tests.netguard import no_network
from tests.test_storyboard import wait_board, wait_job

HOUR = 3600.0


def backends(tmp: Path) -> Backends:
    return choose_backends(models_dir=tmp / "models", stock_dir=tmp / "stock", manual_roots=(),
                           script="draft", images="draft", narration="embedded", check=False).backends


def age(folder: Path, seconds: float = HOUR) -> None:
    """Every file in ``folder`` made ``seconds`` ago (past the prune's grace period)."""
    then = time.time() - seconds
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))


def keys(folder: Path, kind: str) -> set[str]:
    return {p.stem for p in (folder / "pool" / kind).glob("*" + artifacts.KINDS[kind])}


def run_task(store: StoryboardStore, tmp: Path, board: Board) -> None:
    task = store.claim_task()
    assert task is not None and task.storyboard_id == board.id
    folder = storyboards_dir(tmp) / board.id
    quiet: dict[str, Any] = dict(report=lambda p, m: None, note=lambda line: None, cancel=threading.Event())
    if task.op == "draft":
        result = sb.draft(task.spec, folder, backends(tmp), images=True, **quiet)
    else:
        assert store.prune(board.id) is None  # never while a task of the storyboard runs
        result = sb.paint(task.spec, folder, backends(tmp), task.index, **quiet)
    store.task_done(task, result)


def test_prune_keeps_what_the_scenes_use_and_waits_for_tasks(tmp_path: Path) -> None:
    store = StoryboardStore(tmp_path / "jobs.sqlite3")  # data_dir: the database's folder
    spec = JobSpec(topic="the lighthouse", story_type="scary_horror", num_scenes=3, duration_minutes=0.3,
                   seed=3, characters=(Character("Sarah", "brown hair"),))
    board = store.create(spec, want_images=True)
    run_task(store, tmp_path, board)
    board = store.get(board.id) or board
    folder = storyboards_dir(tmp_path) / board.id
    first = {u: str(board.images[u]["key"]) for u in board.uids}
    assert keys(folder, "images") == set(first.values())

    scene3 = board.uids[2]
    change, payload = regenerate(Regenerate(what="image", seed=99), scene3, 3)
    store.regenerate(board.id, scene3, "image", change, payload)
    assert store.prune(board.id) is None  # a task is queued
    run_task(store, tmp_path, board)  # its end prunes, but the old picture is within the grace period
    board = store.get(board.id) or board
    now = {u: str(board.images[u]["key"]) for u in board.uids}
    assert now[scene3] != first[scene3] and first[scene3] in keys(folder, "images")

    # what a creator's folder gathers: thumbnails, a replaced own picture, a prune cut short
    for key in (first[scene3], now[scene3]):
        sb.thumbnail(artifacts.pooled(folder / "pool", "images", key), folder / "thumbs" / f"{key}.jpg")
    (folder / "manual").mkdir()
    (folder / "manual" / "replaced.png").write_bytes(b"an own picture no scene names any more")
    (folder / "pool" / "images" / "0123456789abcdef0123.json").write_text("{}")  # its file already gone
    (folder / TRASH).mkdir()
    (folder / TRASH / "half.png").write_bytes(b"x")
    portraits = sorted(p.name for p in (folder / "pool" / "cast").iterdir())
    age(folder)
    young = folder / "manual" / "just-copied.png"  # a picture being filed right now
    young.write_bytes(b"new")

    store._pruning.add(board.id)  # while a prune runs, the storyboard's tasks are not claimed
    again, payload = regenerate(Regenerate(what="image"), board.uids[0], 1)
    store.regenerate(board.id, board.uids[0], "image", again, payload)
    assert store.claim_task() is None
    store._pruning.discard(board.id)
    run_task(store, tmp_path, board)  # scene 1 repainted; the prune at its end takes the rest
    board = store.get(board.id) or board
    latest = {u: str(board.images[u]["key"]) for u in board.uids}

    assert keys(folder, "images") == set(latest.values())  # scene 1's and 3's old pictures are gone
    assert {first[scene3], now[board.uids[0]]}.isdisjoint(keys(folder, "images"))
    assert not artifacts.sidecar(artifacts.pooled(folder / "pool", "images", first[scene3])).exists()
    assert {p.stem for p in (folder / "thumbs").glob("*.jpg")} == {now[scene3]}
    assert sorted(p.name for p in (folder / "manual").iterdir()) == ["just-copied.png"]
    assert not (folder / "pool" / "images" / "0123456789abcdef0123.json").exists()
    assert not (folder / TRASH).exists()
    assert sorted(p.name for p in (folder / "pool" / "cast").iterdir()) == portraits  # the cast stays
    for u in board.uids:  # every scene's picture is still there for the view and the render
        assert artifacts.matches(artifacts.pooled(folder / "pool", "images", latest[u]), latest[u])
    store.close()


async def test_render_and_edit_prune_what_the_next_render_does_not_need(client: Any, config: Config) -> None:
    request = {**EXAMPLE_REQUEST, "quality": "draft"}
    with no_network():
        board_id = (await (await client.post("/api/storyboards", json=request)).json())["storyboard_id"]
        assert (await wait_board(client, board_id))["state"] == "ready"
        folder = storyboards_dir(config.data_dir) / board_id
        drafted = keys(folder, "images")
        assert (await client.post(f"/api/storyboards/{board_id}/scenes/3/regenerate",
                                  json={"what": "image"})).status == 202
        await wait_board(client, board_id)
        pictures = keys(folder, "images")
        assert len(pictures) == 4  # the replaced picture is within the grace period
        age(folder)

        first = await (await client.post(f"/api/storyboards/{board_id}/render")).json()
        resp = await client.patch(f"/api/storyboards/{board_id}", json={"title": "The Lamp"})
        assert resp.status == 200
        status = (await (await client.get(f"/api/progress?job_id={first['job_id']}")).json())["status"]
        if status == "generating":  # an unfinished render: the edit pruned nothing
            assert keys(folder, "images") == pictures
        done = await wait_job(client, first["job_id"])
        assert done["status"] == "complete", done
        await asyncio.sleep(0.5)  # the lane prunes right after it records the job complete
        current = _image_keys(config, board_id)
        assert keys(folder, "images") == current and len(current) == 3  # the replaced picture is gone
        assert drafted - current and (drafted - current) <= pictures
        voices = keys(folder, "audio")
        assert len(voices) == 3

        age(folder)
        resp = await client.patch(f"/api/storyboards/{board_id}/scenes/2",
                                  json={"narration": "A bell rang twice below, and the water went still."})
        assert resp.status == 200, await resp.text()
        work = config.jobs_dir / first["job_id"] / "audio"
        used = {n: (artifacts.read_sidecar(work / f"scene_0{n}.wav") or {}).get("key") for n in (1, 2, 3)}
        assert keys(folder, "audio") == {used[1], used[3]}  # scene 2's old voice is gone

        second = await (await client.post(f"/api/storyboards/{board_id}/render")).json()
        done = await wait_job(client, second["job_id"])
        assert done["status"] == "complete", done
    job = await (await client.get(f"/api/jobs/{second['job_id']}")).json()
    assert any("Reused the narration of scene(s) 1, 3:" in line for line in job["details"]), job["details"]
    assert any("Reused the pictures of scene(s) 1, 2, 3:" in line for line in job["details"]), job["details"]
    assert len(keys(folder, "audio")) == 3


def _image_keys(config: Config, board_id: str) -> set[str]:
    store = StoryboardStore(config.db_path)
    try:
        board = store.get(board_id)
        assert board is not None
        return {str(r["key"]) for r in board.images.values()}
    finally:
        store.close()
