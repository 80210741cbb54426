"""SDXL on diffusers, from local files only: a diffusers folder (models/sdxl/<name>/) or a single
.safetensors checkpoint. fp16 + SDPA on CUDA with a VAE that does not overflow in fp16, offload by
free VRAM, float32 on the CPU (slow, and it says so). Progress per diffusion step, cancel from the
step callback, one retry with more offload after CUDA runs out of memory, released after the stage."""

from __future__ import annotations

import gc
import importlib.util
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from engine.contracts import Progress
from engine.errors import ModelFailed, ModelMissing
from engine.images.placement import (
    DEFAULT_GUIDANCE,
    DEFAULT_STEPS,
    OFFLOAD_CHOICES,
    Placement,
    choose_placement,
    escalate,
    scheduler_preset,
)
from engine.images.prompts import ScenePrompt

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

MISSING_MESSAGE: Final = "SDXL weights not found in models/sdxl/ — run scripts/download_models.py --sdxl"
#: Folders holding an fp16-safe VAE (madebyollin/sdxl-vae-fp16-fix), inside or beside the model.
FIXED_VAE_DIRS: Final = ("vae_fp16_fix", "sdxl-vae-fp16-fix")


def sdxl_weights_present(model_path: Path) -> bool:
    """A diffusers folder with model_index.json and a UNet, or a single .safetensors file."""
    p = Path(model_path)
    if p.is_file():
        return p.suffix == ".safetensors" and p.stat().st_size > 0
    return (p / "model_index.json").is_file() and (p / "unet").is_dir()


def _find_fixed_vae(model_path: Path) -> Path | None:
    base = model_path if model_path.is_dir() else model_path.parent
    for root in (base, base.parent):
        for name in FIXED_VAE_DIRS:
            if (root / name / "config.json").is_file():
                return root / name
    return None


def _has_fp16_variant(model_path: Path) -> bool:
    return model_path.is_dir() and any((model_path / "unet").glob("*.fp16.safetensors"))


def _free_memory() -> None:
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _dtype_kwarg() -> str:
    """diffusers 0.42 renamed from_pretrained's ``torch_dtype`` to ``dtype``."""
    import diffusers
    from packaging.version import Version

    return "dtype" if Version(diffusers.__version__).release >= (0, 42) else "torch_dtype"


