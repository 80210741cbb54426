"""SDXL on diffusers, from local files only: a diffusers folder (models/sdxl/<name>/) or a single
.safetensors checkpoint. fp16 + SDPA on CUDA, decoding in fp16 when the VAE is the fp16-fix one (the
downloader installs it as the model's own vae/) and as diffusers decides otherwise; offload by free
VRAM, float32 on the CPU (slow, and it says so). The device comes from engine.models.device_info(),
so a card the installed torch has no kernels for runs on the CPU. Progress per diffusion step, cancel
from the step callback, one retry with more offload after CUDA runs out of memory, any other CUDA
error as a GPUFailed naming the fix; released after the stage.

With an IP-Adapter installed (engine.images.ip_adapter) the pipeline loads it too: a scene given a
Reference is conditioned on its characters' portraits (embeddings computed once per portrait and
kept until the stage ends); any other scene runs with the adapter's scale at 0, which diffusers
skips. An adapter that fails to load leaves SDXL prompt-only, with a note."""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Iterator, Literal

from engine.contracts import Progress
from engine.errors import GPUFailed, ModelFailed, ModelMissing
from engine.images.placement import (
    DEFAULT_GUIDANCE,
    DEFAULT_STEPS,
    OFFLOAD_CHOICES,
    Placement,
    choose_placement,
    escalate,
    scheduler_preset,
)
from engine.images.ip_adapter import (
    AdapterFiles,
    PortraitEmbeddings,
    Reference,
    adapter_near_model,
    adapter_vram_bytes,
    load_adapter,
)
from engine.images.prompts import ScenePrompt
from engine.images.sdxl_vae import find_vae, is_fp16_fix_vae, tile_vae
from engine.models.cuda_errors import cuda_failure
from engine.models.device import cuda_support, device_info

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

MISSING_MESSAGE: Final = "SDXL weights not found in models/sdxl/ — run scripts/download_models.py --sdxl"


