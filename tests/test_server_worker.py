"""The lanes' worker processes under faults, on the real server and the real worker: a worker
killed mid-stage, a worker that hangs, cancel followed by a stop or a crash, two lanes at once,
a full disk."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from server.workerproto import MAX_ATTEMPTS
from tests.conftest import EXAMPLE_REQUEST
from tests.live_server import free_port, get, post, start_server, stop_server, wait_for
from tests.memcage import MemoryCage


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = start_server(port, tmp_path, "--worker-stall-seconds", "4")
    yield port, proc
    stop_server(proc)


def _submit(port: int, **overrides: Any) -> str:
    status, body = post(port, "/api/generate-video", {**EXAMPLE_REQUEST, **overrides})
    assert status == 200, body
    return str(body["job_id"])


def _job(port: int, job_id: str) -> dict[str, Any]:
    return get(port, f"/api/jobs/{job_id}")


def _worker_on(port: int, job_id: str) -> int | None:
    """The PID of the worker running ``job_id`` once its job has made some progress."""
    job = _job(port, job_id)
    if job["state"] != "running" or job["progress"] < 1:
        return None
    for lane in get(port, "/health")["lanes"]:
        if lane["job_id"] == job_id and lane["worker_pid"]:
            return int(lane["worker_pid"])
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"


def _final(port: int, job_id: str, timeout: float = 300) -> dict[str, Any]:
    return wait_for(lambda: (j := _job(port, job_id))["state"] in ("complete", "error", "cancelled") and j,
                    timeout, f"job {job_id} to finish", every=0.3)


def test_a_worker_killed_three_times_fails_the_job_and_the_next_job_runs(
        server: tuple[int, subprocess.Popen[bytes]]) -> None:
    port, _ = server
    doomed = _submit(port)
    pids = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        pid = wait_for(lambda: _worker_on(port, doomed) not in (None, *pids) and _worker_on(port, doomed),
                       120, f"attempt {attempt} to run on a fresh worker")
        pids.append(pid)
        os.kill(pid, signal.SIGKILL)
    job = _final(port, doomed)
    assert job["state"] == "error" and job["attempts"] == MAX_ATTEMPTS
    assert "was killed, probably out of memory" in job["error"]
    assert any(stage in job["error"] for stage in ("script", "images", "narration", "video"))
    assert "Traceback" not in job["error"] and "Error:" not in job["error"]
    assert any("retrying from the files already made" in line for line in job["details"])

    survivor = _submit(port, topic="The Quiet Harbour")
    job = _final(port, survivor)
    assert job["state"] == "complete", job
    lane = get(port, "/health")["lanes"][0]
    assert lane["healthy"] and lane["worker_restarts"] == MAX_ATTEMPTS


def test_a_worker_out_of_memory_fails_the_job_clearly_and_the_next_job_runs(
        server: tuple[int, subprocess.Popen[bytes]]) -> None:
    """Each attempt's worker gets a memory limit of 48 MB more than it holds once the job runs;
    the job's own work (the voice model, the compositor and ffmpeg it starts) goes past it and the
    kernel's out-of-memory killer ends it (a memory cgroup; RLIMIT_AS where none can be made)."""
    port, _ = server
    cage = MemoryCage.open(48 << 20)
    try:
        doomed = _submit(port, duration=1.0, num_scenes=4)
        caged: list[int] = []

        def cage_the_next_worker() -> bool:
            job = _job(port, doomed)
            if job["state"] != "running":
                return job["state"] in ("complete", "error", "cancelled")
            pid = _worker_on(port, doomed)
            if pid is not None and pid not in caged:
                cage.put(pid)
                caged.append(pid)
            return False

        wait_for(cage_the_next_worker, 300, "the job to end under a memory limit", every=0.05)
        job = _final(port, doomed)
    finally:
        cage.close()
    assert job["state"] == "error", (cage.kind, job)
    assert "Traceback" not in job["error"] and "Error:" not in job["error"], job["error"]
    if cage.kind.startswith("cgroup"):  # killed by the kernel: the worker or its compositor
        assert "was killed, probably out of memory" in job["error"], job["error"]
        assert any(stage in job["error"] for stage in ("script", "images", "narration", "video")), job
        assert 1 <= job["attempts"] <= MAX_ATTEMPTS, job
    else:  # an allocation refused: Python's MemoryError (maybe wrapped by a library), or a native abort
        assert "out of memory in the" in job["error"] or "crashed in a native library" in job["error"], job

    survivor = _submit(port, topic="The Quiet Harbour")
    assert _final(port, survivor)["state"] == "complete"
    assert get(port, "/health")["status"] == "ok"


