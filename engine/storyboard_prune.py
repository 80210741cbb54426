"""Pruning a storyboard's folder: the pictures and voices its scenes no longer use leave its pool.

What to keep is decided by the caller (server/storyboard_prune.py: the scenes' pictures, what the
latest render made for scenes that did not change, the creator's pictures the scenes name); this
module only removes the rest of ``pool/images``, ``pool/audio``, ``thumbs`` and ``manual``, and
never a file younger than ``grace`` seconds (one being written and not yet recorded anywhere).

Each artifact goes in two renames into the folder's ``.trash`` — its sidecar first, so from that
moment no reader takes it for its key (engine/artifacts.py reuses a file only through its sidecar's
key), then the file — and the trash is emptied at the end. A prune cut short leaves at most a
sidecar-less file, which the next prune removes, and a ``.trash`` folder, which it empties first.
The cast's portraits and the images stage's ``work`` folder are left alone."""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from engine import artifacts

logger = logging.getLogger(__name__)

TRASH: Final = ".trash"
#: A file younger than this is never pruned (it may be a picture being filed right now).
GRACE_S: Final = 60.0


@dataclass(frozen=True)
class Keep:
    """What a storyboard still uses: pool keys of pictures and voices, and names in ``manual/``."""

    images: frozenset[str]
    audio: frozenset[str]
    manual: frozenset[str]


@dataclass(frozen=True)
class Pruned:
    removed: tuple[str, ...]  # paths relative to the storyboard's folder
    kept: int  # artifacts left in the pool


def _old(path: Path, now: float, grace: float) -> bool:
    try:
        return now - path.stat().st_mtime >= grace
    except OSError:
        return False


def _doomed(folder: Path, keep: Keep, now: float, grace: float) -> tuple[list[list[Path]], int]:
    """Groups of files to remove (a sidecar before its file), and how many artifacts stay."""
    groups: list[list[Path]] = []
    kept = 0
    pool = folder / "pool"
    for kind, suffix in artifacts.KINDS.items():
        wanted = keep.images if kind == "images" else keep.audio
        where = pool / kind
        if not where.is_dir():
            continue
        for path in sorted(where.glob(f"*{suffix}")):
            if path.stem in wanted or not _old(path, now, grace):
                kept += 1
                continue
            side = artifacts.sidecar(path)
            groups.append([side, path] if side.exists() else [path])
        for side in sorted(where.glob("*.json")):  # a sidecar whose file is gone
            if side.stem not in wanted and not side.with_suffix(suffix).exists() and _old(side, now, grace):
                groups.append([side])
    thumbs = folder / "thumbs"
    if thumbs.is_dir():
        groups += [[t] for t in sorted(thumbs.glob("*.jpg"))
                   if t.stem not in keep.images and _old(t, now, grace)]
    manual = folder / "manual"
    if manual.is_dir():
        groups += [[m] for m in sorted(manual.iterdir())
                   if m.is_file() and m.name not in keep.manual and _old(m, now, grace)]
    return groups, kept


def prune(folder: Path, keep: Keep, *, grace: float = GRACE_S, now: float | None = None) -> Pruned:
    """Remove what ``keep`` does not name from the storyboard ``folder`` (see the module's words)."""
    folder = Path(folder)
    trash = folder / TRASH
    shutil.rmtree(trash, ignore_errors=True)  # left by a prune cut short
    groups, kept = _doomed(folder, keep, time.time() if now is None else now, grace)
    removed: list[str] = []
    if not groups:
        return Pruned((), kept)
    trash.mkdir(exist_ok=True)
    for group in groups:
        for path in group:
            try:
                os.replace(path, trash / f"{uuid.uuid4().hex[:8]}-{path.name}")
                removed.append(str(path.relative_to(folder)))
            except FileNotFoundError:
                continue
            except OSError as exc:
                logger.warning("could not prune %s (%s)", path, exc)
                break  # the file stays with its sidecar gone: the next prune takes it
    shutil.rmtree(trash, ignore_errors=True)
    return Pruned(tuple(removed), kept)
