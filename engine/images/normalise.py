"""Turn whatever image a creator gives (PNG with alpha, 16-bit, CMYK JPEG, EXIF-rotated, animated,
tiny, huge) into a plain 8-bit RGB image that covers the video's frame, or refuse it clearly."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image, ImageOps

from engine.errors import BadInput
from engine.images.validate import MAX_PIXELS, MIN_SIDE, open_checked

#: Longest side kept (enough for Ken Burns zooms on a 1080p frame).
MAX_SIDE: Final = 4096
#: Transparent areas are laid on this colour.
BACKGROUND: Final = (0, 0, 0)


def _to_rgb(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(im).astype(np.float32)
        peak = 65535.0 if (mode.startswith("I;16") or arr.max(initial=0) > 255) else 255.0
        arr = np.clip(arr * (255.0 / peak), 0, 255).round().astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if mode == "F":
        arr = np.nan_to_num(np.asarray(im, dtype=np.float32))
        if arr.max(initial=0) <= 1.0:
            arr = arr * 255.0
        return Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8), "L").convert("RGB")
    if (
        mode in ("RGBA", "LA", "PA", "RGBa", "La")
        or (mode == "P" and "transparency" in im.info)
        or (mode in ("L", "RGB") and "transparency" in im.info)
    ):
        rgba = im.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        return Image.alpha_composite(base, rgba).convert("RGB")
    if mode == "RGB":
        return im
    return im.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def fit_cover(im: Image.Image, cover: tuple[int, int], *, max_side: int = MAX_SIDE) -> Image.Image:
    """Scale so the image covers ``cover`` (w, h) and, where that allows, its long side is at most
    ``max_side``. Aspect ratio is kept; cropping is the compositor's job -- except for a strip so
    thin that covering the frame would make a side longer than ``max(max_side, *cover)``: its middle
    is kept, so the output never exceeds that square (a 32x50000 strip gives 1344x4096, not the
    1344x2,100,000 picture scaling alone would ask for)."""
    w, h = im.size
    cover_scale = max(cover[0] / w, cover[1] / h)
    factor = max(min(1.0, max_side / max(w, h)), cover_scale)
    limit = max(max_side, *cover)
    out_w, out_h = w * factor, h * factor
    gap = 3.0 if factor < 0.5 else None
    if out_w <= limit + 0.5 and out_h <= limit + 0.5:
        if abs(factor - 1.0) < 1e-3:
            return im
        size = (max(1, round(out_w)), max(1, round(out_h)))
        return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=gap)
    crop_w, crop_h = min(float(w), limit / factor), min(float(h), limit / factor)
    left, top = (w - crop_w) / 2, (h - crop_h) / 2
    size = (max(1, round(min(out_w, limit))), max(1, round(min(out_h, limit))))
    box = (left, top, left + crop_w, top + crop_h)
    return im.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=gap)


def normalise_image(
    src: Path,
    cover: tuple[int, int],
    *,
    label: str | None = None,
    max_pixels: int = MAX_PIXELS,
    min_side: int = MIN_SIDE,
) -> Image.Image:
    """Read ``src`` into an RGB image that covers ``cover``; BadInput naming the file otherwise."""
    label = label or f"image {str(src)!r}"
    with open_checked(src, label, max_pixels=max_pixels, min_side=1) as im:  # min_side: below, with advice
        if min(im.size) < min_side:
            raise BadInput(
                f"{label} is only {im.width}x{im.height} pixels; use an image at least "
                f"{min_side}x{min_side} (ideally {cover[0]}x{cover[1]})"
            )
        if im.format == "JPEG":
            side = max(cover)
            im.draft(im.mode if im.mode in ("RGB", "L") else None, (side, side))  # decode at reduced scale
        try:
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
            im.load()
            upright = ImageOps.exif_transpose(im) or im
        except (OSError, ValueError, SyntaxError) as exc:
            raise BadInput(f"{label} is damaged or truncated ({exc})") from exc
        rgb = _to_rgb(upright)
        out = fit_cover(rgb, cover)
        return out if out is not im else out.copy()
