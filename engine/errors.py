"""Domain errors. Every message is written for the creator: what went wrong and what to do."""

from __future__ import annotations


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
