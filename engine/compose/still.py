"""Image preparation, once per scene: decode any mode, apply EXIF orientation, cover-crop to the
frame's aspect with the margin the camera move needs, resample with Lanczos, and convert to the
NV12 planes (BT.709, limited range) that the per-frame sampler reads.

The canvas is kept in the encoder's own layout (a luma plane and a half-size interleaved chroma
plane) so each frame costs two cheap resamples and no colour conversion at all.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from engine.errors import BadInput

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from PIL import Image

log = logging.getLogger(__name__)

#: BT.709 limited-range RGB -> Y'CbCr, rows Y, Cb, Cr; last column is the offset (8-bit values).
_KR: Final = 0.2126
_KB: Final = 0.0722
_KG: Final = 1.0 - _KR - _KB


def rgb_to_ycbcr_matrix() -> "np.ndarray":
    """3x4 float matrix for cv2.transform on 8-bit RGB (BT.709, limited range)."""
    import numpy as np

    y = np.array([_KR, _KG, _KB]) * 219.0 / 255.0
    cb = (np.array([0.0, 0.0, 1.0]) - np.array([_KR, _KG, _KB])) / (2 * (1 - _KB)) * 224.0 / 255.0
    cr = (np.array([1.0, 0.0, 0.0]) - np.array([_KR, _KG, _KB])) / (2 * (1 - _KR)) * 224.0 / 255.0
    m = np.zeros((3, 4))
    m[0, :3], m[0, 3] = y, 16.0
    m[1, :3], m[1, 3] = cb, 128.0
    m[2, :3], m[2, 3] = cr, 128.0
    return m


def rgb_to_nv12(rgb: "np.ndarray") -> tuple["np.ndarray", "np.ndarray"]:
    """8-bit RGB (h, w, 3), even h and w -> (Y (h, w), UV (h/2, w/2, 2)) BT.709 limited range.
    Chroma is the 2x2 area average (centre-sited)."""
    import cv2
    import numpy as np

    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"NV12 needs even dimensions, got {w}x{h}")
    ycc = cv2.transform(np.ascontiguousarray(rgb), rgb_to_ycbcr_matrix())
    y = np.ascontiguousarray(ycc[:, :, 0])
    uv = cv2.resize(np.ascontiguousarray(ycc[:, :, 1:3]), (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return y, uv


def nv12_to_rgb(y: "np.ndarray", uv: "np.ndarray") -> "np.ndarray":
    """Inverse of rgb_to_nv12 (nearest-neighbour chroma); for tests and previews."""
    import cv2
    import numpy as np

    h, w = y.shape
    up = cv2.resize(uv, (w, h), interpolation=cv2.INTER_NEAREST)
    ycc = np.dstack([y, up]).astype(np.float64)
    m = rgb_to_ycbcr_matrix()
    inv = np.linalg.inv(m[:, :3])
    rgb = (ycc - m[:, 3]) @ inv.T
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def open_image(path: Path, what: str) -> "Image.Image":
    """Open (header only) and check that the file is an image Pillow can decode."""
    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(path)
    except FileNotFoundError:
        raise BadInput(f"{what}: image file not found: {path}") from None
    except UnidentifiedImageError:
        raise BadInput(f"{what}: {path} is not a readable image (corrupt or unsupported format); "
                       "replace it with a PNG or JPEG") from None
    except OSError as e:
        raise BadInput(f"{what}: {path} could not be opened: {e}") from e
    return im


def load_rgb(path: Path, what: str = "image") -> "np.ndarray":
    """Decode an image to 8-bit RGB: EXIF orientation applied; grey, palette, CMYK, 16-bit and
    float modes converted; transparency composited over black."""
    import numpy as np
    from PIL import Image, ImageOps

    im = open_image(path, what)
    try:
        with im:
            im.load()
            ImageOps.exif_transpose(im, in_place=True)
            return _to_rgb_array(im, np, Image)
    except BadInput:
        raise
    except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt pixel data
        raise BadInput(f"{what}: {path} could not be decoded ({e}); the file is corrupt or "
                       "truncated — replace it with a PNG or JPEG") from e


def _to_rgb_array(im: "Image.Image", np, Image) -> "np.ndarray":  # type: ignore[no-untyped-def]
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im).astype(np.float32)
        hi = float(a.max()) if a.size else 0.0
        scale = 255.0 / 65535.0 if hi > 255 else (255.0 if mode == "F" and hi <= 1.0 else 1.0)
        g = np.clip(np.rint(a * scale), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(g[:, :, None], 3, axis=2))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        im = Image.alpha_composite(black, rgba)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.uint8)


def canvas_size(width: int, height: int, amount: float) -> tuple[int, int]:
    """Canvas (w, h) for a frame and a camera travel ``amount``: the frame grown by (1 + amount)
    plus a few pixels of slack, rounded up to multiples of 4 (so the centre is an even pixel
    boundary in both the luma and the chroma plane)."""
    if amount <= 0:
        return width, height
    w = 4 * math.ceil((width * (1.0 + amount) + 4) / 4)
    h = 4 * math.ceil((height * (1.0 + amount) + 4) / 4)
    return w, h


@dataclass(frozen=True)
class Still:
    """A scene's picture, prepared once: NV12 planes at canvas size, plus the mirrored copies the
    zoom sampler reads (index 0 plain, 1 flipped left-right, 2 up-down, 3 both)."""

    y: tuple["np.ndarray", ...]
    uv: tuple["np.ndarray", ...]

    @property
    def width(self) -> int:
        return int(self.y[0].shape[1])

    @property
    def height(self) -> int:
        return int(self.y[0].shape[0])


def prepare_still(path: Path, width: int, height: int, amount: float, *, mirrored: bool,
                  what: str = "image") -> Still:
    """Cover-crop ``path`` to the canvas for a ``width`` x ``height`` frame with ``amount`` of
    camera travel, as NV12 planes. Colour is converted once at the source resolution; the luma
    is then resampled with Lanczos (area averaging when shrinking) and the chroma straight to
    half the canvas size, so no plane is resampled twice."""
    import cv2
    import numpy as np

    rgb = load_rgb(path, what)
    cw, ch = canvas_size(width, height, amount)
    h0, w0 = rgb.shape[:2]
    if w0 < 2 or h0 < 2:
        raise BadInput(f"{what}: {path} is only {w0}x{h0} pixels; use an image at least "
                       f"{width // 4}x{height // 4}")
    # Cover: scale so the canvas is filled, crop the overflow evenly.
    k = max(cw / w0, ch / h0)
    bw, bh = min(w0, max(1, round(cw / k))), min(h0, max(1, round(ch / k)))
    x0, y0 = (w0 - bw) // 2, (h0 - bh) // 2
    ycc = cv2.transform(np.ascontiguousarray(rgb[y0:y0 + bh, x0:x0 + bw]), rgb_to_ycbcr_matrix())
    del rgb
    y = cv2.resize(np.ascontiguousarray(ycc[:, :, 0]), (cw, ch),
                   interpolation=cv2.INTER_LANCZOS4 if k > 1 else cv2.INTER_AREA)
    uv = cv2.resize(np.ascontiguousarray(ycc[:, :, 1:3]), (cw // 2, ch // 2),
                    interpolation=cv2.INTER_LANCZOS4 if k > 2 else cv2.INTER_AREA)
    if not mirrored:
        return Still((y,), (uv,))
    ys = (y, cv2.flip(y, 1), cv2.flip(y, 0), cv2.flip(y, -1))
    uvs = (uv, cv2.flip(uv, 1), cv2.flip(uv, 0), cv2.flip(uv, -1))
    return Still(ys, uvs)
