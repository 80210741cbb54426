"""CUDA RuntimeErrors -> GPUFailed with a hint a creator can act on (pure: facts of the card given)."""

from __future__ import annotations

import pickle

import pytest

from engine.errors import GPUFailed, ModelFailed
from engine.models.cuda_errors import classify, cuda_failure
from engine.models.device import CudaSupport

CU128_ARCHS = ("sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")
PASCAL = CudaSupport(
    "2.9.1+cu128", "12.8", True, "NVIDIA GeForce GTX 1080", (6, 1), CU128_ARCHS, False,
    "pip install --force-reinstall torch==2.9.1 torchaudio==2.9.1 --index-url "
    "https://download.pytorch.org/whl/cu126",
)
RTX_4090 = CudaSupport(
    "2.9.1+cu128", "12.8", True, "NVIDIA GeForce RTX 4090", (8, 9), CU128_ARCHS, True, None
)
NO_KERNEL = (
    "CUDA error: no kernel image is available for execution on the device\n"
    "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below "
    "might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1"
)


@pytest.mark.parametrize(
    "message,kind",
    [
        (NO_KERNEL, "architecture"),
        ("CUDA error: invalid device function", "architecture"),
        ("CUDA error: CUBLAS_STATUS_ARCH_MISMATCH when calling `cublasCreate(handle)`", "architecture"),
        (
            "The NVIDIA driver on your system is too old (found version 11040). Please update your GPU "
            "driver by downloading and installing a new version",
            "driver",
        ),
        ("CUDA driver initialization failed, you might not have a CUDA gpu.", "driver"),
        ("CUDA error: out of memory", "memory"),
        ("CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasGemmEx( handle, ...`", "library"),
        ("cuDNN error: CUDNN_STATUS_INTERNAL_ERROR", "library"),
        ("CUDA error: an illegal memory access was encountered", "fault"),
        ("CUDA error: device-side assert triggered", "fault"),
        ("CUDA error: the launch timed out and was terminated", "fault"),
    ],
)
def test_cuda_messages_are_classified(message: str, kind: str) -> None:
    assert classify(RuntimeError(message)) == kind
    failed = cuda_failure(RuntimeError(message), "SDXL", RTX_4090)
    assert isinstance(failed, GPUFailed) and isinstance(failed, ModelFailed)
    assert failed.kind == kind and failed.stage == "SDXL"
    assert failed.message.startswith("SDXL failed on the GPU (")
    assert "\n" not in failed.message  # one line in the job's details, not torch's whole essay
    assert failed.device_unusable is (kind in ("architecture", "driver"))


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("Expected all tensors to have the same shape"),
        RuntimeError("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"),
        ValueError("CUDA error: looks like one but is not a RuntimeError"),
        OSError("No such file"),
    ],
)
def test_other_errors_are_not_cuda_failures(exc: BaseException) -> None:
    assert classify(exc) is None
    assert cuda_failure(exc, "SDXL", RTX_4090) is None


def test_no_kernel_image_on_pascal_names_the_card_the_torch_and_the_wheel() -> None:
    failed = cuda_failure(RuntimeError(NO_KERNEL), "SDXL", PASCAL)
    assert failed is not None and failed.kind == "architecture" and failed.device_unusable
    msg = failed.message
    assert "NVIDIA GeForce GTX 1080, compute capability 6.1" in msg
    assert "torch 2.9.1+cu128 built for CUDA 12.8" in msg
    assert "sm_70" in msg
    assert "--index-url https://download.pytorch.org/whl/cu126" in msg


def test_any_cuda_error_on_a_card_torch_cannot_run_is_reported_as_that() -> None:
    # cuBLAS is often the first to notice: the hint is still the wheel, not "update the driver"
    failed = cuda_failure(RuntimeError("CUDA error: CUBLAS_STATUS_NOT_SUPPORTED"), "the voice model", PASCAL)
    assert failed is not None and failed.kind == "architecture"
    assert failed.message.startswith("the voice model failed on the GPU")
    assert "whl/cu126" in failed.message


def test_hints_say_what_to_do() -> None:
    driver = cuda_failure(RuntimeError("CUDA driver version is insufficient for CUDA runtime version"),
                          "SDXL", RTX_4090)
    assert driver is not None and "update the driver" in driver.message and "nvidia-smi" in driver.message
    illegal = RuntimeError("CUDA error: an illegal memory access was encountered")
    fault = cuda_failure(illegal, "SDXL", RTX_4090)
    assert fault is not None and "restart the server" in fault.message and "RTX 4090" in fault.message
    unknown = CudaSupport("2.9.1+cu128", "12.8", True, None, None, (), None, None)
    arch = cuda_failure(RuntimeError(NO_KERNEL), "SDXL", unknown)
    assert arch is not None and "whl/cu126" in arch.message and "whl/cu128" in arch.message


def test_gpu_failed_survives_pickling() -> None:
    failed = cuda_failure(RuntimeError(NO_KERNEL), "SDXL", PASCAL)
    assert failed is not None
    again = pickle.loads(pickle.dumps(failed))
    assert (type(again), again.message, again.kind) == (GPUFailed, failed.message, failed.kind)
    assert again.stage == "SDXL"
