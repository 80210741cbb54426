"""``diagnose(setup)``: the full check behind ``python -m server --doctor``; ``startup_warnings``:
the cheap subset the server logs at start and lists in /health."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

from engine.backends import BackendChoice, choose_backends
from engine.doctor.findings import all_findings, chosen_models
from engine.doctor.probes import gather, gone_from_manifest
from engine.doctor.report import DoctorReport, Facts, MemoryRow, ModelRow, StageRow, warning_lines
from engine.errors import ModelMissing
from engine.models import (
    DeviceInfo,
    InstalledModel,
    device_info,
    find_installed,
    set_offline_env,
    vram_estimate,
)


@dataclass(frozen=True)
class Setup:
    """The configuration the doctor checks (the server builds it from its Config)."""

    models_dir: Path
    stock_dir: Path
    manual_roots: tuple[Path, ...]
    data_dir: Path
    videos_dir: Path
    script: str = "auto"
    images: str = "auto"
    narration: str = "auto"
    keep_warm: str = "auto"

    @property
    def folders(self) -> dict[str, Path]:
        return {"data": self.data_dir, "videos": self.videos_dir}


def _choose(setup: Setup, device: Callable[[], DeviceInfo], *, forced: bool = True) -> BackendChoice:
    """The backends the configuration picks; ``forced=False``: every stage on ``auto``."""
    return choose_backends(models_dir=setup.models_dir, stock_dir=setup.stock_dir,
                           manual_roots=setup.manual_roots, keep_warm=setup.keep_warm, device=device,
                           script=setup.script if forced else "auto",
                           images=setup.images if forced else "auto",
                           narration=setup.narration if forced else "auto", check=False)


def _model_row(m: InstalledModel) -> ModelRow:
    return ModelRow(m.name, m.kind, str(m.path), m.size_bytes, m.sha256, m.found_by, vram_estimate(m))


def _torch_where(facts: Facts) -> str:
    dev = facts.device
    if dev is None:
        return "not checked"
    return "CPU" if not dev.is_gpu else f"{dev.kind} ({dev.name})"


def _script_device(facts: Facts, real: bool) -> str:
    if not real:
        return "CPU (templates, instant)"
    llama = facts.llama
    if not llama.installed:
        return "cannot run: llama-cpp-python not installed"
    if llama.gpu_offload:
        other = "Metal" if facts.platform == "darwin" else "GPU"
        gpu = facts.nvidia_gpus[0] if facts.nvidia_gpus else other
        return f"GPU ({gpu}): every layer offloaded"
    return "CPU (llama.cpp built without GPU offload)"


def _sdxl_placement(facts: Facts) -> str | None:
    from engine.images.placement import choose_placement

    dev = facts.device
    if dev is None:
        return None
    return choose_placement(dev.kind, dev.free_bytes if dev.kind == "cuda" else None).describe()


def _video_row(facts: Facts) -> StageRow:
    if facts.ffmpeg is None:
        return StageRow("video", "compositor (numpy/OpenCV) + ffmpeg", "cannot run: ffmpeg not found", False,
                        facts.ffmpeg_error or "ffmpeg not found", (), "pip install imageio-ffmpeg")
    if facts.nvenc:
        encoder, device = "h264_nvenc", "CPU frames, GPU encode (NVENC)"
        why = "h264_nvenc passed a probe encode"
    elif facts.nvenc is None:
        encoder, device, why = "h264_nvenc or libx264", "CPU frames; encoder probed per render", "not probed"
    else:
        encoder, device, why = "libx264", "CPU (NVENC not usable here)", "h264_nvenc refused a probe encode"
    return StageRow("video", f"compositor (numpy/OpenCV) + ffmpeg {encoder}", device, False,
                    f"ffmpeg found; {why}", (), None)


def stage_rows(
    choice: BackendChoice, installed: Sequence[InstalledModel], facts: Facts
) -> tuple[StageRow, ...]:
    models = chosen_models(choice, installed)
    placement = _sdxl_placement(facts)
    rows = []
    for s in choice.stages:
        used = models.get(s.stage, ())
        if s.real_weights:
            why = "; ".join(f"{m.name}: {m.path} ({_model_row(m).checksum})" for m in used) or str(s.weights)
        else:
            why = f"no real model installed (embedded default); to get it: {s.fix}"
        if s.stage == "script":
            device = _script_device(facts, s.real_weights)
        elif s.stage == "images":
            device = (placement or _torch_where(facts)) if s.real_weights else "CPU (procedural draft art)"
        else:
            device = _torch_where(facts) if s.real_weights else "CPU (Piper, onnxruntime)"
        rows.append(StageRow(s.stage, s.backend, device, s.real_weights, why,
                             tuple(_model_row(m) for m in used), s.fix))
    rows.append(_video_row(facts))
    return tuple(rows)


def _memory(choice: BackendChoice, installed: Sequence[InstalledModel], facts: Facts) -> MemoryRow | None:
    if facts.device is None:
        return None
    by_stage = chosen_models(choice, installed)
    llms = by_stage.get("script", ())  # several GGUFs take turns: one is loaded at a time
    real = [m for stage, ms in by_stage.items() if stage != "script" for m in ms]
    real += [max(llms, key=vram_estimate)] if llms else []
    return MemoryRow(facts.device, sum(vram_estimate(m) for m in real), _sdxl_placement(facts),
                     choice.keep_warm, choice.memory_note)


def diagnose(setup: Setup, *, facts: Facts | None = None) -> DoctorReport:
    """The whole check. ``facts``: what the machine has (default: ask it, which imports torch and
    runs one NVENC probe encode)."""
    set_offline_env()
    if facts is None:
        facts = gather(setup.folders, quick=False)
    known = facts.device

    def device() -> DeviceInfo:  # keep-warm asks the device the facts already name
        return known if known is not None else device_info()
    refused = None
    try:
        choice = _choose(setup, device)
    except ModelMissing as exc:  # a backend forced without its weights: the server would refuse to start
        refused = exc.message
        choice = _choose(setup, device, forced=False)
    installed = find_installed(setup.models_dir)
    gone = gone_from_manifest(setup.models_dir, {m.name for m in installed})
    findings = all_findings(facts, choice, installed, placement=_sdxl_placement(facts), refused=refused,
                            gone=gone)
    rows = stage_rows(choice, installed, facts)
    if refused:  # the forced stage has no backend: say so on its row, not the default's device
        real = {"script": setup.script == "llama", "images": setup.images == "sdxl",
                "narration": setup.narration == "coqui"}
        rows = tuple(replace(r, device=f"cannot run: {refused}") if real.get(r.stage) and not r.real_weights
                     else r for r in rows)
    memory = _memory(choice, installed, facts)
    return DoctorReport(str(setup.models_dir.resolve()), rows, facts, memory, findings)


def startup_warnings(
    choice: BackendChoice, *, models_dir: Path, folders: Mapping[str, Path]
) -> tuple[str, ...]:
    """The doctor's errors and warnings that can be found cheaply, loudest first: no torch import
    (unless keep-warm already imported it), no probe encode; llama.cpp is asked only when an NVIDIA
    card is present and a GGUF model will run. ``folders``: label -> folder whose disk is checked."""
    llm = any(s.stage == "script" and s.real_weights for s in choice.stages)
    facts = gather(folders, quick=True, want_llama=llm)
    installed = find_installed(models_dir)
    gone = gone_from_manifest(models_dir, {m.name for m in installed})
    return warning_lines(all_findings(facts, choice, installed, placement=_sdxl_placement(facts), gone=gone))


__all__ = ["Setup", "diagnose", "startup_warnings"]
