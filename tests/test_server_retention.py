"""Retention: DELETE /api/jobs/{id}, the sweep of old work folders and orphan uploads, and the disk
report in /health -- on the real app with its real job store."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.spec import JobSpec
from server.app import create_app
from server.config import Config, config_from
from server.jobs import Job, JobState, JobStore
from server.retention import DAY_S, sweep_once
from tests.conftest import EXAMPLE_REQUEST


def _finished(store: JobStore, config: Config, state: JobState, *, video: str | None = None,
              spec: JobSpec | None = None) -> Job:
    """A job that ran and ended in ``state``, with a work folder holding an artifact."""
    job = store.create(spec or JobSpec(topic="a lighthouse"))
    if state is JobState.CANCELLED:
        store.request_cancel(job.id)
    else:
        claimed = store.claim()
        assert claimed is not None and claimed.id == job.id
        store.finish(job.id, state, video=video, error=None if state is JobState.COMPLETE else "it failed")
    images = config.jobs_dir / job.id / "images"
    images.mkdir(parents=True)
    (images / "scene_01.png").write_bytes(b"\0" * 2048)
    done = store.get(job.id)
    assert done is not None and done.state is state
    return done


def _upload(config: Config, name: str, *, age_days: float) -> Path:
    config.upload_dir.mkdir(parents=True, exist_ok=True)
    path = config.upload_dir / name
    path.write_bytes(b"image bytes")
    stamp = time.time() - age_days * DAY_S
    os.utime(path, (stamp, stamp))
    return path


def test_the_sweep_keeps_work_for_keep_work_days_and_uploads_a_queued_job_needs(config: Config) -> None:
    store = JobStore(config.db_path)
    try:
        complete = _finished(store, config, JobState.COMPLETE, video="v.mp4")
        failed = _finished(store, config, JobState.ERROR)
        cancelled = _finished(store, config, JobState.CANCELLED)
        needed = _upload(config, "aaaa_needed.png", age_days=3)
        orphan = _upload(config, "bbbb_orphan.png", age_days=3)
        fresh = _upload(config, "cccc_fresh.png", age_days=0)
        writing = _upload(config, ".dddd_big.png.part-1", age_days=3)
        queued = store.create(JobSpec(topic="waits", manual_image_paths=(str(needed),)))
        (config.jobs_dir / queued.id).mkdir(parents=True)

        now = time.time()
        first = sweep_once(store, config, now=now)
        assert first.work_folders == () and first.uploads == (orphan.name,)
        assert sorted(p.name for p in config.upload_dir.iterdir()) == sorted(
            [needed.name, fresh.name, writing.name])

        assert sweep_once(store, config, now=now + 13 * DAY_S).work_folders == ()
        later = sweep_once(store, config, now=now + 15 * DAY_S)
        assert sorted(later.work_folders) == sorted([complete.id, failed.id, cancelled.id])
        assert later.freed_bytes >= 3 * 2048 and later.failed == ()
        assert sorted(p.name for p in config.jobs_dir.iterdir()) == [queued.id]
        assert needed.exists(), "a queued job's upload stays, however old"
        assert store.get(complete.id) is not None, "the job's record stays"
    finally:
        store.close()


async def test_delete_removes_the_work_folder_then_the_video_when_asked(
    aiohttp_client: Any, config: Config
) -> None:
    store = JobStore(config.db_path)
    config.videos_dir.mkdir(parents=True)
    video = config.videos_dir / "video_20260101_120000.mp4"
    video.write_bytes(b"\0" * 4096)
    job = _finished(store, config, JobState.COMPLETE, video=video.name)
    store.close()
    client = await aiohttp_client(create_app(config))
    folder = config.jobs_dir / job.id

    r = await client.delete(f"/api/jobs/{job.id}", headers={"Origin": "http://evil.example"})
    assert r.status == 403 and folder.is_dir()
    r = await client.options(f"/api/jobs/{job.id}", headers={
        "Origin": "http://localhost:5173", "Access-Control-Request-Method": "DELETE"})
    assert r.status == 200 and "DELETE" in r.headers["Access-Control-Allow-Methods"]

    r = await client.delete(f"/api/jobs/{job.id}")
    assert r.status == 200
    body = await r.json()
    assert body["deleted"] == {"work_folder": True, "video": None} and body["freed_bytes"] >= 2048
    assert not folder.exists() and video.is_file()
    assert (await client.get(f"/api/jobs/{job.id}")).status == 200, "the record stays"

    r = await client.delete(f"/api/jobs/{job.id}?video=true")
    assert r.status == 200
    assert (await r.json())["deleted"] == {"work_folder": False, "video": video.name}
    assert not video.exists()

    r = await client.delete(f"/api/jobs/{job.id}?video=perhaps")
    assert r.status == 400 and (await r.json())["field"] == "video"

    r = await client.delete("/api/jobs/nosuchjob")
    assert r.status == 404
    assert "No job with id 'nosuchjob'" in (await r.json())["error"]


async def test_delete_refuses_an_unfinished_job_until_it_is_cancelled(
    aiohttp_client: Any, config: Config
) -> None:
    client = await aiohttp_client(create_app(config))
    r = await client.post("/api/generate-video", json=EXAMPLE_REQUEST)
    job_id = (await r.json())["job_id"]

    r = await client.delete(f"/api/jobs/{job_id}")
    assert r.status == 409
    body = await r.json()
    assert body["field"] == "job_id" and "cancel it first" in body["error"]

    assert (await client.post(f"/api/jobs/{job_id}/cancel")).status == 202
    deadline = time.monotonic() + 120
    while (await (await client.get(f"/api/jobs/{job_id}")).json())["state"] != "cancelled":
        assert time.monotonic() < deadline, "the cancel never took effect"
        await asyncio.sleep(0.1)
    r = await client.delete(f"/api/jobs/{job_id}")
    assert r.status == 200
    assert not (config.jobs_dir / job_id).exists()


async def test_a_running_server_sweeps_work_folders_past_keep_work_days(
    aiohttp_client: Any, config: Config
) -> None:
    store = JobStore(config.db_path)
    job = _finished(store, config, JobState.COMPLETE, video="gone.mp4")
    store.close()
    await aiohttp_client(create_app(replace(config, keep_work_days=0)))
    deadline = time.monotonic() + 60
    while (config.jobs_dir / job.id).exists():  # the first sweep runs at start, on a thread
        assert time.monotonic() < deadline, "the start-up sweep never removed the old work folder"
        await asyncio.sleep(0.1)


async def test_health_reports_disk_used_and_free(aiohttp_client: Any, config: Config) -> None:
    config.videos_dir.mkdir(parents=True)
    (config.videos_dir / "big.mp4").write_bytes(os.urandom(300 * 1024))
    client = await aiohttp_client(create_app(config))
    r = await client.get("/health")
    assert r.status == 200
    disk = (await r.json())["disk"]
    assert disk["videos"]["used_bytes"] >= 300 * 1024
    assert disk["data"]["used_bytes"] > 0  # the job database at least
    assert disk["data"]["free_bytes"] > 0 and disk["videos"]["free_bytes"] > 0
    assert disk["data"]["path"] == str(config.data_dir.resolve())


def test_keep_work_days_is_a_flag_and_an_environment_variable() -> None:
    assert Config().keep_work_days == 14
    assert config_from(["--keep-work-days", "3"], env={}).keep_work_days == 3
    assert config_from([], env={"STORYREEL_KEEP_WORK_DAYS": "30"}).keep_work_days == 30
