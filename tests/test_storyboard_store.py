"""The storyboard store and its edits without a server: a real draft (engine/storyboard.py on the
embedded backends) applied as the lane applies it, then the rules: a busy scene refuses edits
(409), other scenes do not; the scene list is locked while any scene is regenerated; a task of a
deleted storyboard is dropped; tasks left running resume after a restart; a rewrite keeps to the
scene's place and budget; uploads a storyboard refers to survive the retention sweep."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from engine import storyboard as sb
from engine.backends import choose_backends
from engine.pipeline import Backends
from engine.spec import Character, JobSpec
from server.config import Config
from server.jobs import JobStore
from server.retention import DAY_S, sweep_once
from server.schemas import parse_video_request
from server.storyboard_edits import edit_board, edit_scene, regenerate
from server.storyboard_models import Regenerate, SceneEdit, StoryboardEdit
from server.storyboards import Board, Conflict, StoryboardStore
from tests.conftest import EXAMPLE_REQUEST


def backends(tmp: Path) -> Backends:
    return choose_backends(models_dir=tmp / "models", stock_dir=tmp / "stock", manual_roots=(),
                           script="draft", images="draft", narration="embedded", check=False).backends


def drafted(store: StoryboardStore, spec: JobSpec, tmp: Path) -> Board:
    board = store.create(spec, want_images=True)
    task = store.claim_task()
    assert task is not None and task.op == "draft" and task.storyboard_id == board.id
    result = sb.draft(task.spec, tmp / board.id, backends(tmp), images=True, report=lambda p, m: None,
                      note=lambda line: None, cancel=threading.Event())
    store.task_done(task, result)
    done = store.get(board.id)
    assert done is not None and done.state == "ready" and not done.busy
    return done


def test_busy_scene_refuses_edits_and_tasks_follow_their_scene(tmp_path: Path) -> None:
    store = StoryboardStore(tmp_path / "db.sqlite3")
    spec = JobSpec(topic="the lighthouse", story_type="scary_horror", num_scenes=4, duration_minutes=0.4,
                   seed=3, characters=(Character("Sarah", "brown hair"),))
    board = drafted(store, spec, tmp_path)
    assert len(board.scenes) == 4 and len(set(board.uids)) == 4 and set(board.images) == set(board.uids)
    assert board.spec.characters[0].name == "Sarah"
    portraits = list((tmp_path / board.id / "pool" / "cast").glob("*.png"))  # for the render to adopt
    assert [p.name.split("-")[0] for p in portraits] == ["sarah"]

    scene3 = board.uids[2]
    change, payload = regenerate(Regenerate(what="image", seed=99), scene3, 3)
    busy = store.regenerate(board.id, scene3, "image", change, payload)
    assert busy.busy == {scene3: "image"} and busy.scenes[2].seed == 99
    with pytest.raises(Conflict) as refused:
        store.edit(board.id, edit_scene(SceneEdit(narration="New words."), scene3, 3, None, None))
    assert refused.value.field == "narration" and "scene 3 is being regenerated" in refused.value.message
    with pytest.raises(Conflict):  # the same scene twice
        again, _ = regenerate(Regenerate(what="narration"), scene3, 3)
        store.regenerate(board.id, scene3, "narration", again, {})
    with pytest.raises(Conflict) as locked:  # the scene list, while a scene is busy
        store.edit(board.id, edit_board(StoryboardEdit.model_validate({"scenes": [{"n": 2}, {"n": 1}]})))
    assert locked.value.field == "scenes"
    other = store.edit(board.id, edit_scene(SceneEdit(narration="Another line."), board.uids[1], 2,
                                            None, None))
    assert other.scenes[1].narration == "Another line."

    task = store.claim_task()
    assert task is not None and task.op == "image" and task.index == 2 and task.spec.script is not None
    assert task.spec.script.scenes[2].seed == 99
    assert store.requeue_running() == 1  # a restart: the task runs again
    task = store.claim_task()
    assert task is not None
    result = sb.paint(task.spec, tmp_path / board.id, backends(tmp_path), task.index,
                      report=lambda p, m: None, note=lambda line: None, cancel=threading.Event())
    store.task_done(task, result)
    after = store.get(board.id)
    assert after is not None and not after.busy
    assert after.images[scene3]["seed"] == 99 and after.images[scene3]["key"] != board.images[scene3]["key"]
    assert {u: after.images[u] for u in after.uids if u != scene3} == \
        {u: board.images[u] for u in board.uids if u != scene3}

    # deleting the storyboard drops its pending work
    scene4 = after.uids[3]
    change, payload = regenerate(Regenerate(what="image"), scene4, 4)
    store.regenerate(board.id, scene4, "image", change, payload)
    assert store.delete(board.id) == [] and store.get(board.id) is None
    assert store.claim_task() is None
    store.close()


def test_rewrite_keeps_the_scene_in_its_place_and_budget(tmp_path: Path) -> None:
    store = StoryboardStore(tmp_path / "db.sqlite3")
    spec = JobSpec(topic="a haunted mill", story_type="scary_horror", num_scenes=3, duration_minutes=0.5,
                   seed=11)
    board = drafted(store, spec, tmp_path)
    b = backends(tmp_path)
    old = board.scenes[1].narration
    result = sb.rewrite(board.spec, tmp_path / board.id, b, 1, 5, report=lambda p, m: None,
                        note=lambda line: None, cancel=threading.Event())
    assert result["narration"] and result["narration"] != old
    assert len(result["narration"].split()) <= 2 * max(len(s.narration.split()) for s in board.scenes)
    store.close()


def test_uploads_a_storyboard_uses_survive_the_sweep(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path / "data", videos_dir=tmp_path / "videos", models_dir=tmp_path / "m",
                    image_roots=(tmp_path,))
    config.upload_dir.mkdir(parents=True)
    from PIL import Image

    used, unused = config.upload_dir / "used.png", config.upload_dir / "unused.png"
    for path in (used, unused):
        Image.new("RGB", (64, 64), "red").save(path)
        old = time.time() - 3 * DAY_S
        os.utime(path, (old, old))
    jobs = JobStore(config.db_path)
    boards = StoryboardStore(config.db_path)
    spec = parse_video_request({**EXAMPLE_REQUEST, "image_mode": "manual_only",
                                "manual_image_paths": [str(used)]})
    boards.create(spec, want_images=False)
    swept = sweep_once(jobs, config)
    assert swept.uploads == ("unused.png",) and used.is_file()
    boards.close()
    jobs.close()
