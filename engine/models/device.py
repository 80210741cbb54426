"""Which device runs the models, and how much of its memory is free; whether the installed torch
has kernels for the CUDA card. torch is imported lazily."""
from __future__ import annotations

import importlib
import logging
import os
import platform
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

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


_WARNED: set[str] = set()
_ARCH = re.compile(r"^(sm|compute)_(\d+)([af]?)$")
#: The PyTorch wheel index per CUDA build: cu126 still carries Maxwell/Pascal (sm_50/sm_60) kernels,
#: cu128 adds Blackwell (sm_100/sm_120); the default PyPI wheels of torch 2.9 are cu128.
_OLD_CARD_INDEX = "https://download.pytorch.org/whl/cu126"
_NEW_CARD_INDEX = "https://download.pytorch.org/whl/cu128"


def kernels_for(capability: tuple[int, int], arch_list: Sequence[str]) -> bool:
    """Whether a torch build whose ``torch.cuda.get_arch_list()`` is ``arch_list`` can run on a card
    of compute ``capability`` (major, minor): a binary ``sm_XY`` runs on cards of the same major
    version with minor >= Y (``sm_90a``: on 9.0 only); PTX ``compute_XY`` is compiled by the driver
    for any card >= X.Y."""
    major, minor = capability
    card = major * 10 + minor
    for arch in arch_list:
        m = _ARCH.match(arch.strip().lower())
        if m is None:
            continue
        kind, digits, suffix = m.group(1), int(m.group(2)), m.group(3)
        a_major, a_minor = divmod(digits, 10)
        if kind == "compute" and digits <= card:
            return True
        if kind == "sm" and a_major == major and (a_minor == minor if suffix == "a" else a_minor <= minor):
            return True
    return False


def torch_wheel_fix(capability: tuple[int, int], torch_version: str | None) -> str:
    """The pip command that installs a torch build with kernels for a card of ``capability``."""
    version = (torch_version or "").split("+", 1)[0]
    pins = f"torch=={version} torchaudio=={version}" if version else "torch torchaudio"
    index = _OLD_CARD_INDEX if capability < (7, 0) else _NEW_CARD_INDEX
    return f"pip install --force-reinstall {pins} --index-url {index}"


@dataclass(frozen=True)
class CudaSupport:
    """What torch makes of the CUDA card: ``usable`` when models may run on it."""

    torch_version: str | None  # None: torch is not installed (or failed to load)
    cuda_build: str | None  # the CUDA version torch was built with (None: a CPU-only build)
    available: bool  # torch.cuda.is_available()
    name: str | None  # the card
    capability: tuple[int, int] | None
    arch_list: tuple[str, ...]  # kernels the installed torch carries
    kernels: bool | None  # has kernels for the card; None without a card
    fix: str | None  # the command that makes the card usable, when it is not
    error: str | None = None  # why torch could not be asked

    @property
    def usable(self) -> bool:
        return self.available and self.kernels is True

    @property
    def capability_text(self) -> str | None:
        return None if self.capability is None else f"{self.capability[0]}.{self.capability[1]}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["capability"] = self.capability_text
        out["arch_list"] = list(self.arch_list)
        out["usable"] = self.usable
        return out


def _card_support(torch: Any, idx: int) -> CudaSupport:
    cap = tuple(int(x) for x in torch.cuda.get_device_capability(idx))
    capability = (cap[0], cap[1])
    arch = tuple(str(a) for a in torch.cuda.get_arch_list())
    ok = kernels_for(capability, arch)
    version = str(torch.__version__)
    return CudaSupport(version, getattr(torch.version, "cuda", None), True,
                       str(torch.cuda.get_device_name(idx)), capability, arch, ok,
                       None if ok else torch_wheel_fix(capability, version))


def cuda_support() -> CudaSupport:
    """torch's view of the CUDA card (imports torch). Never raises."""
    torch = _torch()
    if torch is None:
        return CudaSupport(None, None, False, None, None, (), None, "pip install -e '.[all]'",
                           "torch is not installed or failed to load")
    version, build = str(torch.__version__), getattr(torch.version, "cuda", None)
    try:
        if not torch.cuda.is_available():
            return CudaSupport(version, build, False, None, None, (), None, None)
        return _card_support(torch, torch.cuda.current_device())
    except (RuntimeError, AssertionError, OSError) as exc:  # a driver that does not match torch's CUDA
        return CudaSupport(version, build, False, None, None, (), None,
                           "update the NVIDIA driver (nvidia-smi shows its version) or reinstall torch "
                           "for it", f"{type(exc).__name__}: {exc}")


def nvidia_gpus() -> tuple[str, ...]:
    """NVIDIA cards the driver reports, without importing torch (the kernel driver's /proc entries,
    else ``nvidia-smi``). Empty when there is no card or no driver."""
    names: list[str] = []
    for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        try:
            text = info.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        m = re.search(r"^Model:\s*(.+)$", text, re.MULTILINE)
        names.append(m.group(1).strip() if m else "NVIDIA GPU")
    if names:
        return tuple(names)
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ()
    try:
        out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=15, check=False)
    except (OSError, subprocess.SubprocessError):
        return ()
    if out.returncode != 0:
        return ()
    return tuple(line.strip() for line in out.stdout.splitlines() if line.strip())


def torch_device() -> str:
    """"cuda", "mps" or "cpu": where torch models should run — CUDA only when the installed torch
    has kernels for the card (else the CPU, with the warning device_info logs)."""
    return device_info().kind


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
        support = _card_support(torch, idx)
        if support.kernels:
            free, total = torch.cuda.mem_get_info(idx)
            return DeviceInfo("cuda", str(torch.cuda.get_device_name(idx)), int(total), int(free))
        why = (f"torch {support.torch_version} has no kernels for {support.name} (compute capability "
               f"{support.capability_text}; it carries {', '.join(support.arch_list) or 'none'})")
        if prefer == "cuda":
            raise EngineError(f"device 'cuda' was asked for but {why} — run {support.fix}")
        if why not in _WARNED:  # once per process, not on every /api/models
            _WARNED.add(why)
            log.warning("%s; running models on the CPU — run %s", why, support.fix)
        return _cpu()
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
