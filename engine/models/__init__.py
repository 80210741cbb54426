"""Models on disk, the device they run on, and GPU memory between stages.

- ``set_offline_env()`` — call before any model library is imported.
- ``find_installed(models_dir)`` / ``pick(models, kind, name)`` / ``require(...)`` — what is installed.
- ``device_info()`` — CUDA, Apple MPS or CPU, with free memory.
- ``missing_report(models_dir)`` — per stage, what is missing and the command that fetches it.

Nothing heavy is imported here; torch is imported only inside ``device_info()``.
"""
from engine.models.device import DEVICE_KINDS, DeviceInfo, device_info
from engine.models.env import OFFLINE_ENV, set_offline_env
from engine.models.registry import (
    KINDS,
    InstalledModel,
    fetch_command,
    find_installed,
    missing_message,
    pick,
    require,
    vram_estimate,
)
from engine.models.report import missing_report

__all__ = [
    "DEVICE_KINDS", "DeviceInfo", "device_info", "OFFLINE_ENV", "set_offline_env",
    "KINDS", "InstalledModel", "fetch_command", "find_installed", "missing_message",
    "pick", "require", "vram_estimate", "missing_report",
]
