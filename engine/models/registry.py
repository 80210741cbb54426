"""What is installed under models/: the manifest first, then a scan of the usual places.

Layout (what scripts/download_models.py writes, and what a creator may drop in by hand)::

    models/manifest.json                 written by the downloader (checksums, licences, settings)
    models/llm/*.gguf                    llama.cpp models (split GGUFs: the -00001-of-000NN shard)
    models/sdxl/<name>/model_index.json  a diffusers SDXL folder (every component present)
    models/sdxl/*.safetensors            a single-file SDXL checkpoint
    models/tts/<name>/config.json        a Coqui model folder with a checkpoint beside it
    models/ip_adapter/<name>/            an IP-Adapter for SDXL (engine.images.ip_adapter): its
                                         .safetensors and image_encoder/ (config + weights)
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from engine.errors import ModelMissing
from engine.tempnames import is_part_name

log = logging.getLogger(__name__)

KINDS = ("llm", "sdxl", "tts", "ip_adapter")
MANIFEST = "manifest.json"
#: the downloader command that fetches each kind (and XTTS, an optional extra voice)
FETCH_FLAG: Mapping[str, str] = MappingProxyType({"llm": "--llm", "sdxl": "--sdxl", "tts": "--tts",
                                                  "xtts": "--xtts", "ip_adapter": "--ip-adapter"})
_CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors", ".ckpt", ".tar")
_WEIGHTS_SUFFIXES = (".safetensors", ".bin")
_SHARD = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)


@dataclass(frozen=True)
class InstalledModel:
    name: str
    kind: str  # llm | sdxl | tts
    path: Path  # absolute: the .gguf / .safetensors file, or the model folder
    size_bytes: int
    sha256: str | None  # of the main weights file, from the manifest; None when found by scanning
    licence: str
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    found_by: str = "scan"  # "manifest" | "scan"
    title: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "path": str(self.path), "size_bytes": self.size_bytes,
                "sha256": self.sha256, "licence": self.licence, "settings": dict(self.settings),
                "found_by": self.found_by, "title": self.title}


def fetch_command(component: str) -> str:
    return f"python scripts/download_models.py {FETCH_FLAG[component]}"


def _size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*")
               if f.is_file() and not is_part_name(f.name, legacy=True))


def _from_manifest(models_dir: Path) -> list[InstalledModel]:
    mpath = models_dir / MANIFEST
    if not mpath.is_file():
        return []
    try:
        data = json.loads(mpath.read_text(encoding="utf-8"))
        records = data["models"]
        if not isinstance(records, list):
            raise TypeError("'models' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring %s (%s); scanning %s instead — run scripts/download_models.py --verify",
                    mpath, exc, models_dir)
        return []
    found = []
    for r in records:
        try:
            model = _record(models_dir, r)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("%s: skipping a malformed record (%s: %s)", mpath, type(exc).__name__, exc)
            continue
        if model is not None:
            found.append(model)
    return found


def _record(models_dir: Path, r: dict[str, Any]) -> InstalledModel | None:
    name, kind, rel = str(r["name"]), str(r["kind"]), str(r["path"])
    if kind not in KINDS:
        log.warning("models/%s: %s has unknown kind %r; skipped", MANIFEST, name, kind)
        return None
    path = (models_dir / rel).resolve()
    missing = [str(f["path"]) for f in r.get("files", ()) if not (models_dir / str(f["path"])).is_file()]
    if not path.exists() or missing:
        log.warning("models/%s lists %s at models/%s but models/%s is missing; fetch it again with "
                    "python scripts/download_models.py --model %s", MANIFEST, name, rel,
                    missing[0] if missing else rel, name)
        return None
    return InstalledModel(
        name=name, kind=kind, path=path, size_bytes=int(r.get("size_bytes") or _size(path)),
        sha256=r.get("sha256"), licence=str(r.get("licence") or "unknown"),
        settings=MappingProxyType(dict(r.get("settings") or {})), found_by="manifest",
        title=str(r.get("title") or ""))


def _llm_settings(name: str) -> dict[str, Any]:
    low = name.lower()
    # GGUFs normally carry their chat template; gemma conversions often do not
    return {"chat_format": "gemma" if "gemma" in low else None}


def _sdxl_settings(name: str, single_file: bool) -> dict[str, Any]:
    low = name.lower()
    base: dict[str, Any] = {"torch_dtype": "float16", "variant": None, "single_file": single_file,
                            "scheduler": "EulerDiscreteScheduler", "scheduler_kwargs": {}}
    if "lightning" in low or "turbo" in low:
        m = re.search(r"(\d+)[-_]?step", low)
        steps = int(m.group(1)) if m else (2 if "turbo" in low else 4)
        return {**base, "steps": steps, "guidance_scale": 0.0, "resolution": 512 if "turbo" in low else 1024,
                "scheduler_kwargs": {"timestep_spacing": "trailing"}, "negative_prompt": False}
    return {**base, "steps": 30, "guidance_scale": 6.5, "resolution": 1024, "negative_prompt": True}


def _diffusers_complete(folder: Path) -> bool:
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    for comp, spec in index.items():
        if comp.startswith("_") or not isinstance(spec, list) or spec[0] is None:
            continue
        sub = folder / comp
        if not sub.is_dir():
            return False
        if comp in ("unet", "vae", "text_encoder", "text_encoder_2") and not any(
                p.suffix in _WEIGHTS_SUFFIXES for p in sub.iterdir()):
            return False
    return True


def _tts_settings(folder: Path, checkpoint: Path) -> dict[str, Any]:
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cfg = {}
    model = str(cfg.get("model", "")).lower()
    audio = cfg.get("audio") or {}
    rate = audio.get("output_sample_rate") or audio.get("sample_rate")
    speakers = next((n for n in ("speaker_ids.json", "speakers_xtts.pth", "speakers.json", "speakers.pth")
                     if (folder / n).is_file()), None)
    return {"engine": "coqui-xtts" if model == "xtts" else "coqui", "model_file": checkpoint.name,
            "config_file": "config.json", "speakers_file": speakers, "sample_rate": rate,
            "multi_speaker": bool(speakers)}


def _scan(models_dir: Path, known: set[Path]) -> list[InstalledModel]:
    found: list[InstalledModel] = []

    def add(name: str, kind: str, path: Path, settings: dict[str, Any], size: int | None = None) -> None:
        if path.resolve() in known:
            return
        found.append(InstalledModel(name, kind, path.resolve(), _size(path) if size is None else size, None,
                                    "unknown (not recorded in models/manifest.json)",
                                    MappingProxyType(settings), "scan"))

    llm = models_dir / "llm"
    if llm.is_dir():
        for p in sorted(llm.glob("*.gguf")) + sorted(llm.glob("*/*.gguf")):
            m = _SHARD.search(p.name)
            if m and int(m.group(1)) != 1:
                continue
            size = sum(s.stat().st_size for s in p.parent.glob(_SHARD.sub("-*-of-" + m.group(2) + ".gguf",
                                                                          p.name))) if m else None
            add(p.stem if not m else _SHARD.sub("", p.name), "llm", p, _llm_settings(p.name), size)
    sdxl = models_dir / "sdxl"
    if sdxl.is_dir():
        for p in sorted(sdxl.iterdir()):
            if p.is_dir() and (p / "model_index.json").is_file():
                if _diffusers_complete(p):
                    add(p.name, "sdxl", p, _sdxl_settings(p.name, False))
                else:
                    log.warning("%s: a component named in model_index.json is missing; not used", p)
            elif p.is_file() and p.suffix == ".safetensors":
                add(p.stem, "sdxl", p, _sdxl_settings(p.stem, True))
    adapters = models_dir / "ip_adapter"
    if adapters.is_dir():
        for p in sorted(adapters.iterdir()):  # engine.images.ip_adapter.adapter_weights decides the file
            encoder = p / "image_encoder"
            if (p.is_dir() and any(p.glob("*.safetensors")) and (encoder / "config.json").is_file()
                    and any(f.suffix in _WEIGHTS_SUFFIXES for f in encoder.iterdir())):
                add(p.name, "ip_adapter", p, {"for": "sdxl"})
    tts = models_dir / "tts"
    if tts.is_dir():
        for p in sorted(tts.iterdir()):
            if not (p.is_dir() and (p / "config.json").is_file()):
                continue
            ckpts = sorted((c for c in p.iterdir() if c.is_file() and c.suffix in _CHECKPOINT_SUFFIXES
                            and not c.name.startswith(("speaker", "speakers"))),
                           key=lambda c: c.stat().st_size, reverse=True)
            if ckpts:
                add(p.name, "tts", p, _tts_settings(p, ckpts[0]))
    return found


def find_installed(models_dir: Path) -> tuple[InstalledModel, ...]:
    """Models under ``models_dir``: manifest records whose files are in place, then anything else
    found by scanning. Never raises for a bad or missing folder (it is simply empty)."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return ()
    listed = _from_manifest(models_dir)
    scanned = _scan(models_dir, {m.path for m in listed})
    return tuple(listed + scanned)


