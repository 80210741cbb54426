"""Domain errors. Every message is written for the creator: what went wrong and what to do."""

from __future__ import annotations

import signal

_CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL, signal.SIGFPE})


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(EngineError):
    """The job asked for something we cannot do (bad file, bad value)."""

    http_status = 400


class ModelMissing(EngineError):
    """Weights that a chosen backend needs are not on disk; the message names the fix."""

    http_status = 503


class ModelFailed(EngineError):
    """A model loaded but could not do its work (corrupt file, out of memory, invalid output)."""


class RenderFailed(EngineError):
    """The compositor or ffmpeg failed; the message carries ffmpeg's own words."""


class JobCancelled(EngineError):
    """Raised from a progress check once the job's cancel flag is set."""

    def __init__(self, message: str = "Cancelled by request") -> None:
        super().__init__(message)


class GPUFailed(ModelFailed):
    """A CUDA error (not a plain lack of memory the stage can retry around) stopped a model; the
    message names the card, the installed torch and what to install or update. ``kind`` is
    "architecture" (no kernels for the card), "driver", "memory", "library" (cuBLAS/cuDNN) or
    "fault"; built by engine.models.cuda_errors.cuda_failure."""

    def __init__(self, message: str, kind: str = "fault", stage: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.stage = stage

    @property
    def device_unusable(self) -> bool:
        """True when no retry on this GPU can work until torch or the driver changes."""
        return self.kind in ("architecture", "driver")

    def __reduce__(self) -> tuple[type["GPUFailed"], tuple[str, str, str]]:
        return (type(self), (self.message, self.kind, self.stage))


def signal_death(returncode: int | None) -> str | None:
    """Why a process that a signal ended died, as the end of a sentence ("was killed, probably
    out of memory — try …"); None when ``returncode`` is not a death by signal. SIGKILL is what
    the kernel's out-of-memory killer (and a memory-limited cgroup) sends."""
    if returncode is None or returncode >= 0:
        return None
    try:
        sig: signal.Signals | None = signal.Signals(-returncode)
    except ValueError:
        sig = None
    name = sig.name if sig else f"signal {-returncode}"
    if sig is signal.SIGKILL:
        return ("was killed, probably out of memory — try fewer scenes, a shorter video, "
                "or the lite profile (python scripts/download_models.py --profile lite)")
    if sig in _CRASH_SIGNALS:
        return (f"crashed in a native library ({name}) — run python -m server --doctor to check "
                "the GPU driver and the installed libraries")
    return f"was stopped by {name}"
