"""Where the SDXL pipeline lives, chosen by free VRAM, and the scheduler presets for few-step
variants. Pure functions and data: no torch here, so the policy is testable anywhere."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Final, Mapping

from engine.errors import ModelFailed

GIB: Final = 1 << 30
#: Free VRAM at which the whole fp16 pipeline stays on the GPU. Weights: UNet 2.57 B parameters
#: (4.78 GiB) + text encoders 0.82 B (1.52 GiB) + VAE 84 M (0.16 GiB) = 6.46 GiB (~6.9 GB). Peak at
#: 1344x768 is the fp16 VAE decode (~2.5-3 GiB of activations while the other weights stay resident;
#: the UNet's own with SDPA at CFG batch 2 is under 1 GiB), plus ~0.5 GiB of allocator slack and
#: cuDNN workspace: ~10 GiB. A 12 GB card shows 11.2-11.6 GiB free, so it stays all on the GPU; an
#: out-of-memory there (a stock VAE decoding in float32, another program) escalates to model offload.
ALL_ON_GPU_BYTES: Final = 10 * GIB
#: Model offload keeps one component on the GPU at a time; the largest is the UNet (4.78 GiB of
#: weights). Below this not even the UNet fits, so sequential (per-layer) offload, slow but ~2 GB.
#: Anything above it tries model offload first (an 8 GB card with a desktop shows ~5.5-7.3 GiB free)
#: and escalates to sequential only after an out-of-memory.
MODEL_OFFLOAD_BYTES: Final = 5 * GIB
#: diffusers' AutoencoderKL blends neighbouring tiles over this fraction of a tile.
VAE_TILE_OVERLAP: Final = 0.25

OFFLOAD_CHOICES: Final = ("auto", "none", "model", "sequential")
_ESCALATION: Final = {"none": "model", "model": "sequential"}


@dataclass(frozen=True)
class Placement:
    device: str  # "cuda", "cuda:1", "cpu", "mps"
    dtype: str  # "float16" | "float32"
    offload: str  # "none" | "model" | "sequential"
    vae_tiling: bool

    @property
    def on_gpu(self) -> bool:
        return self.device.startswith("cuda")

    def describe(self) -> str:
        where = {
            "none": "all on the GPU",
            "model": "model CPU offload",
            "sequential": "sequential CPU offload",
        }
        parts = [self.device, self.dtype]
        if self.on_gpu:
            parts.append(where[self.offload])
        if self.vae_tiling:
            parts.append("VAE tiling")
        return ", ".join(parts)


def choose_placement(
    device: str, free_bytes: int | None, offload: str = "auto", *, extra_bytes: int = 0
) -> Placement:
    """The placement for ``device`` given its free memory (None when unknown or not CUDA).
    ``offload`` "auto" picks by free VRAM, less ``extra_bytes`` that ride along with SDXL (an
    IP-Adapter and its image encoder); "none"/"model"/"sequential" force one (CUDA only)."""
    if offload not in OFFLOAD_CHOICES:
        raise ModelFailed(f"offload {offload!r} is not one of {', '.join(OFFLOAD_CHOICES)}")
    if not device.startswith("cuda"):
        # fp16 on CPU is slow or unsupported for some ops; MPS is fine in fp32 too.
        return Placement(device, "float32", "none", vae_tiling=False)
    if offload == "auto":
        if free_bytes is not None:
            free_bytes -= extra_bytes
        if free_bytes is None or free_bytes >= ALL_ON_GPU_BYTES:
            offload = "none"
        elif free_bytes >= MODEL_OFFLOAD_BYTES:
            offload = "model"
        else:
            offload = "sequential"
    # Tiling costs time and can show seams: only where memory is tightest (and after an OOM).
    return Placement(device, "float16", offload, vae_tiling=offload == "sequential")


def escalate(placement: Placement) -> Placement | None:
    """One step more offload after CUDA ran out of memory; None when there is nothing left to try."""
    if not placement.on_gpu or placement.offload not in _ESCALATION:
        return None
    return replace(placement, offload=_ESCALATION[placement.offload], vae_tiling=True)


def vae_tile_size(width: int, height: int, scale: int, overlap: float = VAE_TILE_OVERLAP) -> tuple[int, int]:
    """(tile in pixels, tile in latents) for a tiled VAE decode of a width x height image whose VAE
    downsamples by ``scale``: tiles no smaller than the image's short side. diffusers steps tiles by
    ``int(tile * (1 - overlap))`` latents, so the tile is grown until one step covers the short side:
    a single row (landscape) or column (portrait) of tiles, no seam across the long side, and no thin
    leftover tile decoded with little context (a 1344x768 image: 2 tiles of 1024 px, not 6 of 512).
    The step must be a whole number of latents (a multiple of 4 for the 0.25 overlap), or diffusers'
    crop and step disagree and the image comes out a few pixels too wide."""
    if width < 1 or height < 1 or scale < 1 or not 0.0 <= overlap < 1.0:
        raise ValueError(f"bad tile request: {width}x{height}, scale {scale}, overlap {overlap}")
    keep = Fraction(1 - overlap).limit_denominator(64)
    short = -(-min(width, height) // scale)  # latents across the short side, rounded up
    tile = short
    while (tile * keep).denominator != 1 or int(tile * keep) < short:
        tile += 1
    return tile * scale, tile


@dataclass(frozen=True)
class SchedulerPreset:
    class_name: str
    options: Mapping[str, object]
    #: Defaults when the model entry gives no steps/guidance.
    steps: int
    guidance: float


SCHEDULERS: Final[Mapping[str, SchedulerPreset]] = {
    "euler": SchedulerPreset("EulerDiscreteScheduler", {}, 30, 6.0),
    "euler_a": SchedulerPreset("EulerAncestralDiscreteScheduler", {}, 30, 6.0),
    "dpmpp_2m": SchedulerPreset("DPMSolverMultistepScheduler", {}, 25, 6.0),
    "dpmpp_2m_karras": SchedulerPreset("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}, 25, 6.0),
    "ddim": SchedulerPreset("DDIMScheduler", {}, 30, 6.0),
    "unipc": SchedulerPreset("UniPCMultistepScheduler", {}, 25, 6.0),
    # Few-step variants: SDXL-Lightning (trailing Euler, no CFG), SDXL-Turbo, LCM / LCM-LoRA merges.
    "lightning": SchedulerPreset("EulerDiscreteScheduler", {"timestep_spacing": "trailing"}, 4, 0.0),
    "turbo": SchedulerPreset("EulerAncestralDiscreteScheduler", {"timestep_spacing": "trailing"}, 4, 0.0),
    "lcm": SchedulerPreset("LCMScheduler", {}, 4, 1.0),
}
#: Steps and guidance when the model keeps its own scheduler (SDXL base's Euler).
DEFAULT_STEPS: Final = 30
DEFAULT_GUIDANCE: Final = 6.0


def scheduler_for_entry(class_name: str | None, options: Mapping[str, object] | None = None) -> str | None:
    """The preset name for a model entry's scheduler as the manifest records it (a diffusers class
    name plus options, e.g. EulerDiscreteScheduler + trailing spacing -> "lightning"); an unknown
    pair is returned as given, for scheduler_preset to refuse with the list of presets."""
    if not class_name:
        return None
    wanted = dict(options or {})
    for name, preset in SCHEDULERS.items():
        if preset.class_name == class_name and dict(preset.options) == wanted:
            return name
    return class_name


def scheduler_preset(name: str | None) -> SchedulerPreset | None:
    if name is None or name == "" or name == "default":
        return None
    key = name.strip().lower().replace("-", "_").replace("+", "p")
    if key not in SCHEDULERS:
        raise ModelFailed(
            f"scheduler {name!r} in the SDXL model entry is unknown; use one of {', '.join(SCHEDULERS)}"
        )
    return SCHEDULERS[key]
