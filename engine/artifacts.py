"""Scene artifacts keyed by their content.

A scene's picture is keyed by what made it (prompt, negative prompt, style, seed, model, size; or
the creator's file), its narration by text + voice + pacing + model (engine.narration.scene_audio
keeps that key). The key lives in a JSON sidecar beside the file (``scene_01.png`` ->
``scene_01.json``), written after the file; a file is reused only when its sidecar carries the key
the stage would make now and the file is intact (its size as recorded) — never because the file
merely exists. A job killed between the file and its sidecar makes that scene again.

A job may also reuse artifacts of other folders (a storyboard's pool, the renders before it):
``pools.json`` in the job folder lists them, and ``adopt`` copies a matching artifact in (a hard
link where the filesystem allows it) with its sidecar. ``publish`` puts a folder's keyed artifacts
into a pool, named by key (``pool/images/<key>.png``), so the next render finds them."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Final, Iterable, Mapping

from engine import tempnames

logger = logging.getLogger(__name__)

KEY_VERSION: Final = 1
POOLS_FILE: Final = "pools.json"
#: Folders of a job (and of a pool) that hold keyed scene artifacts, and their file suffixes.
KINDS: Final = {"images": ".png", "audio": ".wav"}
#: The cast's reference portraits: pooled by their own names (engine/images/portraits.py looks there).
CAST: Final = "cast"


def digest(*parts: Any) -> str:
    """A short stable key of JSON-able parts."""
    blob = json.dumps([KEY_VERSION, *parts], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def image_key(*, prompt: str, negative: str, style: str, seed: int | None, model: str,
              size: tuple[int, int]) -> str:
    return digest("image", prompt, negative, style, seed, model, list(size))


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes (hex), read a MiB at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_key(path: Path, *, kind: str, size: tuple[int, int]) -> str:
    """The key of a picture made from a file (a creator's image, a stock image): its bytes."""
    return digest("file", kind, file_sha256(path), list(size))


def sidecar(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def read_sidecar(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def matches(path: Path, key: str) -> bool:
    """``path`` exists, its sidecar carries ``key`` and the file has the size recorded with it."""
    meta = read_sidecar(path)
    if meta is None or meta.get("key") != key:
        return False
    try:
        size = Path(path).stat().st_size
    except OSError:
        return False
    recorded = meta.get("bytes")
    return size > 0 and (recorded is None or int(recorded) == size)


def forget(path: Path) -> None:
    """Drop ``path``'s sidecar before the file is replaced: a file half-way to new bytes never
    carries the key of the old ones."""
    sidecar(path).unlink(missing_ok=True)


def record(path: Path, key: str, meta: Mapping[str, Any] | None = None) -> None:
    """Write ``path``'s sidecar (after the file itself is in place)."""
    payload = {**(meta or {}), "key": key, "bytes": Path(path).stat().st_size}
    tempnames.write_text_atomic(sidecar(path), json.dumps(payload, indent=1, ensure_ascii=False))


def pools(workdir: Path) -> tuple[Path, ...]:
    """The other folders ``workdir`` may reuse artifacts from (``pools.json``), that exist."""
    try:
        listed = json.loads((Path(workdir) / POOLS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    if not isinstance(listed, list):
        return ()
    return tuple(Path(p) for p in listed if isinstance(p, str) and Path(p).is_dir())


def set_pools(workdir: Path, folders: Iterable[Path]) -> None:
    tempnames.write_text_atomic(Path(workdir) / POOLS_FILE, json.dumps([str(Path(f)) for f in folders]))


def pooled(pool: Path, kind: str, key: str) -> Path:
    """Where artifact ``key`` of ``kind`` ("images" or "audio") lives in ``pool``."""
    return Path(pool) / kind / f"{key}{KINDS[kind]}"


def _copy_in(src: Path, dest: Path) -> None:
    """``src`` at ``dest`` atomically: a hard link where possible (same bytes, no copy), else a copy."""
    with tempnames.atomic_path(dest) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def reuse(dest: Path, key: str, kind: str, workdir: Path) -> bool:
    """True when ``dest`` holds artifact ``key``: already (left untouched), or copied in from a
    pool of ``workdir`` (then its modification time is now, like a file made in this run)."""
    if matches(dest, key):
        return True
    for pool in pools(workdir):
        src = pooled(pool, kind, key)
        if not matches(src, key):
            continue
        meta = read_sidecar(src) or {}
        try:
            forget(dest)
            _copy_in(src, dest)
            os.utime(dest)
            tempnames.write_text_atomic(sidecar(dest), json.dumps({**meta, "reused_from": str(pool)},
                                                                  indent=1, ensure_ascii=False))
        except OSError as exc:
            logger.warning("could not reuse %s from %s (%s); making it again", dest.name, pool, exc)
            return False
        return True
    return False


def reused_from(path: Path) -> str | None:
    """The pool an artifact was copied in from (None when it was made in its own folder)."""
    meta = read_sidecar(path)
    return str(meta["reused_from"]) if meta and meta.get("reused_from") else None


def publish_file(path: Path, kind: str, pool: Path) -> str | None:
    """Put one keyed artifact into ``pool`` under its key (if not there yet); returns the key."""
    meta = read_sidecar(path)
    if meta is None or not isinstance(meta.get("key"), str) or not matches(path, meta["key"]):
        return None
    key = str(meta["key"])
    dest = pooled(pool, kind, key)
    if not matches(dest, key):
        _copy_in(path, dest)
        clean = {k: v for k, v in meta.items() if k != "reused_from"}
        tempnames.write_text_atomic(sidecar(dest), json.dumps(clean, indent=1, ensure_ascii=False))
    return key


def publish_cast(folder: Path, pool: Path) -> int:
    """The cast's reference portraits (``cast/<name>.png``, engine/images/portraits.py) into
    ``pool/cast/`` under their own names, where a later job looks for them; how many were new."""
    added = 0
    for path in sorted((Path(folder) / CAST).glob("*.png")):
        meta = read_sidecar(path)
        if meta is None or not isinstance(meta.get("key"), str) or not matches(path, str(meta["key"])):
            continue
        dest = Path(pool) / CAST / path.name
        if matches(dest, str(meta["key"])):
            continue
        try:
            forget(dest)
            _copy_in(path, dest)
            tempnames.write_text_atomic(sidecar(dest), json.dumps(
                {k: v for k, v in meta.items() if k != "reused_from"}, indent=1, ensure_ascii=False))
            added += 1
        except OSError as exc:
            logger.warning("could not keep %s in %s (%s)", path.name, pool, exc)
    return added


def publish(folder: Path, pool: Path) -> int:
    """Every keyed scene artifact (and cast portrait) of ``folder`` into ``pool``; how many were
    new there."""
    added = publish_cast(folder, pool)
    for kind, suffix in KINDS.items():
        for path in sorted((Path(folder) / kind).glob(f"scene_*{suffix}")):
            meta = read_sidecar(path)
            if meta is None or not isinstance(meta.get("key"), str):
                continue
            had = matches(pooled(pool, kind, str(meta["key"])), str(meta["key"]))
            try:
                if publish_file(path, kind, pool) and not had:
                    added += 1
            except OSError as exc:
                logger.warning("could not keep %s in %s (%s)", path.name, pool, exc)
    return added
