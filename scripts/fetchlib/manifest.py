"""models/manifest.json: what was installed, where, with which checksums and settings.

Schema (version 1), read by engine.models.find_installed::

    {"version": 1, "written_by": "scripts/download_models.py",
     "models": [{"name", "kind", "title", "path" (relative to models/), "size_bytes",
                 "sha256" (of the main weights file), "licence", "licence_url", "source",
                 "non_commercial", "settings": {...}, "installed_at",
                 "files": [{"path" (relative to models/), "size", "sha256", "sha256_source"}],
                 "archive": {"url", "size", "sha256"} (only for models unpacked from a zip)}]}

``sha256_source`` says where the expected checksum came from: "catalog" (pinned here),
"hub" (the hub's LFS sha256 / git blob id, checked while downloading) or "computed" (no
published checksum: hashed on arrival, so later ``--verify`` runs can catch corruption).
"""
from __future__ import annotations

import json
from pathlib import Path

from engine.tempnames import write_text_atomic
from typing import Any

VERSION = 1
NAME = "manifest.json"


def path_in(models_dir: Path) -> Path:
    return models_dir / NAME


def load(models_dir: Path) -> dict[str, Any]:
    p = path_in(models_dir)
    if not p.exists():
        return {"version": VERSION, "written_by": "scripts/download_models.py", "models": []}
    data = json.loads(p.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ValueError(f"{p} is not a models manifest (no 'models' list)")
    return data


def save(models_dir: Path, data: dict[str, Any]) -> Path:
    p = path_in(models_dir)
    return write_text_atomic(p, json.dumps(data, indent=2, sort_keys=False) + "\n")


def upsert(models_dir: Path, record: dict[str, Any]) -> Path:
    data = load(models_dir)
    data["models"] = [m for m in data["models"] if m.get("name") != record["name"]] + [record]
    data["version"] = VERSION
    return save(models_dir, data)


def find(models_dir: Path, name: str) -> dict[str, Any] | None:
    try:
        data = load(models_dir)
    except ValueError:
        return None
    return next((m for m in data["models"] if m.get("name") == name), None)


def files_present(models_dir: Path, record: dict[str, Any]) -> bool:
    """Every recorded file exists with its recorded size (a cheap check; --verify hashes)."""
    for f in record.get("files", ()):
        p = models_dir / f["path"]
        if not p.is_file() or p.stat().st_size != f["size"]:
            return False
    return bool(record.get("files"))