def _rank(m: InstalledModel) -> tuple[int, int]:
    return (1 if m.found_by == "manifest" else 0, m.size_bytes)


def pick(models: Iterable[InstalledModel], kind: str, name: str | None = None, *,
         max_bytes: int | None = None) -> InstalledModel | None:
    """The model of ``kind`` to use: the one called ``name`` (its name, file name or stem,
    case-insensitive) when given; otherwise the preferred one — recorded in the manifest before
    found by scanning, then the largest; with ``max_bytes``, the largest that fits (or, if none
    fits, the smallest)."""
    of_kind = [m for m in models if m.kind == kind]
    if name is not None:
        want = name.lower()
        for m in of_kind:
            if want in (m.name.lower(), m.path.name.lower(), m.path.stem.lower()):
                return m
        return None
    if not of_kind:
        return None
    if max_bytes is not None:
        fits = [m for m in of_kind if m.size_bytes <= max_bytes]
        return max(fits, key=_rank) if fits else min(of_kind, key=lambda m: m.size_bytes)
    return max(of_kind, key=_rank)


_WHERE = MappingProxyType({
    "llm": ("language model", "models/llm/ (a .gguf file)"),
    "sdxl": ("SDXL weights",
             "models/sdxl/ (a diffusers folder with model_index.json, or a .safetensors file)"),
    "tts": ("voice model", "models/tts/<name>/ (config.json and a checkpoint)"),
    "ip_adapter": ("IP-Adapter weights",
                   "models/ip_adapter/<name>/ (the adapter .safetensors and image_encoder/)"),
})


