"""Temporary names for every atomic write in the project, and the sweep that removes leftovers.

A file or folder on its way to ``NAME`` is first written as ``.NAME.part-<token>`` beside it (same
folder, so the final ``os.replace`` is atomic), then renamed into place; a failure removes it. A
process killed in between (OOM killer, SIGKILL, a closed terminal) leaves the temp name behind;
``sweep`` removes such leftovers at start-up. A download that resumes across runs uses the one
fixed name ``.NAME.part`` (``resume_part_path``) so the next run finds it.

Standard library only: scripts/download_models.py imports this before anything is installed."""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

logger = logging.getLogger(__name__)

PART = ".part"
# ".NAME.part" (a resumable download) or ".NAME.part-<token>" (an atomic write in progress).
_PART_NAME = re.compile(r"^\..+\.part(-[0-9a-z]+)?$")


def part_path(final: Path) -> Path:
    """A fresh temporary name beside ``final`` (``.NAME.part-<token>``); nothing is created."""
    final = Path(final)
    return final.with_name(f".{final.name}{PART}-{uuid.uuid4().hex[:10]}")


def resume_part_path(final: Path) -> Path:
    """The one fixed temporary name of ``final`` (``.NAME.part``), for downloads that resume."""
    final = Path(final)
    return final.with_name(f".{final.name}{PART}")


def is_part_name(name: str, *, legacy: bool = False) -> bool:
    """True for a name this module hands out (always hidden; so are the ``.NAME.<random>.part``
    folders earlier renders made). ``legacy`` also accepts the plain ``NAME.part`` that earlier
    versions wrote inside job folders and models/ -- never used for a folder a creator may share
    with other programs (a browser's half-done download is ``NAME.part`` too)."""
    return bool(_PART_NAME.match(name)) or (legacy and name.endswith(PART))


def remove(path: Path) -> str | None:
    """Remove a file, link or folder tree; None when it is gone, else why it could not be removed.
    Never raises."""
    errors: list[str] = []

    def on_error(_func: object, failed: str, exc: BaseException) -> None:
        errors.append(f"{failed}: {getattr(exc, 'strerror', None) or exc}")

    try:
        if path.is_dir() and not path.is_symlink():
            if sys.version_info >= (3, 12):
                shutil.rmtree(path, onexc=on_error)
            else:
                shutil.rmtree(path, onerror=lambda f, p, info: on_error(f, p, info[1]))
        else:
            path.unlink(missing_ok=True)
    except OSError as e:
        errors.append(f"{path}: {e.strerror or e}")
    if not errors and not os.path.lexists(path):
        return None
    return "; ".join(errors) or f"{path}: still there"


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final`` to write a file at; on success it replaces ``final``
    in one step, on any failure it is removed. Creates the parent folder."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = part_path(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        remove(tmp)
        raise


def write_bytes_atomic(final: Path, data: bytes) -> Path:
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)
    return Path(final)


def write_text_atomic(final: Path, text: str, encoding: str = "utf-8") -> Path:
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(final)


def make_part_dir(final: Path) -> Path:
    """Create and return an empty temporary folder beside ``final`` (scratch space for making it);
    the caller removes it (``remove``) or renames it into place."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = part_path(final)
    tmp.mkdir()
    return tmp


@contextmanager
def atomic_folder(final: Path) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it takes the place of ``final`` (an existing
    ``final`` is moved aside and removed), on any failure it is removed."""
    final = Path(final)
    tmp = make_part_dir(final)
    try:
        yield tmp
        if os.path.lexists(final):
            aside = part_path(final)
            os.replace(final, aside)
            os.replace(tmp, final)
            remove(aside)
        else:
            os.replace(tmp, final)
    except BaseException:
        remove(tmp)
        raise


@dataclass(frozen=True)
class SweepReport:
    removed: tuple[Path, ...] = ()
    failed: tuple[tuple[Path, str], ...] = ()  # (path, why)

    def __add__(self, other: SweepReport) -> SweepReport:
        return SweepReport(self.removed + other.removed, self.failed + other.failed)


def sweep(folder: Path, *, recursive: bool = True, legacy: bool = False) -> SweepReport:
    """Remove every leftover temporary file or folder in ``folder`` (and its sub-folders when
    ``recursive``; symlinked folders are not followed); ``legacy`` as in ``is_part_name``. Only for
    start-up, before anything writes there. Logs what it could not remove; never raises; a
    missing folder is an empty report."""
    removed: list[Path] = []
    failed: list[tuple[Path, str]] = []
    pending = [Path(folder)]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as entries:
                listing = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
        except FileNotFoundError:
            continue
        except OSError as e:
            failed.append((current, f"cannot list it: {e.strerror or e}"))
            logger.warning("could not look for leftover temporary files in %s: %s", current, e.strerror or e)
            continue
        for name, is_dir in sorted(listing):
            path = current / name
            if is_part_name(name, legacy=legacy):
                why = remove(path)
                if why is None:
                    removed.append(path)
                else:
                    failed.append((path, why))
                    logger.warning("could not remove the leftover temporary %s: %s", path, why)
            elif is_dir and recursive:
                pending.append(path)
    if removed:
        logger.info("removed %d leftover temporary file(s)/folder(s) under %s", len(removed), folder)
    return SweepReport(tuple(removed), tuple(failed))
