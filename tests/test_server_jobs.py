"""The job store and queue: durable records, monotonic progress, FIFO lane, cancel."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from engine.spec import JobSpec
from server.jobs import DETAIL_LINES, JobState, JobStore
from tests.conftest import EXAMPLE_REQUEST


def test_store_survives_reopen_and_keeps_progress_monotonic(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    a = store.create(JobSpec(topic="first", notes=("story_type 'x' -> mystery",)))
    b = store.create(JobSpec(topic="second"))
    store.start(a.id)
    store.progress(a.id, "images", 40.0, "Creating scene 3 of 10")
    store.progress(a.id, "images", 30.0, "Creating scene 4 of 10")  # never goes backwards
    for i in range(DETAIL_LINES + 5):
        store.note(a.id, f"line {i}")
    store.stage_time(a.id, "script", 1.5)
    store.close()

    store = JobStore(db)
    job = store.get(a.id)
    assert job is not None and job.state is JobState.RUNNING
    assert job.progress == 40.0 and job.substatus == "Creating scene 4 of 10" and job.stage == "images"
    assert len(job.details) == DETAIL_LINES and job.details[-1] == f"line {DETAIL_LINES + 4}"
    assert job.timings == {"script": 1.5}
    assert job.spec.topic == "first"
    assert [j.id for j in store.recent()] == [b.id, a.id]
    assert [j.id for j in store.unfinished()] == [a.id, b.id]
    assert store.ahead_of(b.id) == 1 and store.ahead_of(a.id) == 0
    store.finish(a.id, JobState.COMPLETE, video="video_x.mp4")
    done = store.get(a.id)
    assert done is not None and done.progress == 100 and done.video == "video_x.mp4"
    assert store.ahead_of(b.id) == 0
    store.close()


async def _post(client: Any, **overrides: Any) -> str:
    resp = await client.post("/api/generate-video", json={**EXAMPLE_REQUEST, **overrides})
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["job_id"])


async def _job(client: Any, job_id: str) -> dict[str, Any]:
    return dict(await (await client.get(f"/api/jobs/{job_id}")).json())


async def test_queue_is_fifo_and_waiting_jobs_say_so(client: Any) -> None:
    first = await _post(client)
    second = await _post(client, topic="second")
    third = await _post(client, topic="third")
    progress = await (await client.get(f"/api/progress?job_id={third}")).json()
    assert progress["status"] == "generating" and progress["progress"] == 0
    assert progress["state"] == "queued"
    assert progress["substatus"] == "Waiting for 2 job(s) ahead"
    latest = await (await client.get("/api/progress")).json()
    assert latest["job_id"] == third
    jobs = (await (await client.get("/api/jobs")).json())["jobs"]
    assert [j["job_id"] for j in jobs] == [third, second, first]

    # Cancelling a queued job is immediate; the one behind it moves up.
    resp = await client.post(f"/api/jobs/{second}/cancel")
    assert resp.status == 202
    cancelled = await (await client.get(f"/api/progress?job_id={second}")).json()
    assert cancelled["status"] == "error" and cancelled["state"] == "cancelled"
    assert "Cancel" in cancelled["error"]
    progress = await (await client.get(f"/api/progress?job_id={third}")).json()
    assert progress["substatus"] == "Waiting for 1 job(s) ahead"
    assert (await client.post(f"/api/jobs/{second}/cancel")).status == 409


async def test_running_job_cancels_within_two_seconds(client: Any, config: Any) -> None:
    job_id = await _post(client)
    deadline = time.monotonic() + 120
    while (await _job(client, job_id))["state"] != "running" or (await _job(client, job_id))["progress"] < 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    asked = time.monotonic()
    assert (await client.post(f"/api/jobs/{job_id}/cancel")).status == 202
    while (await _job(client, job_id))["state"] != "cancelled":
        assert time.monotonic() - asked < 5, "cancel did not take effect"
        await asyncio.sleep(0.05)
    took = time.monotonic() - asked
    assert took < 2.5, f"cancel took {took:.2f}s"
    assert not (config.jobs_dir / job_id).exists()  # its partial files are gone
    assert not list(config.videos_dir.glob("*.part*"))


def test_claims_are_atomic_across_connections_and_fifo(tmp_path: Path) -> None:
    import threading

    db = tmp_path / "jobs.sqlite3"
    seed = JobStore(db)
    ids = [seed.create(JobSpec(topic=f"job {i}")).id for i in range(40)]
    claimed: list[list[str]] = [[] for _ in range(4)]

    def lane(n: int) -> None:
        store = JobStore(db)  # a connection of its own, as a second process would have
        while (job := store.claim()) is not None:
            claimed[n].append(job.id)
        store.close()

    threads = [threading.Thread(target=lane, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [job_id for lane_ids in claimed for job_id in lane_ids]
    assert sorted(every) == sorted(ids), "every job claimed exactly once"
    for lane_ids in claimed:
        assert lane_ids == sorted(lane_ids, key=ids.index), "each lane takes the oldest first"
    assert all(seed.get(i).attempts == 1 for i in ids)  # type: ignore[union-attr]
    seed.close()


def test_state_changes_only_from_the_state_they_leave(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    job = store.create(JobSpec(topic="once"))
    assert store.start(job.id) and not store.start(job.id)  # running is not queued
    assert store.finish(job.id, JobState.COMPLETE, video="v.mp4")
    assert not store.finish(job.id, JobState.ERROR, error="late")  # a finished job stays finished
    assert not store.requeue(job.id)
    assert store.claim() is None
    done = store.get(job.id)
    assert done is not None and done.state is JobState.COMPLETE and done.error is None

    queued = store.create(JobSpec(topic="cancel me"))
    cancelled = store.request_cancel(queued.id)
    assert cancelled is not None and cancelled.state is JobState.CANCELLED and cancelled.cancel_requested
    assert store.claim() is None, "a cancelled job is never claimed"

    running = store.create(JobSpec(topic="cancel me while running"))
    assert store.claim() is not None
    asked = store.request_cancel(running.id)
    assert asked is not None and asked.state is JobState.RUNNING and asked.cancel_requested
    assert store.requeue(running.id, refund=True)
    assert store.claim() is None, "a job whose cancel is recorded is not claimed again"
    store.close()


def test_a_final_state_that_cannot_be_written_is_served_from_memory(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    job = store.create(JobSpec(topic="locked out"))
    assert store.claim() is not None
    blocker = sqlite3.connect(db, isolation_level=None, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database: writes wait, then fail
    store.progress(job.id, "images", 30.0, "Creating scene 1 of 3")  # best effort: no exception
    assert store.finish(job.id, JobState.ERROR, error="the images stage failed")
    seen = store.get(job.id)
    assert seen is not None and seen.state is JobState.ERROR and seen.error == "the images stage failed"
    assert [j.id for j in store.unfinished()] == []
    blocker.execute("ROLLBACK")
    blocker.close()
    store.note(job.id, "a later write")  # the next write also writes what was kept
    store.close()
    reopened = JobStore(db).get(job.id)
    assert reopened is not None and reopened.state is JobState.ERROR
