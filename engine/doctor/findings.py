"""From what the machine has (Facts) and what the configuration chose (BackendChoice), the
problems worth fixing, each with the command that fixes it. Pure: no probing here, so every rule
is testable on any machine with made-up Facts."""
from __future__ import annotations

import json
import sys
from typing import Mapping, Sequence

from engine.backends import BackendChoice
from engine.doctor.report import Facts, Finding
from engine.models import InstalledModel, vram_estimate

GIB = 1 << 30
#: Free disk under which a job cannot finish (a 10-minute 1080p job writes ~1-2 GB of frames+video).
DISK_ERROR_BYTES = 2 * GIB
DISK_WARN_BYTES = 10 * GIB
MAKE_GPU = "make gpu"
NVENC_FIX = ("sudo apt-get install libnvidia-encode-$(nvidia-smi --query-gpu=driver_version "
             "--format=csv,noheader | head -n1 | cut -d. -f1)")


def chosen_models(
    choice: BackendChoice, installed: Sequence[InstalledModel]
) -> dict[str, tuple[InstalledModel, ...]]:
    """Per stage, the installed models that serve it (matched by the paths StageChoice names)."""
    out: dict[str, tuple[InstalledModel, ...]] = {}
    for s in choice.stages:
        paths = set((s.weights or "").split(", ")) if s.real_weights else set()
        out[s.stage] = tuple(m for m in installed if str(m.path) in paths)
    return out


