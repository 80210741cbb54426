"""Asking the machine: the NVIDIA driver, llama.cpp's build, torch's CUDA support, ffmpeg and a
real NVENC encode, espeak-ng, free disk. ``gather(quick=True)`` is the start-up variant: it
imports no torch (unless something already did), loads llama.cpp only when a card is present,
and encodes nothing."""
from __future__ import annotations

import importlib
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any, Mapping

from engine.doctor.report import DiskRow, Facts, LlamaInfo
from engine.errors import EngineError
from engine.models.device import CudaSupport, DeviceInfo, cuda_support, device_info, nvidia_gpus

log = logging.getLogger(__name__)


def _llama_cpp() -> Any:
    try:
        return importlib.import_module("llama_cpp")
    except ImportError:
        return None
    except (OSError, RuntimeError) as exc:  # the shared library failed to load
        log.warning("llama_cpp failed to load: %s", exc)
        return None


def llama_info() -> LlamaInfo:
    """llama-cpp-python's version and whether its build offloads layers to a GPU (CUDA, Metal...)."""
    from engine.script.llama_runtime import gpu_offload_supported

    llama = _llama_cpp()  # None also when its shared library fails to load (logged)
    if llama is None:
        return LlamaInfo(False, None, None)
    return LlamaInfo(True, str(getattr(llama, "__version__", "")) or None, gpu_offload_supported())


def find_ffmpeg() -> tuple[str | None, str | None]:
    """(path, None) or (None, the error naming the fix)."""
    from engine.compose.ffmpeg import find_ffmpeg as find

    try:
        return str(find()), None
    except EngineError as exc:
        return None, exc.message


def nvenc_usable(ffmpeg: str) -> bool:
    """A real probe encode through h264_nvenc (the compositor's own probe)."""
    from engine.compose.ffmpeg import nvenc_works

    return nvenc_works(Path(ffmpeg))


def espeak() -> str | None:
    return shutil.which("espeak-ng") or shutil.which("espeak")


def gone_from_manifest(models_dir: Path, installed_names: set[str]) -> tuple[str, ...]:
    """Models models/manifest.json records whose files are no longer there."""
    try:
        records = json.loads((models_dir / "manifest.json").read_text(encoding="utf-8"))["models"]
    except (OSError, ValueError, KeyError, TypeError):
        return ()
    names = [str(r["name"]) for r in records if isinstance(r, dict) and "name" in r] if isinstance(
        records, list) else []
    return tuple(n for n in names if n not in installed_names)


def nearest_existing(path: Path) -> Path:
    """``path`` or its closest existing parent (the data folder is created at first start)."""
    p = path.expanduser().resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def disk_free(folders: Mapping[str, Path]) -> tuple[DiskRow, ...]:
    rows = []
    for label, folder in folders.items():
        try:
            free = shutil.disk_usage(nearest_existing(folder)).free
        except OSError:
            free = 0
        rows.append(DiskRow(label, str(folder), int(free)))
    return tuple(rows)


def gather(folders: Mapping[str, Path], *, quick: bool, want_llama: bool = True) -> Facts:
    """Everything the doctor needs to know about this machine. ``quick``: the start-up check."""
    gpus = nvidia_gpus()
    llama = llama_info() if want_llama and (gpus or not quick) else LlamaInfo(None, None, None)
    cuda: CudaSupport | None = None
    device: DeviceInfo | None = None
    if not quick or "torch" in sys.modules:
        cuda = cuda_support()
        device = device_info()
    ffmpeg, ffmpeg_error = find_ffmpeg()
    nvenc = nvenc_usable(ffmpeg) if ffmpeg is not None and not quick else None
    from engine.narration.voice_packs import xtts_needs_missing

    return Facts(gpus, llama, cuda, device, ffmpeg, ffmpeg_error, nvenc, espeak(), disk_free(folders),
                 sys.platform, xtts_needs_missing())
