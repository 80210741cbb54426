"""Which device runs the models, and how much of its memory is free. torch is imported lazily."""
from __future__ import annotations

import importlib
import logging
import os
import platform
from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import EngineError

log = logging.getLogger(__name__)

DEVICE_KINDS = ("cuda", "mps", "cpu")


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # cuda | mps | cpu
    name: str
    total_bytes: int
    free_bytes: int

    @property
    def is_gpu(self) -> bool:
        return self.kind != "cpu"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ram() -> tuple[int, int]:
    total = free = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f if line.count(":") == 1
                    and line.split()[1].isdigit()}
        total, free = info.get("MemTotal", 0), info.get("MemAvailable", info.get("MemFree", 0))
    except OSError:
        pass
    if not total and hasattr(os, "sysconf"):
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            total = 0
        free = free or total
    return total, free


def _cpu() -> DeviceInfo:
    total, free = _ram()
    return DeviceInfo("cpu", platform.processor() or platform.machine() or "cpu", total, free)


def _torch() -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None
    except OSError as exc:  # a broken CUDA install fails while loading its libraries
        log.warning("torch failed to load (%s); running models on the CPU", exc)
        return None


def device_info(prefer: str = "auto") -> DeviceInfo:
    """The device models will run on and its memory now. ``prefer``: auto | cuda | mps | cpu.
    Without torch installed it is the CPU (with system RAM). Asking for a GPU that torch cannot
    see raises EngineError naming the fix."""
    if prefer not in ("auto", *DEVICE_KINDS):
        raise EngineError(f"device {prefer!r} is not one of auto, cuda, mps, cpu")
    if prefer == "cpu":
        return _cpu()
    torch = _torch()
    if torch is not None and prefer in ("auto", "cuda") and torch.cuda.is_available():
        idx = torch.cuda.current_device()
        free, total = torch.cuda.mem_get_info(idx)
        return DeviceInfo("cuda", str(torch.cuda.get_device_name(idx)), int(total), int(free))
    mps = getattr(getattr(torch, "backends", None), "mps", None)
    if torch is not None and prefer in ("auto", "mps") and mps is not None and mps.is_available():
        ram_total, _ = _ram()
        total = int(getattr(torch.mps, "recommended_max_memory", lambda: ram_total)())
        used = int(getattr(torch.mps, "driver_allocated_memory", lambda: 0)())
        return DeviceInfo("mps", "Apple GPU (MPS)", total, max(0, total - used))
    if prefer != "auto":
        why = ("torch is not installed" if torch is None
               else f"torch {torch.__version__} sees no {prefer} device")
        raise EngineError(f"device {prefer!r} was asked for but {why}; install the GPU build of torch "
                          "(pip install -e .[all]) or set the device to auto or cpu")
    return _cpu()
