"""Path safety and upload checks for the creator's own images.

A manual image must resolve (symlinks followed) under an allowed root, be a regular file of at most
50 MB that Pillow can open, and have at most 50 megapixels. Pixel counts are read from the header
before anything is decoded, so a small file claiming huge dimensions (a decompression bomb) is
refused without allocating it."""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path
from typing import Final, Iterable

from PIL import Image, UnidentifiedImageError

from engine.errors import BadInput
from engine.images.files import write_bytes_atomic

MAX_BYTES: Final = 50 * 1024 * 1024
MAX_PIXELS: Final = 50_000_000
#: Formats accepted from uploads and manual paths, with the extension we store them under.
FORMAT_EXT: Final = {
    "PNG": ".png",
    "JPEG": ".jpg",
    "WEBP": ".webp",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tif",
    "MPO": ".jpg",
}


def _is_under(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _resolve_roots(allowed_roots: Iterable[Path]) -> list[Path]:
    roots = []
    for r in allowed_roots:
        try:
            roots.append(Path(r).expanduser().resolve(strict=False))
        except (OSError, RuntimeError):
            continue
    return roots


def check_image_header(im: Image.Image, label: str, *, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse unknown formats and more than ``max_pixels`` (read from the header, nothing decoded)."""
    if im.format not in FORMAT_EXT:
        raise BadInput(f"{label} is a {im.format or 'unknown'} image; use PNG, JPEG, WebP, GIF, BMP or TIFF")
    w, h = im.size
    if w <= 0 or h <= 0:
        raise BadInput(f"{label} has no pixels ({w}x{h})")
    if w * h > max_pixels:
        raise BadInput(
            f"{label} is {w}x{h} ({w * h / 1e6:.0f} megapixels); the limit is {max_pixels / 1e6:.0f} "
            "megapixels — downscale it and try again"
        )


def open_checked(source: Path | io.BytesIO, label: str, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Image.open with our header checks; BadInput naming ``label`` for anything unreadable."""
    try:
        im = Image.open(source)
    except Image.DecompressionBombError as exc:
        raise BadInput(f"{label} claims an enormous size (decompression bomb?): {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise BadInput(f"{label} is not an image Pillow can read ({exc.__class__.__name__}: {exc})") from exc
    try:
        check_image_header(im, label, max_pixels=max_pixels)
    except BadInput:
        im.close()
        raise
    return im


def validate_image_path(
    path: str, allowed_roots: Iterable[Path], *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> Path:
    """The resolved path of a manual image, or BadInput naming ``path`` and the fix."""
    if not isinstance(path, str) or not path.strip():
        raise BadInput("manual image path is empty; give the full path of an image file")
    if "\x00" in path:
        raise BadInput(f"manual image path {path!r} contains a NUL byte")
    roots = _resolve_roots(allowed_roots)
    if not roots:
        raise BadInput(f"manual image {path!r} refused: no image folders are configured (image_roots)")
    try:
        resolved = Path(path).expanduser().resolve(strict=True)
    except FileNotFoundError as exc:
        raise BadInput(f"manual image {path!r} does not exist") from exc
    except (OSError, RuntimeError) as exc:
        raise BadInput(f"manual image {path!r} cannot be resolved ({exc})") from exc
    if not any(_is_under(resolved, root) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise BadInput(
            f"manual image {path!r} is outside the allowed folders ({allowed}); "
            "upload it with /api/upload or move it under one of them"
        )
    if not resolved.is_file():
        raise BadInput(f"manual image {path!r} is not a regular file")
    size = resolved.stat().st_size
    if size > max_bytes:
        raise BadInput(
            f"manual image {path!r} is {size / 2**20:.0f} MB; the limit is {max_bytes / 2**20:.0f} MB"
        )
    if size == 0:
        raise BadInput(f"manual image {path!r} is empty")
    try:
        with open(resolved, "rb"):
            pass
    except OSError as exc:
        raise BadInput(f"manual image {path!r} is not readable ({exc.strerror or exc})") from exc
    with open_checked(resolved, f"manual image {path!r}", max_pixels=max_pixels):
        pass
    return resolved


def _safe_stem(filename: str) -> str:
    stem = Path(filename.replace("\\", "/")).name.rsplit(".", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-.")[:40]
    return stem or "image"


def store_upload(
    data: bytes, filename: str, upload_dir: Path, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> Path:
    """Check ``data`` is an image (format from its content, not its name), decode it fully, and store
    it under a unique safe name in ``upload_dir``. Returns the absolute path for manual_image_paths."""
    label = f"upload {filename!r}"
    if not data:
        raise BadInput(f"{label} is empty")
    if len(data) > max_bytes:
        raise BadInput(f"{label} is {len(data) / 2**20:.0f} MB; the limit is {max_bytes / 2**20:.0f} MB")
    with open_checked(io.BytesIO(data), label, max_pixels=max_pixels) as im:
        fmt = im.format or ""
        try:
            im.load()  # a truncated or corrupt body fails here, not later in a job
        except (OSError, ValueError, SyntaxError) as exc:
            raise BadInput(f"{label} is damaged or truncated ({exc})") from exc
    dest = Path(upload_dir).resolve() / f"{uuid.uuid4().hex[:12]}_{_safe_stem(filename)}{FORMAT_EXT[fmt]}"
    return write_bytes_atomic(data, dest)
