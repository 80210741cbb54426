"""Per stage: what is installed, what is missing, and the command that fetches it (for /health
and GET /api/models)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from engine.models.registry import InstalledModel, fetch_command, find_installed, missing_message, pick

#: (stage, kind, component, optional, what it is, what runs without it)
_STAGES = (
    ("script", "llm", "llm", False, "a GGUF instruct model for llama.cpp", "the draft writer (templates)"),
    ("images", "sdxl", "sdxl", False, "SDXL weights", "manual images, the stock library or draft art"),
    ("narration", "tts", "tts", False, "a Coqui voice model (VITS VCTK)", "the embedded Piper voice"),
    ("narration", "tts", "xtts", True, "XTTS v2 (optional; non-commercial licence)", "the other voices"),
    ("images", "ip_adapter", "ip_adapter", True, "IP-Adapter Plus-Face SDXL + ViT-H image encoder (optional)",
     "characters kept alike by their descriptions in the prompt only"),
)


def _is_xtts(m: InstalledModel) -> bool:
    return m.settings.get("engine") == "coqui-xtts" or "xtts" in m.name.lower()


def missing_report(models_dir: Path, models: Iterable[InstalledModel] | None = None) -> list[dict[str, Any]]:
    """One row per stage need: ``{"stage", "kind", "component", "optional", "installed": [names],
    "preferred": name | None, "missing": bool, "message": str | None, "fix": command | None,
    "fallback": what runs instead}``."""
    found = tuple(models) if models is not None else find_installed(Path(models_dir))
    rows = []
    for stage, kind, comp, optional, what, fallback in _STAGES:
        of_kind = [m for m in found if m.kind == kind and (_is_xtts(m) if comp == "xtts" else True)]
        if comp == "tts":
            of_kind = [m for m in of_kind if not _is_xtts(m)] or of_kind
        missing = not of_kind
        message = missing_message(kind).replace(fetch_command(kind), fetch_command(comp)) if missing else None
        best = pick(of_kind, kind) if of_kind else None
        rows.append({
            "stage": stage, "kind": kind, "component": comp, "optional": optional, "what": what,
            "installed": [m.name for m in of_kind], "preferred": best.name if best else None,
            "missing": missing, "message": message,
            "fix": fetch_command(comp) if missing else None, "fallback": fallback,
        })
    return rows
