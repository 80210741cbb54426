"""A real video end to end on the embedded defaults (no weights, no GPU, no network), and a
job that survives `kill -9` of the server."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from engine.compose.ffmpeg import probe
from engine.progress import STAGE_RANGES
from tests.conftest import EXAMPLE_REQUEST
from tests.netguard import no_network

ROOT = Path(__file__).resolve().parents[1]


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return dict(json.loads(r.read()))


def _start_server(port: int, tmp: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(tmp / "data"),
            "--videos-dir",
            str(tmp / "videos"),
            "--models-dir",
            str(tmp / "models"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / f"server-{time.time_ns()}.log", "wb"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(port, "/health")["status"] == "ok":
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start")


def test_job_resumes_after_kill_9(tmp_path: Path) -> None:
    port = _free_port()
    proc = _start_server(port, tmp_path)
    try:
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/generate-video",
            data=json.dumps(EXAMPLE_REQUEST).encode(),
            headers={"Content-Type": "application/json"},
        )
        job_id = json.loads(urllib.request.urlopen(req, timeout=10).read())["job_id"]
        deadline = time.monotonic() + 300
        while _get(port, f"/api/progress?job_id={job_id}")["progress"] < 50:  # script and images done
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = {
        p.name: p.stat().st_mtime_ns for p in (tmp_path / "data" / "jobs" / job_id / "images").glob("*.png")
    }
    assert before, "images were made before the kill"

    proc = _start_server(port, tmp_path)
    try:
        deadline = time.monotonic() + 600
        while (body := _get(port, f"/api/progress?job_id={job_id}"))["status"] == "generating":
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert body["status"] == "complete", body
        job = _get(port, f"/api/jobs/{job_id}")
        assert job["attempts"] == 2
        assert any("reusing the script" in line for line in job["details"])
        after = {
            p.name: p.stat().st_mtime_ns
            for p in (tmp_path / "data" / "jobs" / job_id / "images").glob("*.png")
        }
        assert {k: after[k] for k in before} == before, "images were redrawn instead of reused"
        assert (tmp_path / "videos" / body["video_path"]).is_file()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
