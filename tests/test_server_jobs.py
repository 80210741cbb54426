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