def sdxl_weights_present(model_path: Path) -> bool:
    """A diffusers folder with model_index.json and a UNet, or a single .safetensors file."""
    p = Path(model_path)
    if p.is_file():
        return p.suffix == ".safetensors" and p.stat().st_size > 0
    return (p / "model_index.json").is_file() and (p / "unet").is_dir()


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
        ip_adapter: AdapterFiles | None | Literal["auto"] = "auto",
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
        if vae_path is not None:
            self.vae_path: Path | None = Path(vae_path)
            self.vae_fp16_fix = is_fp16_fix_vae(self.vae_path)
        else:
            self.vae_path, self.vae_fp16_fix = find_vae(self.model_path)
        self.config_dir = Path(config_dir) if config_dir else None
        self._pipe: Any = None
        self._placement: Placement | None = None
        self._oom_retried = False
        #: "auto": the adapter installed beside the model (models/ip_adapter/), if any.
        self.ip_adapter = adapter_near_model(self.model_path) if ip_adapter == "auto" else ip_adapter
        self._adapter_loaded = False
        self._adapter_failed = ""  # why the adapter could not be loaded (SDXL runs prompt-only)
        self._cast = PortraitEmbeddings()  # each portrait's embeddings, kept until the stage ends

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._pipe is not None

    @property
    def placement(self) -> Placement | None:
        return self._placement

    @property
    def adapter_loaded(self) -> bool:
        """Whether the loaded pipeline carries the IP-Adapter."""
        return self._pipe is not None and self._adapter_loaded

    @property
    def embeds_computed(self) -> int:
        """Portrait embeddings computed since this source was made (once per portrait per stage)."""
        return self._cast.computed

    @property
    def adapter_failed(self) -> str:
        """Why the installed IP-Adapter could not be loaded ("" when it could, or none is installed)."""
        return self._adapter_failed

    def describe(self) -> str:
        sched = self.scheduler or "model default scheduler"
        where = self._placement.describe() if self._placement else "not loaded"
        vae = "fp16-fix VAE" if self.vae_fp16_fix else "stock VAE"
        adapter = f", {self.ip_adapter.describe()}" if self.adapter_loaded and self.ip_adapter else ""
        return (
            f"SDXL {self.model_path.name} ({where}; {self.steps} steps, guidance {self.guidance:g}, "
            f"{sched}, {vae}{adapter})"
        )

    def load(self, progress: Progress) -> None:
        """Load the pipeline (once) onto the device chosen by the memory policy, with one retry
        with more offload after running out of memory. Raises ModelFailed when it cannot: broken
        weights, out of memory even so, or a CUDA error (GPUFailed, with the fix)."""
        while self._pipe is None:
            with self._gpu_errors(progress):
                self._load_once(progress)

    @contextlib.contextmanager
    def _gpu_errors(self, progress: Progress) -> Iterator[None]:
        """Out of memory: release and retry with more offload (the caller loops), or ModelFailed
        once retried; any other CUDA error: GPUFailed with the fix."""
        import torch

        try:
            yield
        except torch.cuda.OutOfMemoryError as exc:
            self._out_of_memory(exc, progress)
        except RuntimeError as exc:
            failed = self._gpu_failed(exc)
            if failed is None:
                raise
            raise failed from exc

    def _load_once(self, progress: Progress) -> None:
        if self._placement is None:
            self._placement = self._choose(progress)
        placement = self._placement
        progress(0.0, f"Loading SDXL ({placement.describe()})")
        started = time.monotonic()
        self._pipe = self._build(placement)
        if self._adapter_failed:
            progress.note(self._adapter_failed)
        log.info(
            "SDXL %s loaded in %.1f s (%s)", self.model_path, time.monotonic() - started, placement.describe()
        )
        progress.note(f"images: {self.describe()}")

    def _choose(self, progress: Progress) -> Placement:
        """The placement: on the device asked for, else the one device_info() picks (the CPU when
        the installed torch has no kernels for the card), by its free memory."""
        import torch

        free: int | None = None
        if self.device is not None:
            device = self.device
            if device.startswith("cuda"):
                free, total = torch.cuda.mem_get_info(torch.device(device))
                log.info("CUDA %s: %.1f of %.1f GiB free", device, free / 2**30, total / 2**30)
        else:
            info = device_info()
            device = info.kind
            if info.kind == "cuda":
                free = info.free_bytes
                log.info("CUDA %s: %.1f of %.1f GiB free", info.name, free / 2**30, info.total_bytes / 2**30)
        extra = adapter_vram_bytes(self.ip_adapter) if self.ip_adapter is not None else 0
        placement = choose_placement(device, free, self.offload, extra_bytes=extra)
        if device == "cpu":
            support = cuda_support() if self.device is None else None
            if support is not None and support.available and not support.usable:
                progress.note(
                    f"The installed torch {support.torch_version} cannot use {support.name} (compute "
                    f"capability {support.capability_text}): SDXL runs on the CPU in float32 — expect "
                    f"minutes per image; run {support.fix}"
                )
            else:
                progress.note("No GPU found: SDXL runs on the CPU in float32 — expect minutes per image")
        return placement

    def _gpu_failed(self, exc: RuntimeError) -> GPUFailed | None:
        """A GPUFailed for a CUDA error (after giving the GPU memory back), else None."""
        failed = cuda_failure(exc, "SDXL")
        if failed is None:
            return None
        try:
            self.release()
        except RuntimeError as again:  # a broken CUDA context can fail the clean-up as well
            log.warning("releasing SDXL after a CUDA error failed too: %s", again)
            self._pipe = None
        log.error("SDXL CUDA error (%s): %s", failed.kind, exc)
        return failed

    def release(self) -> None:
        """Drop the pipeline and give its memory back (so the voice model gets the GPU)."""
        if self._pipe is None:
            return
        pipe, self._pipe = self._pipe, None
        self._adapter_loaded = False
        if hasattr(pipe, "remove_all_hooks"):
            pipe.remove_all_hooks()
        del pipe
        _free_memory()

    def finish(self) -> None:
        """End of the images stage: release unless told to keep the model loaded."""
        self._oom_retried = False
        self._cast.clear()  # a replaced portrait must not reuse the last job's embeddings
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
            if isinstance(exc, RuntimeError) and cuda_failure(exc, "SDXL") is not None:
                raise  # load() reports it with the card's fix, not as broken weights
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
        if self.vae_fp16_fix and pipe.vae.config.force_upcast:
            # Known fp16-safe (by its folder or the manifest) though its config does not say so.
            pipe.vae.register_to_config(force_upcast=False)
        # Any other VAE keeps its own config: diffusers decodes in float32 when it asks to
        # (force_upcast, the default, which the stock SDXL VAE needs: it overflows in fp16).
        if self._scheduler_preset is not None:
            import diffusers

            cls = getattr(diffusers, self._scheduler_preset.class_name)
            pipe.scheduler = cls.from_config(pipe.scheduler.config, **dict(self._scheduler_preset.options))
        if placement.on_gpu:
            from diffusers.models.attention_processor import AttnProcessor2_0

            pipe.unet.set_attn_processor(AttnProcessor2_0())  # SDPA (flash / mem-efficient kernels)
            pipe.vae.set_attn_processor(AttnProcessor2_0())
        self._load_adapter(pipe)  # before placing: offload hooks then cover the image encoder too
        self._place(pipe, placement)
        return pipe

    def _load_adapter(self, pipe: Any) -> None:
        self._adapter_loaded, self._adapter_failed = False, ""
        if self.ip_adapter is not None:
            self._adapter_failed = load_adapter(pipe, self.ip_adapter)
            self._adapter_loaded = not self._adapter_failed

    def _single_file_config(self) -> Path | None:
        for cand in (Path(f"{self.model_path.with_suffix('')}_config"), self.model_path.parent / "config"):
            if (cand / "model_index.json").is_file():
                return cand
        return None

    @staticmethod
    def _place(pipe: Any, placement: Placement) -> None:
        if placement.vae_tiling:
            pipe.vae.enable_tiling()  # the tile size is set per image (tile_vae)
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

    # -- generation ----------------------------------------------------------------------------
    def generate(
        self,
        prompt: ScenePrompt,
        *,
        size: tuple[int, int],
        progress: Progress,
        label: str = "Creating image",
        reference: Reference | None = None,
    ) -> "Image.Image":
        """One image for ``prompt`` at ``size`` (w, h), or at this source's own size override,
        conditioned on ``reference``'s portraits when the IP-Adapter is loaded. Reports each
        diffusion step; JobCancelled from the step callback stops it."""
        width, height = self.size or size
        while True:  # at most twice: _out_of_memory raises once it has retried
            self.load(progress)
            with self._gpu_errors(progress):
                return self._run(prompt, width, height, progress, label, reference)

    def _out_of_memory(self, exc: BaseException, progress: Progress) -> None:
        """After an out-of-memory: one retry per stage with more offload (and VAE tiling), else
        ModelFailed."""
        current = self._placement
        self.release()
        _free_memory()  # also when the OOM came while loading, before there was a pipeline to release
        nxt = escalate(current) if current is not None else None
        gpu = current.describe() if current else "GPU"
        if self._oom_retried or nxt is None:
            retried = " even after retrying with more offload" if self._oom_retried else ""
            raise ModelFailed(
                f"The GPU ran out of memory running SDXL ({gpu}){retried}; close other GPU programs, "
                "use a smaller SDXL variant or a smaller image size, or set offload to 'sequential'"
            ) from exc
        self._oom_retried = True
        self._placement = nxt
        log.warning("CUDA out of memory (%s); retrying with %s", gpu, nxt.describe())
        progress.note(f"GPU out of memory with {gpu}; retrying with {nxt.offload} offload")

    def _run(
        self,
        prompt: ScenePrompt,
        width: int,
        height: int,
        progress: Progress,
        label: str,
        reference: Reference | None = None,
    ) -> "Image.Image":
        import torch

        pipe = self._pipe
        steps = self.steps
        if self._placement is not None and self._placement.vae_tiling:
            tile_vae(pipe.vae, width, height)

        def on_step_end(p: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            total = max(1, int(getattr(p, "num_timesteps", 0) or steps))
            progress(min(1.0, (step + 1) / total), f"{label} (step {step + 1} of {total})")
            progress.check_cancelled()
            return kwargs

        progress.check_cancelled()
        progress(0.0, f"{label} (step 0 of {steps})")
        generator = torch.Generator(device="cpu").manual_seed(prompt.seed)
        use_cfg = self.guidance > 1.0
        adapter = self._cast.inputs(pipe, reference, width, height, use_cfg) if self._adapter_loaded else {}
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
                **adapter,
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
