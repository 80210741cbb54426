"""One data folder, one server; and a clean folder at start.

``DataLock`` holds an exclusive ``flock`` on ``DATA_DIR/.lock`` (which records the holder's PID)
for the life of the server. The kernel drops the lock when the process ends in any way, kill -9
included, so a stale lock file never blocks a start. Python opens files non-inheritable, so a
child that execs (the compositor, a spawned worker) does not hold it; a child made by a bare
fork() does, until it exits.

``sweep_leftovers`` removes the temporary files and folders (engine.tempnames) that a killed
process left in videos/, the job folders and the uploads, before anything runs there."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import AsyncIterator

from aiohttp import web

from engine.tempnames import SweepReport, sweep
from server.keys import config_key

logger = logging.getLogger(__name__)
LOCK_NAME = ".lock"


class DataFolderBusy(Exception):
    """Another live process holds the data folder's lock."""

    def __init__(self, folder: Path, pid: int | None) -> None:
        holder = f"PID {pid}" if pid is not None else "a process whose PID it did not record"
        self.folder, self.pid = folder, pid
        self.message = (f"the data folder {folder} is in use by another StoryReel server ({holder}); "
                        "stop that one, or start this one with another --data-dir")
        super().__init__(self.message)


class DataLock:
    """``with DataLock(data_dir):`` -- raises DataFolderBusy when another process holds it."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    def __repr__(self) -> str:
        return f"<DataLock {self.path} {'held' if self._fd is not None else 'free'}>"

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _read_pid(fd)
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DataFolderBusy(self.path.parent.resolve(), holder) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def sweep_leftovers(*, jobs_dir: Path, upload_dir: Path, videos_dir: Path) -> SweepReport:
    """Remove temporary leftovers; only at start, while nothing runs. Never raises."""
    return (sweep(videos_dir, recursive=False) + sweep(jobs_dir, recursive=True, legacy=True)
            + sweep(upload_dir, recursive=False))


async def data_folder_ctx(app: web.Application) -> AsyncIterator[None]:
    """The app's first cleanup context: the folders exist and hold no temporary leftovers before
    the job store opens and any job resumes. (``python -m server`` holds the DataLock around it.)"""
    config = app[config_key]

    def prepare() -> SweepReport:
        for folder in (config.data_dir, config.jobs_dir, config.upload_dir, config.videos_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return sweep_leftovers(jobs_dir=config.jobs_dir, upload_dir=config.upload_dir,
                               videos_dir=config.videos_dir)

    await asyncio.get_running_loop().run_in_executor(None, prepare)
    yield


class PortUnavailable(Exception):
    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host, self.port, self.reason = host, port, reason
        super().__init__(f"cannot serve on http://{host}:{port}: {reason}")


def check_port(host: str, port: int) -> None:
    """Bind (and release at once) every address ``host`` resolves to, as the server is about to;
    raises PortUnavailable when one cannot be bound (in use, not allowed, not this machine's)."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise PortUnavailable(host, port, f"cannot resolve {host!r} ({e.strerror or e})") from None
    for family, kind, proto, _name, address in set(infos):
        try:
            probe = socket.socket(family, kind, proto)
        except OSError:  # a family this machine lacks: asyncio skips it too
            continue
        with probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's server does
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as e:
                if e.errno == errno.EADDRNOTAVAIL:  # e.g. ::1 with IPv6 off: asyncio skips it (bpo-30945)
                    continue
                raise PortUnavailable(host, port, e.strerror or str(e)) from None
