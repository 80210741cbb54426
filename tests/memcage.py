"""A memory limit put on one running process, so a test can watch the kernel's out-of-memory
killer end it: a memory cgroup (v1 or v2) of its own beside this process's cgroup. Moving a
process in does not move what it already holds; what it allocates afterwards (and what its
children allocate) counts against the limit, and past it the kernel kills.

Where no memory cgroup can be made (no permission, no controller), ``MemoryCage.open`` falls back
to lowering the process's address-space limit (RLIMIT_AS) to what it holds plus the allowance:
allocations past it fail (MemoryError, or a native abort) instead of a kill, and ``close`` gives
the process its own limit back. Either way the process runs out of memory for real while it
works."""

from __future__ import annotations

import os
import resource
import uuid
from dataclasses import dataclass, field
from pathlib import Path

_ROOT = Path("/sys/fs/cgroup")


def _own_cgroup(controller: str | None) -> Path | None:
    """This process's cgroup folder for ``controller`` (None: the v2 unified hierarchy)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if (controller is None and controllers == "") or (controller in controllers.split(",")):
            base = _ROOT / controller if controller else _ROOT
            for candidate in (base / path.lstrip("/"), base):  # a namespaced mount shows its root
                if candidate.is_dir() and (candidate / "cgroup.procs").exists():
                    return candidate
    return None


@dataclass
class MemoryCage:
    """How a test limits processes' memory: ``kind`` is "cgroup-v1", "cgroup-v2" or "rlimit"."""

    kind: str
    allowance: int
    folder: Path | None = None
    limited: dict[int, tuple[int, int]] = field(default_factory=dict)  # rlimit: pid -> its limits before

    @classmethod
    def open(cls, allowance: int) -> "MemoryCage":
        name = f"storyreel-test-{uuid.uuid4().hex[:8]}"
        for controller, limit_file, kind in ((None, "memory.max", "cgroup-v2"),
                                             ("memory", "memory.limit_in_bytes", "cgroup-v1")):
            parent = _own_cgroup(controller)
            if parent is None:
                continue
            folder = parent / name
            try:
                folder.mkdir()
                (folder / limit_file).write_text(str(allowance))
                if kind == "cgroup-v2":
                    (folder / "memory.swap.max").write_text("0")
                else:
                    _write_if_there(folder / "memory.memsw.limit_in_bytes", str(allowance))
                return cls(kind, allowance, folder)
            except OSError:
                _remove(folder)
        return cls("rlimit", allowance)

    def put(self, pid: int) -> None:
        """Limit ``pid`` from now on (and the children it starts afterwards)."""
        if self.folder is not None:
            (self.folder / "cgroup.procs").write_text(str(pid))
            return
        before = resource.prlimit(pid, resource.RLIMIT_AS)
        self.limited[pid] = before
        resource.prlimit(pid, resource.RLIMIT_AS, (_address_space(pid) + self.allowance, before[1]))

    def close(self) -> None:
        """Lift the limits (processes still alive get their own back)."""
        if self.folder is not None:
            _remove(self.folder)
        for pid, before in self.limited.items():
            try:
                resource.prlimit(pid, resource.RLIMIT_AS, before)
            except (ProcessLookupError, PermissionError):
                pass


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write_if_there(path: Path, text: str) -> None:
    if path.exists():
        path.write_text(text)


def _address_space(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no VmSize for process {pid}")


def _remove(folder: Path) -> None:
    """Move anything left in the cgroup to its parent, then remove it (a cgroup with processes
    in it cannot be removed)."""
    if not folder.is_dir():
        return
    for pid in _read(folder / "cgroup.procs").split():
        try:
            (folder.parent / "cgroup.procs").write_text(pid)
        except OSError:
            pass
    try:
        os.rmdir(folder)
    except OSError:
        pass