class SDXLSource:
    """Generates one scene image at a time; the router drives it (load, generate..., finish)."""

    name = "sdxl"

    def __init__(
        self,
        model_path: Path,
        *,
        device: str | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        scheduler: str | None = None,
        offload: str = "auto",
        keep_loaded: bool = False,
        size: tuple[int, int] | None = None,
        vae_path: Path | None = None,
        config_dir: Path | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        if not sdxl_weights_present(self.model_path):
            raise ModelMissing(f"{MISSING_MESSAGE} (looked for {self.model_path})")
        if importlib.util.find_spec("torch") is None or importlib.util.find_spec("diffusers") is None:
            raise ModelMissing(
                "SDXL needs torch and diffusers — install them with: pip install 'storyreel[sdxl]'"
            )
        if offload not in OFFLOAD_CHOICES:
            raise ModelFailed(f"offload {offload!r} is not one of {', '.join(OFFLOAD_CHOICES)}")
        if size is not None and (size[0] % 8 or size[1] % 8 or min(size) < 64):
            raise ModelFailed(f"SDXL size {size} must be at least 64x64 and a multiple of 8 on both sides")
        preset = scheduler_preset(scheduler)
        self.scheduler = scheduler
        self._scheduler_preset = preset
        self.steps = int(steps if steps is not None else (preset.steps if preset else DEFAULT_STEPS))
        self.guidance = float(
            guidance if guidance is not None else (preset.guidance if preset else DEFAULT_GUIDANCE)
        )
        if self.steps < 1:
            raise ModelFailed(f"SDXL steps must be at least 1 (got {self.steps})")
        self.device = device
        self.offload = offload
        self.keep_loaded = keep_loaded
        self.size = size
        self.vae_path = Path(vae_path) if vae_path else _find_fixed_vae(self.model_path)
        self.config_dir = Path(config_dir) if config_dir else None
        self._pipe: Any = None
        self._placement: Placement | None = None
        self._oom_retried = False

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._pipe is not None

    @property
    def placement(self) -> Placement | None:
        return self._placement

    def describe(self) -> str:
        sched = self.scheduler or "model default scheduler"
        where = self._placement.describe() if self._placement else "not loaded"
        return (
            f"SDXL {self.model_path.name} ({where}; {self.steps} steps, guidance {self.guidance:g}, {sched})"
        )

    def load(self, progress: Progress) -> None:
        """Load the pipeline (once) onto the device chosen by the memory policy."""
        if self._pipe is not None:
            return
        import torch

        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if self._placement is None:
            free = None
            if device.startswith("cuda"):
                free, total = torch.cuda.mem_get_info(torch.device(device))
                log.info("CUDA %s: %.1f of %.1f GiB free", device, free / 2**30, total / 2**30)
            self._placement = choose_placement(device, free, self.offload)
        placement = self._placement
        progress(0.0, f"Loading SDXL ({placement.describe()})")
        if not placement.on_gpu:
            progress.note("No GPU found: SDXL runs on the CPU in float32 — expect minutes per image")
        started = time.monotonic()
        self._pipe = self._build(placement)
        log.info(
            "SDXL %s loaded in %.1f s (%s)", self.model_path, time.monotonic() - started, placement.describe()
        )
        progress.note(f"images: {self.describe()}")

    def release(self) -> None:
        """Drop the pipeline and give its memory back (so the voice model gets the GPU)."""
        if self._pipe is None:
            return
        pipe, self._pipe = self._pipe, None
        if hasattr(pipe, "remove_all_hooks"):
            pipe.remove_all_hooks()
        del pipe
        _free_memory()

    def finish(self) -> None:
        """End of the images stage: release unless told to keep the model loaded."""
        self._oom_retried = False
        if not self.keep_loaded:
            self.release()

    # -- loading -------------------------------------------------------------------------------
    def _build(self, placement: Placement) -> Any:
        import torch
        from diffusers import AutoencoderKL, StableDiffusionXLPipeline

        dtype = torch.float16 if placement.dtype == "float16" else torch.float32
        kwargs: dict[str, Any] = {_dtype_kwarg(): dtype, "local_files_only": True}
        try:
            if self.vae_path is not None:
                kwargs["vae"] = AutoencoderKL.from_pretrained(
                    self.vae_path, **{_dtype_kwarg(): dtype}, local_files_only=True
                )
            if self.model_path.is_dir():
                if dtype == torch.float16 and _has_fp16_variant(self.model_path):
                    kwargs["variant"] = "fp16"
                pipe = StableDiffusionXLPipeline.from_pretrained(self.model_path, **kwargs)
            else:
                config = self.config_dir or self._single_file_config()
                if config is not None:
                    kwargs["config"] = str(config)
                pipe = StableDiffusionXLPipeline.from_single_file(str(self.model_path), **kwargs)
        except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
            if isinstance(exc, torch.cuda.OutOfMemoryError):
                raise
            hint = (
                "a single .safetensors needs the SDXL base config offline: put a diffusers config folder "
                f"(model_index.json, */config.json, tokenizers) at {self.model_path.with_suffix('')}_config"
                if self.model_path.is_file()
                else "re-download it with scripts/download_models.py --sdxl"
            )
            raise ModelFailed(
                f"SDXL in {self.model_path} could not be loaded ({exc.__class__.__name__}: "
                f"{str(exc)[:300]}); {hint}"
            ) from exc
        pipe.set_progress_bar_config(disable=True)
        if dtype == torch.float16 and self.vae_path is None:
            # The stock SDXL VAE overflows in fp16: have the pipeline decode in float32.
            pipe.vae.register_to_config(force_upcast=True)
        if self._scheduler_preset is not None:
            import diffusers

            cls = getattr(diffusers, self._scheduler_preset.class_name)
            pipe.scheduler = cls.from_config(pipe.scheduler.config, **dict(self._scheduler_preset.options))
        if placement.on_gpu:
            from diffusers.models.attention_processor import AttnProcessor2_0

            pipe.unet.set_attn_processor(AttnProcessor2_0())  # SDPA (flash / mem-efficient kernels)
            pipe.vae.set_attn_processor(AttnProcessor2_0())
        self._place(pipe, placement)
        return pipe

    def _single_file_config(self) -> Path | None:
        for cand in (Path(f"{self.model_path.with_suffix('')}_config"), self.model_path.parent / "config"):
            if (cand / "model_index.json").is_file():
                return cand
        return None

    @staticmethod
    def _place(pipe: Any, placement: Placement) -> None:
        if not placement.on_gpu:
            pipe.to(placement.device)
            return
        index = int(placement.device.split(":", 1)[1]) if ":" in placement.device else None
        if placement.offload == "none":
            pipe.to(placement.device)
        elif placement.offload == "model":
            pipe.enable_model_cpu_offload(gpu_id=index)
        else:
            pipe.enable_sequential_cpu_offload(gpu_id=index)
        if placement.vae_tiling:
            pipe.vae.enable_tiling()
            pipe.vae.enable_slicing()

    # -- generation ----------------------------------------------------------------------------
    def generate(
        self, prompt: ScenePrompt, *, size: tuple[int, int], progress: Progress, label: str = "Creating image"
    ) -> "Image.Image":
        """One image for ``prompt`` at ``size`` (w, h), or at this source's own size override.
        Reports each diffusion step; JobCancelled from the step callback stops it."""
        import torch

        width, height = self.size or size
        for attempt in (1, 2):
            try:
                self.load(progress)
                return self._run(prompt, width, height, progress, label)
            except torch.cuda.OutOfMemoryError as exc:
                self._out_of_memory(exc, attempt, progress)
        raise AssertionError("unreachable")

    def _out_of_memory(self, exc: BaseException, attempt: int, progress: Progress) -> None:
        current = self._placement
        self.release()
        _free_memory()  # also when the OOM came while loading, before there was a pipeline to release
        nxt = escalate(current) if current is not None else None
        gpu = current.describe() if current else "GPU"
        if attempt > 1 or self._oom_retried or nxt is None:
            retried = " even after retrying with more offload" if (attempt > 1 or self._oom_retried) else ""
            raise ModelFailed(
                f"The GPU ran out of memory running SDXL ({gpu}){retried}; close other GPU programs, "
                "use a smaller SDXL variant or a smaller image size, or set offload to 'sequential'"
            ) from exc
        self._oom_retried = True
        self._placement = nxt
        log.warning("CUDA out of memory (%s); retrying with %s", gpu, nxt.describe())
        progress.note(f"GPU out of memory with {gpu}; retrying with {nxt.offload} offload")

    def _run(
        self, prompt: ScenePrompt, width: int, height: int, progress: Progress, label: str
    ) -> "Image.Image":
        import torch

        pipe = self._pipe
        steps = self.steps

        def on_step_end(p: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            total = max(1, int(getattr(p, "num_timesteps", 0) or steps))
            progress(min(1.0, (step + 1) / total), f"{label} (step {step + 1} of {total})")
            progress.check_cancelled()
            return kwargs

        progress.check_cancelled()
        progress(0.0, f"{label} (step 0 of {steps})")
        generator = torch.Generator(device="cpu").manual_seed(prompt.seed)
        use_cfg = self.guidance > 1.0
        started = time.monotonic()
        with torch.inference_mode():
            out = pipe(
                prompt=prompt.prompt,
                negative_prompt=prompt.negative if use_cfg else None,
                width=width,
                height=height,
                num_inference_steps=steps,
                guidance_scale=self.guidance,
                generator=generator,
                callback_on_step_end=on_step_end,
                output_type="pil",
            )
        image = out.images[0]
        log.info(
            "SDXL image %dx%d, %d steps, seed %d: %.2f s",
            width,
            height,
            steps,
            prompt.seed,
            time.monotonic() - started,
        )
        return image