def needs_espeak(model: InstalledModel) -> bool:
    """A Coqui VITS model that phonemizes through espeak-ng (the VCTK voices do)."""
    if model.kind != "tts":
        return False
    folder = model.path if model.path.is_dir() else model.path.parent
    try:
        config = json.loads((folder / str(model.settings.get("config_file") or "config.json"))
                            .read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "vctk" in model.name.lower()
    return (str(config.get("model", "")).lower() == "vits" and bool(config.get("use_phonemes"))
            and config.get("phonemizer") in (None, "espeak", "espeak-ng"))


def _install_llama(facts: Facts) -> str:
    return MAKE_GPU if facts.nvidia_gpus or facts.platform == "darwin" else (
        f"bash scripts/install_llama.sh {sys.executable} cpu")


def llama_findings(facts: Facts, llm: Sequence[InstalledModel]) -> list[Finding]:
    if not llm or facts.llama.installed is None:
        return []
    if not facts.llama.installed:
        return [Finding("error", "llama.cpp", f"{llm[0].name} is installed but llama-cpp-python is not, so "
                        "the script stage cannot run", _install_llama(facts), 1)]
    if facts.llama.gpu_offload is False and facts.nvidia_gpus:
        return [Finding("warning", "llama.cpp", "CUDA card present but llama.cpp was built without GPU "
                        f"support — the script runs on the CPU ({facts.nvidia_gpus[0]} unused; minutes "
                        "instead of seconds)", MAKE_GPU, 0)]
    return []


def torch_findings(facts: Facts, torch_models: Sequence[InstalledModel]) -> list[Finding]:
    """torch missing/broken when SDXL or Coqui will run; a card torch cannot use."""
    cuda = facts.cuda
    if cuda is None:
        return []
    names = ", ".join(m.name for m in torch_models)
    if cuda.torch_version is None:
        if not torch_models:
            return []
        return [Finding("error", "torch", f"{names} need torch, which {cuda.error or 'is not installed'}",
                        cuda.fix, 2)]
    if not facts.nvidia_gpus and not cuda.available:
        return []
    severity = "warning" if torch_models else "info"
    runs = f"{names} run on the CPU instead" if torch_models else "no torch model is installed yet"
    if cuda.available and cuda.kernels is False:
        arch = ", ".join(cuda.arch_list) or "none"
        return [Finding(severity, "torch", f"torch {cuda.torch_version} has no kernels for {cuda.name} "
                        f"(compute capability {cuda.capability_text}; it carries {arch}): {runs}",
                        cuda.fix, 1)]
    if not cuda.available:
        card = facts.nvidia_gpus[0]
        if cuda.cuda_build is None:
            why = f"torch {cuda.torch_version} is a CPU-only build"
            fix = f"{MAKE_GPU} (it installs the torch build that fits the card)"
        else:
            why = (f"torch {cuda.torch_version} (CUDA {cuda.cuda_build}) cannot use it"
                   + (f": {cuda.error}" if cuda.error else " — the NVIDIA driver is older than its CUDA"))
            fix = cuda.fix or ("nvidia-smi (shows the driver's CUDA version; install a driver for CUDA "
                               f"{cuda.cuda_build} or newer)")
        return [Finding(severity, "torch", f"{card} present but {why}: {runs}", fix, 2)]
    return []


def vram_findings(facts: Facts, models: Sequence[InstalledModel], placement: str | None) -> list[Finding]:
    dev = facts.device
    if dev is None or not dev.is_gpu:
        return []
    out = []
    free = dev.free_bytes
    for m in models:
        need = vram_estimate(m)
        if m.kind == "llm" and facts.llama.gpu_offload and need > free:
            out.append(Finding("warning", "vram", f"{m.name} needs about {need / GIB:.1f} GiB but {dev.name} "
                               f"has {free / GIB:.1f} GiB free: llama.cpp may fail to load every layer",
                               "python scripts/download_models.py --profile lite  (a smaller GGUF)", 5))
    if placement and "sequential" in placement:
        out.append(Finding("warning", "vram", f"{dev.name} has {free / GIB:.1f} GiB free: SDXL runs with "
                           "sequential CPU offload (3-10x slower); close other GPU programs or use a "
                           "few-step SDXL", "python scripts/download_models.py --profile lite", 6))
    return out


def tool_findings(facts: Facts, tts: Sequence[InstalledModel]) -> list[Finding]:
    out = []
    if facts.ffmpeg is None:
        out.append(Finding("error", "ffmpeg", facts.ffmpeg_error or "ffmpeg not found: the video stage "
                           "cannot run", "pip install imageio-ffmpeg", 3))
    if facts.nvenc is False and facts.nvidia_gpus:
        out.append(Finding("info", "nvenc", f"h264_nvenc refused a probe encode on {facts.nvidia_gpus[0]}: "
                           "videos encode with libx264 on the CPU", NVENC_FIX, 60))
    espeak_voices = [m.name for m in tts if needs_espeak(m)]
    if espeak_voices and facts.espeak is None:
        fix = "brew install espeak-ng" if facts.platform == "darwin" else "sudo apt-get install espeak-ng"
        out.append(Finding("error", "espeak-ng", f"{', '.join(espeak_voices)} phonemize through espeak-ng, "
                           "which is not installed: those voices cannot speak", fix, 4))
    xtts = [m.name for m in tts if m.settings.get("engine") == "coqui-xtts"]
    if xtts and facts.xtts_missing:
        from engine.languages import LANGUAGES
        from engine.narration.voice_packs import XTTS_EXTRA

        names = " and ".join(LANGUAGES[c].name for c in facts.xtts_missing)
        out.append(Finding("info", "xtts", f"{xtts[0]} cannot read {names}: the packages coqui-tts "
                           "romanises them with are not installed (those languages are refused)",
                           XTTS_EXTRA, 61))
    return out


def disk_findings(facts: Facts) -> list[Finding]:
    out = []
    for d in facts.disks:
        if d.free_bytes >= DISK_WARN_BYTES:
            continue
        severity = "error" if d.free_bytes < DISK_ERROR_BYTES else "warning"
        free = f"only {d.free_bytes / GIB:.1f} GiB free for {d.label} ({d.path})"
        out.append(Finding(severity, "disk", free,
                           f"free space there, or start with --{d.label}-dir on a larger disk", 7))
    return out


def manifest_findings(gone: Sequence[str]) -> list[Finding]:
    return [Finding("warning", "models", f"models/manifest.json records {name} but its files are gone; "
                    "another model or the embedded default runs instead",
                    f"python scripts/download_models.py --model {name}", 8) for name in gone]


def all_findings(
    facts: Facts,
    choice: BackendChoice,
    installed: Sequence[InstalledModel],
    *,
    placement: str | None = None,
    refused: str | None = None,
    gone: Sequence[str] = (),
) -> tuple[Finding, ...]:
    """Every finding; ``refused``: the error choose_backends raised for a backend forced without
    its weights (the server would not start); ``gone``: models the manifest records that are not
    on disk any more."""
    by_stage: Mapping[str, tuple[InstalledModel, ...]] = chosen_models(choice, installed)
    llm, sdxl, tts = by_stage.get("script", ()), by_stage.get("images", ()), by_stage.get("narration", ())
    found: list[Finding] = []
    if refused:
        message, _, fix = refused.partition(" — run ")
        found.append(Finding("error", "backends", message, fix or None, 0))
    found += llama_findings(facts, llm)
    found += torch_findings(facts, (*sdxl, *tts))
    found += vram_findings(facts, (*llm, *sdxl, *tts), placement)
    found += tool_findings(facts, tts)
    found += disk_findings(facts)
    found += manifest_findings(gone)
    return tuple(found)
