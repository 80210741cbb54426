"""A real video end to end on the embedded defaults (no weights, no GPU, no network), and a
job that survives `kill -9` of the server."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

from engine.compose.ffmpeg import probe
from engine.progress import STAGE_RANGES
from tests.conftest import EXAMPLE_REQUEST
from tests.live_server import free_port, get, post, start_server, stop_server, wait_for
from tests.netguard import no_network


async def test_example_request_makes_a_real_video_offline(client: Any, config: Any) -> None:
    with no_network():
        resp = await client.post(
            "/api/generate-video", json=EXAMPLE_REQUEST, headers={"Origin": "http://localhost:5173"}
        )
        assert resp.status == 200
        job_id = (await resp.json())["job_id"]
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + 600
        while True:
            body = await (await client.get("/api/progress")).json()
            seen.append(body)
            if body["status"] != "generating":
                break
            assert time.monotonic() < deadline, "job did not finish in 10 minutes"
            await asyncio.sleep(0.2)

    assert body["status"] == "complete", body
    assert body["progress"] == 100 and body["substatus"] == "Video ready for download"
    numbers = [b["progress"] for b in seen]
    assert numbers == sorted(numbers), "progress went backwards"
    for b in seen:
        if b["status"] == "generating" and b.get("stage") in STAGE_RANGES:
            lo, hi = STAGE_RANGES[b["stage"]]
            assert int(lo) <= b["progress"] <= hi, b
    assert any("scene" in b.get("substatus", "").lower() for b in seen)

    job = await (await client.get(f"/api/jobs/{job_id}")).json()
    assert set(job["timings"]) == {"script", "images", "narration", "video"}
    assert any("draft" in line.lower() for line in job["details"])

    video = await client.get(f"/api/video/{body['video_path']}")
    assert video.status == 200
    path = config.videos_dir / body["video_path"]
    assert path.name.startswith("video_") and path.stat().st_size == len(await video.read())
    info = probe(path)
    v, a = info.first("video"), info.first("audio")
    assert v is not None and v.codec == "h264" and v.pix_fmt.startswith("yuv420p")
    assert (v.width, v.height) == (1920, 1080)
    assert a is not None and a.codec == "aac"
    requested = EXAMPLE_REQUEST["duration"] * 60
    assert info.duration is not None and abs(info.duration - requested) <= 0.15 * requested, info.duration
    workdir = config.jobs_dir / job_id
    for artifact in (
        "script.json",
        "narration.json",
        "timeline.json",
        "images/scene_01.png",
        "audio/scene_01.wav",
    ):
        assert (workdir / artifact).is_file(), artifact


def test_job_resumes_after_kill_9(tmp_path: Path) -> None:
    port = free_port()
    proc = start_server(port, tmp_path)
    try:
        status, body = post(port, "/api/generate-video", EXAMPLE_REQUEST)
        assert status == 200, body
        job_id = body["job_id"]
        wait_for(lambda: get(port, f"/api/progress?job_id={job_id}")["progress"] >= 50, 300,
                 "the script and images to be done")
    finally:
        stop_server(proc, signal.SIGKILL)
    before = {
        p.name: p.stat().st_mtime_ns for p in (tmp_path / "data" / "jobs" / job_id / "images").glob("*.png")
    }
    assert before, "images were made before the kill"

    proc = start_server(port, tmp_path)
    try:
        body = wait_for(lambda: (b := get(port, f"/api/progress?job_id={job_id}"))["status"] != "generating"
                        and b, 600, "the resumed job to finish", every=0.3)
        assert body["status"] == "complete", body
        job = get(port, f"/api/jobs/{job_id}")
        assert job["attempts"] == 2
        assert any("reusing the script" in line for line in job["details"])
        after = {
            p.name: p.stat().st_mtime_ns
            for p in (tmp_path / "data" / "jobs" / job_id / "images").glob("*.png")
        }
        assert {k: after[k] for k in before} == before, "images were redrawn instead of reused"
        assert (tmp_path / "videos" / body["video_path"]).is_file()
        assert [p.name for p in (tmp_path / "videos").glob("*.mp4")] == [body["video_path"]], \
            "the resumed job made one video, named for the job"
        assert job_id in body["video_path"]
    finally:
        stop_server(proc)
