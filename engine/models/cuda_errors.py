"""CUDA RuntimeErrors in creator words: which card, which torch, what to install or update.

``cuda_failure(exc, stage)`` turns an exception raised while loading or running a torch model into a
GPUFailed (a ModelFailed) with a hint, or returns None when the exception is not a CUDA error, so
every stage (SDXL, the script model, the voices) can wrap its model calls the same way::

    except RuntimeError as exc:
        failed = cuda_failure(exc, "SDXL")
        if failed is None:
            raise
        raise failed from exc

torch is never imported here: the card's facts come from engine.models.device.cuda_support(), which
imports it (a CUDA error means it is loaded already)."""

from __future__ import annotations

import re
from typing import Final

from engine.errors import GPUFailed
from engine.models.device import CudaSupport, cuda_support, torch_wheel_fix

#: Substrings of torch/CUDA messages (lower case), per kind, checked in this order.
_PATTERNS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("architecture", (
        "no kernel image is available",
        "invalid device function",
        "not compatible with the current pytorch installation",
        "cublas_status_arch_mismatch",
        "unsupported gpu architecture",
    )),
    ("driver", (
        "driver version is insufficient",
        "nvidia driver on your system is too old",
        "found no nvidia driver",
        "cuda driver initialization failed",
        "unsupported display driver / cuda driver combination",
        "forward compatibility was attempted",
        "cudaerrorinsufficientdriver",
        "no cuda gpus are available",
    )),
    ("memory", (
        "out of memory",
        "cublas_status_alloc_failed",
        "cudnn_status_alloc_failed",
    )),
    ("library", ("cublas", "cudnn", "cufft", "cusolver", "cusparse", "nvrtc", "nccl")),
    ("fault", (
        "illegal memory access",
        "device-side assert",
        "unspecified launch failure",
        "misaligned address",
        "launch timed out",
        "illegal instruction",
        "uncorrectable ecc error",
        "cuda error",
        "cuda kernel errors",
        "cuda driver",
        "cuda runtime",
        "acceleratorerror",
    )),
)
_TYPE_NAMES: Final = ("AcceleratorError", "CudaError", "DeferredCudaCallError", "OutOfMemoryError")
_RESTART: Final = "restart the server (a CUDA error leaves the GPU unusable for this process)"


def classify(exc: BaseException) -> str | None:
    """The kind of CUDA failure ``exc`` is, or None when it is not one."""
    if not isinstance(exc, RuntimeError):
        return None
    text = f"{type(exc).__name__}: {exc}".lower()
    for kind, needles in _PATTERNS:
        if any(n in text for n in needles):
            return kind
    if type(exc).__name__ in _TYPE_NAMES or re.search(r"\bcuda\b", text):
        return "fault"
    return None


def _card(support: CudaSupport) -> str:
    name = support.name or "the NVIDIA card"
    cap = f", compute capability {support.capability_text}" if support.capability else ""
    return f"{name}{cap}"


def _torch(support: CudaSupport) -> str:
    if support.torch_version is None:
        return "torch"
    build = f" built for CUDA {support.cuda_build}" if support.cuda_build else " (a CPU-only build)"
    return f"torch {support.torch_version}{build}"


def _hint(kind: str, support: CudaSupport) -> str:
    card, torch = _card(support), _torch(support)
    if kind == "architecture":
        carries = f" (it carries {', '.join(support.arch_list)})" if support.arch_list else ""
        fix = (
            torch_wheel_fix(support.capability, support.torch_version)
            if support.capability
            else "pip install --force-reinstall torch torchaudio --index-url "
            "https://download.pytorch.org/whl/cu126 (cards older than compute capability 7.0) or "
            "https://download.pytorch.org/whl/cu128 (newest cards)"
        )
        return f"the installed {torch} has no GPU kernels for {card}{carries}; install one that has: {fix}"
    if kind == "driver":
        return (
            f"the NVIDIA driver does not fit {torch}: update the driver to one that supports that CUDA "
            "version (nvidia-smi shows what the driver supports), or install a torch built for the "
            f"driver's CUDA version; then {_RESTART}"
        )
    if kind == "memory":
        return (
            f"{card} ran out of memory: close other programs that use the GPU (nvidia-smi lists them), "
            "choose a smaller model or image size, or let the models take turns (keep-warm off)"
        )
    if kind == "library":
        return (
            f"a CUDA library of {torch} failed on {card}: this usually means torch's CUDA libraries do not "
            "match the driver or the card — update the NVIDIA driver, reinstall torch "
            f"(pip install --force-reinstall torch torchaudio), and {_RESTART}"
        )
    return (
        f"{card} reported a fault: {_RESTART}; if it happens again, update the NVIDIA driver and "
        "check the card's power and temperature (nvidia-smi), or run on the CPU (device cpu)"
    )


def cuda_failure(exc: BaseException, stage: str, support: CudaSupport | None = None) -> GPUFailed | None:
    """A GPUFailed for ``exc`` when it is a CUDA error raised by ``stage`` (a creator-facing name,
    e.g. "SDXL"), else None. ``support``: the card's facts (default: asked of torch now); when the
    installed torch has no kernels for the card, every CUDA error is reported as that."""
    kind = classify(exc)
    if kind is None:
        return None
    if support is None:
        support = cuda_support()
    if support.kernels is False:
        kind = "architecture"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    what = first if len(first) <= 160 else first[:157] + "..."
    return GPUFailed(f"{stage} failed on the GPU ({what}): {_hint(kind, support)}", kind, stage)
