"""Path safety and upload checks for the creator's own images.

A manual image must resolve (symlinks followed) under an allowed root, be a regular file of at most
50 MB that Pillow can open, have at most 50 megapixels, sides of at least 32 pixels and an aspect
ratio of at most 20:1. Sizes are read from the header before anything is decoded, so a small file
claiming huge (or absurdly thin) dimensions -- a decompression bomb, or a 32x50000 strip that
would have to be scaled to 1344x2,100,000 to cover a frame -- is refused without allocating it."""

from __future__ import annotations

import io
import os
import re
import uuid
from pathlib import Path
from typing import Final, Iterable

from PIL import Image, UnidentifiedImageError

from engine.errors import BadInput
from engine.images.files import write_bytes_atomic

MAX_BYTES: Final = 50 * 1024 * 1024
MAX_PIXELS: Final = 50_000_000
#: Longest side over shortest side; wide panoramas pass, strips that only a crop could use do not.
MAX_ASPECT: Final = 20.0
#: Smaller than this on either side is not a picture we can show.
MIN_SIDE: Final = 32
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
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


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


def check_image_header(
    im: Image.Image,
    label: str,
    *,
    max_pixels: int = MAX_PIXELS,
    max_aspect: float = MAX_ASPECT,
    min_side: int = MIN_SIDE,
) -> None:
    """Refuse unknown formats, more than ``max_pixels``, a side under ``min_side`` and an aspect
    ratio over ``max_aspect`` (all read from the header, nothing decoded)."""
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
    if min(w, h) < min_side:
        raise BadInput(f"{label} is only {w}x{h} pixels; use an image at least {min_side}x{min_side}")
    if max(w, h) / min(w, h) > max_aspect:
        raise BadInput(
            f"{label} is {w}x{h}, an aspect ratio of {max(w, h) / min(w, h):.0f}:1; the limit is "
            f"{max_aspect:g}:1 — crop it to the part you want in the video"
        )


def open_checked(
    source: Path | io.BytesIO,
    label: str,
    *,
    max_pixels: int = MAX_PIXELS,
    max_aspect: float = MAX_ASPECT,
    min_side: int = MIN_SIDE,
) -> Image.Image:
    """Image.open with our header checks; BadInput naming ``label`` for anything unreadable."""
    try:
        im = Image.open(source)
    except Image.DecompressionBombError as exc:
        raise BadInput(f"{label} claims an enormous size (decompression bomb?): {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise BadInput(f"{label} is not an image Pillow can read ({exc.__class__.__name__}: {exc})") from exc
    try:
        check_image_header(im, label, max_pixels=max_pixels, max_aspect=max_aspect, min_side=min_side)
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
    if _CONTROL.search(path) or _SURROGATE.search(path):
        raise BadInput(f"manual image path {path!r} contains control characters or invalid Unicode")
    roots = _resolve_roots(allowed_roots)
    if not roots:
        raise BadInput(f"manual image {path!r} refused: no image folders are configured (image_roots)")
    try:
        resolved = Path(path).expanduser().resolve(strict=True)
    except FileNotFoundError as exc:
        raise BadInput(f"manual image {path!r} does not exist") from exc
    except (OSError, RuntimeError, ValueError) as exc:
        raise BadInput(f"manual image {path!r} cannot be resolved ({exc.__class__.__name__})") from exc
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


def _check_decodes(source: Path | io.BytesIO, label: str, max_pixels: int) -> str:
    """The image's format, after its header passed and every pixel decoded (a truncated or corrupt
    body fails here, not later in a job)."""
    with open_checked(source, label, max_pixels=max_pixels) as im:
        fmt = im.format or ""
        try:
            im.load()
        except (OSError, ValueError, SyntaxError) as exc:
            raise BadInput(f"{label} is damaged or truncated ({exc})") from exc
    return fmt


def _upload_dest(upload_dir: Path, filename: str, fmt: str) -> Path:
    return Path(upload_dir).resolve() / f"{uuid.uuid4().hex[:12]}_{_safe_stem(filename)}{FORMAT_EXT[fmt]}"


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
    fmt = _check_decodes(io.BytesIO(data), label, max_pixels)
    return write_bytes_atomic(data, _upload_dest(upload_dir, filename, fmt))


def store_upload_file(
    received: Path,
    filename: str,
    upload_dir: Path,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> Path:
    """store_upload for a body already streamed to ``received`` (a temp file in ``upload_dir``):
    checked the same way, then renamed into place, so memory never holds the whole file."""
    label = f"upload {filename!r}"
    size = received.stat().st_size
    if size == 0:
        raise BadInput(f"{label} is empty")
    if size > max_bytes:
        raise BadInput(f"{label} is {size / 2**20:.0f} MB; the limit is {max_bytes / 2**20:.0f} MB")
    fmt = _check_decodes(received, label, max_pixels)
    dest = _upload_dest(upload_dir, filename, fmt)
    os.replace(received, dest)
    return dest