def test_a_hung_worker_is_restarted_and_its_job_resumes(server: tuple[int, subprocess.Popen[bytes]]) -> None:
    port, _ = server
    job_id = _submit(port)
    pid = wait_for(lambda: _worker_on(port, job_id), 120, "the job to start")
    os.kill(pid, signal.SIGSTOP)  # alive, silent: no heartbeat
    job = _final(port, job_id)
    assert job["state"] == "complete", job
    assert job["attempts"] == 2
    assert any("stopped responding" in line for line in job["details"])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the hung worker was killed, not left behind


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_cancel_survives_a_stop_right_after_it(tmp_path: Path, stop: signal.Signals) -> None:
    port = free_port()
    proc = start_server(port, tmp_path)
    try:
        job_id = _submit(port)
        worker = wait_for(lambda: _worker_on(port, job_id), 120, "the job to start")
        status, body = post(port, f"/api/jobs/{job_id}/cancel")
        assert status == 202 and body["cancel_requested"], body
    finally:
        stop_server(proc, stop)
    # Even a server killed outright takes its workers with it: none goes on writing into the
    # data folder the next server cleans.
    wait_for(lambda: not _alive(worker), 10, "the worker to end with its server")
    proc = start_server(port, tmp_path)
    try:
        job = _final(port, job_id, timeout=30)
        assert job["state"] == "cancelled", job
        assert not list((tmp_path / "videos").glob("*.mp4"))
        assert not (tmp_path / "data" / "jobs" / job_id).exists()
    finally:
        stop_server(proc)


def test_a_killed_server_takes_even_a_hung_worker_with_it(tmp_path: Path) -> None:
    """A worker must not outlive its server, even one that cannot read its closed stdin (stopped,
    or deep in a native call): it would go on writing into the data folder of the next server."""
    port = free_port()
    proc = start_server(port, tmp_path)
    try:
        job_id = _submit(port)
        worker = wait_for(lambda: _worker_on(port, job_id), 120, "the job to start")
        os.kill(worker, signal.SIGSTOP)
    finally:
        stop_server(proc, signal.SIGKILL)
    try:
        wait_for(lambda: not _alive(worker), 10, "the hung worker to end with its server")
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)


def test_two_lanes_run_two_jobs_at_once(tmp_path: Path) -> None:
    port = free_port()
    proc = start_server(port, tmp_path, "--lanes", "2")
    try:
        lanes = get(port, "/health")["lanes"]
        assert [lane["lane"] for lane in lanes] == [0, 1]
        first, second = _submit(port), _submit(port, topic="The Second Tide")
        wait_for(lambda: {lane["job_id"] for lane in get(port, "/health")["lanes"]} == {first, second},
                 120, "both jobs to run at the same time")
        pids = {lane["worker_pid"] for lane in get(port, "/health")["lanes"]}
        assert len(pids) == 2, "each lane has a worker process of its own"
        for job_id in (first, second):
            assert _final(port, job_id)["state"] == "complete"
    finally:
        stop_server(proc)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 80 MB tmpfs for the data folder (jobs, database, uploads)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=80m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.xfail(f"cannot mount a tmpfs on this machine ({done.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path, leave_mb: int = 0) -> Path:
    """Write zeros into ``folder`` until its filesystem has ``leave_mb`` MB (or nothing) left."""
    filler = folder / "filler.bin"
    chunk = b"\0" * (1 << 20)
    with open(filler, "wb") as f:
        try:
            while shutil.disk_usage(folder).free > leave_mb * (1 << 20) + len(chunk) or not leave_mb:
                f.write(chunk)
                f.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_ends_the_job_with_a_sentence(tmp_path: Path, small_disk: Path) -> None:
    port = free_port()
    proc = start_server(port, tmp_path, data=small_disk / "data")
    try:
        # The disk fills up while the job runs: its writes (and the database's) fail.
        job_id = _submit(port)
        wait_for(lambda: _worker_on(port, job_id), 120, "the job to start")
        filler = _fill(small_disk)
        job = _final(port, job_id, timeout=120)
        assert job["state"] == "error", job
        assert job["error"].startswith("disk full: ") and "MB free on" in job["error"], job["error"]
        assert "needs about" in job["error"]
        assert get(port, "/health")["status"] == "ok"  # the server keeps serving
        filler.unlink()

        # Too little room before a job starts: refused up front with the same sentence.
        _fill(small_disk, leave_mb=20)
        job_id = _submit(port)
        job = _final(port, job_id, timeout=60)
        assert job["state"] == "error" and job["error"].startswith("disk full: "), job
        assert job["progress"] == 0
    finally:
        stop_server(proc)

    proc = start_server(port, tmp_path, data=small_disk / "data")
    try:  # what was kept in memory while the disk was full reached the database
        assert get(port, "/api/jobs")["jobs"][1]["state"] == "error"
    finally:
        stop_server(proc)