def missing_message(kind: str, name: str | None = None) -> str:
    what, where = _WHERE[kind]
    label = f"{what} {name!r}" if name else what
    return f"{label} not found in {where} — run {fetch_command(kind)}"


def require(models: Iterable[InstalledModel], kind: str, name: str | None = None) -> InstalledModel:
    """pick(), or ModelMissing naming the folder and the command that fetches it."""
    found = pick(models, kind, name)
    if found is None:
        raise ModelMissing(missing_message(kind, name))
    return found


def vram_estimate(model: InstalledModel) -> int:
    """Rough GPU bytes a model needs while it works (weights + working memory); keep-warm uses it
    (engine.backends.warm_fits) to decide whether all real models fit on the device together."""
    gib = 1 << 30
    if model.kind == "llm":
        return int(model.size_bytes * 1.1) + gib  # KV cache at n_ctx 8192 and scratch
    if model.kind == "sdxl":
        return model.size_bytes + int(2.5 * gib)  # activations and VAE decode at 1024x1024
    if model.kind == "ip_adapter":
        # fp16 adapter + float32 ViT-H encoder, both held in fp16 beside SDXL (engine.images.ip_adapter)
        return int(model.size_bytes * 0.6) + gib // 4
    return int(model.size_bytes * 1.5) + gib // 2
