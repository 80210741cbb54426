"""Start-up as a creator meets it: `python -m server` as a real process. Leftovers of a killed
render never stop a start; one server per data folder; "cannot serve on" only for the port."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
        return dict(json.loads(r.read()))


@dataclass(frozen=True)
class Server:
    proc: subprocess.Popen[bytes]
    log: Path  # its stderr (a file: a pipe could fill up and block it)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def said(self) -> str:
        return self.log.read_text()


def _spawn(tmp: Path, port: int) -> Server:
    tmp.mkdir(parents=True, exist_ok=True)
    log = tmp / f"server-{time.time_ns()}.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port),
             "--data-dir", str(tmp / "data"), "--videos-dir", str(tmp / "videos"),
             "--models-dir", str(tmp / "models")],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
        )
    return Server(proc, log)


def _wait_healthy(server: Server, port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.proc.poll() is None, f"the server exited ({server.proc.returncode}): {server.said()}"
        try:
            if _health(port)["status"] == "ok":
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not answer /health")


def _stop(server: Server) -> None:
    proc = server.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        _stop(server)


def test_leftover_temporary_files_and_folders_never_stop_a_start(
    tmp_path: Path, servers: list[Server]
) -> None:
    videos = tmp_path / "videos"
    killed_render = videos / ".video_20260101_120000.x7y8z9.part"  # what a SIGKILLed render leaves
    (killed_render / "tracks").mkdir(parents=True)
    (killed_render / "tracks" / "video.mp4").write_bytes(b"\0" * 4096)
    (killed_render / "video_20260101_120000.mp4").write_bytes(b"\0" * 1024)
    half_file = videos / ".video_20260102_090000.mp4.part-4f3e2d1c0b"
    half_file.write_bytes(b"\0" * 512)
    finished = videos / "video_20251231_235959.mp4"
    finished.write_bytes(b"a finished video")
    not_ours = videos / "holiday.mp4.part"  # a browser's download into a shared folder
    not_ours.write_bytes(b"someone else's")
    job_images = tmp_path / "data" / "jobs" / "0123456789abcdef" / "images"
    job_images.mkdir(parents=True)
    (job_images / ".scene_01.png.part-aa").write_bytes(b"half")
    (job_images / "scene_02.png").write_bytes(b"kept")
    (job_images.parent / "script.json.part").write_text("{")  # an earlier version's name
    uploads = tmp_path / "data" / "uploads"
    uploads.mkdir(parents=True)
    (uploads / ".0a0a_photo.png.part-bb").write_bytes(b"half")

    port = _free_port()
    servers.append(server := _spawn(tmp_path, port))
    _wait_healthy(server, port)

    assert sorted(p.name for p in videos.iterdir()) == [not_ours.name, finished.name]
    assert finished.read_bytes() == b"a finished video"
    assert sorted(p.name for p in job_images.iterdir()) == ["scene_02.png"]
    assert sorted(p.name for p in job_images.parent.iterdir()) == ["images"]
    assert list(uploads.iterdir()) == []


def test_a_second_server_on_the_same_data_folder_is_refused_naming_the_first(
    tmp_path: Path, servers: list[Server]
) -> None:
    port = _free_port()
    servers.append(first := _spawn(tmp_path, port))
    _wait_healthy(first, port)

    second = _spawn(tmp_path, _free_port())
    servers.append(second)
    assert second.proc.wait(timeout=60) == 3
    err = second.said()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert f"PID {first.pid}" in lines[0] and str((tmp_path / "data").resolve()) in lines[0]
    assert "Traceback" not in err
    assert _health(port)["status"] == "ok", "the first server keeps serving"

    first.proc.send_signal(signal.SIGKILL)  # the lock dies with its process: no stale lock file blocks
    first.proc.wait()
    port = _free_port()
    servers.append(third := _spawn(tmp_path, port))
    _wait_healthy(third, port)
    assert (tmp_path / "data" / ".lock").read_text().strip() == str(third.pid)


def test_cannot_serve_is_said_for_a_taken_port_and_only_for_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = _spawn(tmp_path / "a", port)
        assert server.proc.wait(timeout=60) == 2
    err = server.said()
    assert f"cannot serve on http://127.0.0.1:{port}" in err and "Traceback" not in err

    blocked = tmp_path / "b"
    blocked.mkdir()
    (blocked / "data").write_text("a file where the data folder should be")
    server = _spawn(blocked, _free_port())
    assert server.proc.wait(timeout=60) == 2
    err = server.said()
    assert "cannot start" in err and "cannot serve" not in err and "Traceback" not in err
