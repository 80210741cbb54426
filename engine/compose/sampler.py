"""Per-frame sampling of a prepared still into an NV12 frame, with exact sub-pixel bilinear
interpolation and no whole-pixel stepping.

Three paths, each the same bilinear sampling of ``X = o + x * scale``, chosen for speed:

* pan (scale 1): a uniform sub-pixel shift — two ``cv2.addWeighted`` passes over shifted views.
* zoom about a fixed point: the frame is split at the fixed point into four quadrants; each is a
  ``cv2.resize`` (continuous scale, fixed-point coefficients) of a canvas region that starts at
  the fixed point, read from a mirrored copy of the canvas for the quadrants left of / above it.
  Because every region starts exactly at the fixed point, no rounding of the crop position ever
  happens, which is what makes ordinary resize-and-crop zooms shake.
* anything else: ``cv2.warpAffine`` (1/32 px precision).

All three run in a few milliseconds per 1080p frame, well under the encoder's own cost.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from engine.compose.motion import View
from engine.compose.still import Still

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

_SNAP = 1e-4  # sub-pixel fractions closer than this to a whole pixel are treated as whole


def sample(still: Still, view: View, y_out: "np.ndarray", uv_out: "np.ndarray") -> None:
    """Render ``still`` seen through ``view`` into the luma plane ``y_out`` (h, w) and the
    interleaved chroma plane ``uv_out`` (h/2, w/2, 2)."""
    if view.scale == 1.0:
        shift(still.y[0], view.ox, view.oy, y_out)
        shift(still.uv[0], view.ox / 2, view.oy / 2, uv_out)
        return
    if view.fixed is not None and len(still.y) == 4:
        px, py, qx, qy = view.fixed
        if _zoom(still.y, px, py, qx, qy, view.scale, y_out):
            if px % 2 == 0 and py % 2 == 0 and qx % 2 == 0 and qy % 2 == 0 and _zoom(
                    still.uv, px // 2, py // 2, qx // 2, qy // 2, view.scale, uv_out):
                return
            affine(still.uv[0], view.scale, view.ox / 2, view.oy / 2, uv_out)
            return
    affine(still.y[0], view.scale, view.ox, view.oy, y_out)
    affine(still.uv[0], view.scale, view.ox / 2, view.oy / 2, uv_out)


def shift(src: "np.ndarray", ox: float, oy: float, dst: "np.ndarray") -> None:
    """dst[y, x] = src(y + oy, x + ox), bilinear; ``ox, oy`` >= 0 and inside the source."""
    import cv2
    import numpy as np

    h, w = dst.shape[:2]
    ix, fx = _split(ox)
    iy, fy = _split(oy)
    if ix < 0 or iy < 0 or ix + w + (fx > 0) > src.shape[1] or iy + h + (fy > 0) > src.shape[0]:
        raise ValueError(f"view ({ox:.3f}, {oy:.3f}) +{w}x{h} leaves the "
                         f"{src.shape[1]}x{src.shape[0]} canvas")
    base = src[iy:iy + h, ix:ix + w]
    if fx == 0 and fy == 0:
        np.copyto(dst, base)
    elif fx == 0:
        cv2.addWeighted(base, 1.0 - fy, src[iy + 1:iy + h + 1, ix:ix + w], fy, 0.0, dst=dst)
    elif fy == 0:
        cv2.addWeighted(base, 1.0 - fx, src[iy:iy + h, ix + 1:ix + w + 1], fx, 0.0, dst=dst)
    else:
        rows = cv2.addWeighted(src[iy:iy + h + 1, ix:ix + w], 1.0 - fx, src[iy:iy + h + 1, ix + 1:ix + w + 1],
                               fx, 0.0)
        cv2.addWeighted(rows[:h], 1.0 - fy, rows[1:], fy, 0.0, dst=dst)


def affine(src: "np.ndarray", scale: float, ox: float, oy: float, dst: "np.ndarray") -> None:
    """General path: dst pixel centre x + 0.5 maps to canvas coordinate ox + (x + 0.5) * scale."""
    import cv2
    import numpy as np

    h, w = dst.shape[:2]
    m = np.array([[scale, 0.0, ox + 0.5 * scale - 0.5], [0.0, scale, oy + 0.5 * scale - 0.5]])
    cv2.warpAffine(src, m, (w, h), dst=dst, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                   borderMode=cv2.BORDER_REPLICATE)


def _split(v: float) -> tuple[int, float]:
    i = math.floor(v)
    f = v - i
    if f < _SNAP:
        return i, 0.0
    if f > 1.0 - _SNAP:
        return i + 1, 0.0
    return i, f


def _need(m: int, s: float) -> int:
    """Source pixels a resize by 1/s needs to produce ``m`` output pixels starting at an edge."""
    return max(math.floor((m - 0.5) * s - 0.5) + 2, math.ceil((m - 0.5) * s))


def _zoom(planes: tuple["np.ndarray", ...], px: int, py: int, qx: int, qy: int, s: float,
          dst: "np.ndarray") -> bool:
    """Quadrant zoom about canvas point (px, py) <-> output point (qx, qy). False when the
    resize would degenerate into a copy (scale within half a pixel of 1), so the caller falls back."""
    import cv2

    h, w = dst.shape[:2]
    ch, cw = planes[0].shape[:2]
    parts = []
    # (mirror index, canvas origin in that mirror, output slice, output flip code)
    for mirror, (ox, oy), (xs, ys), flip in (
        (0, (px, py), (slice(qx, w), slice(qy, h)), None),
        (1, (cw - px, py), (slice(0, qx), slice(qy, h)), 1),
        (2, (px, ch - py), (slice(qx, w), slice(0, qy)), 0),
        (3, (cw - px, ch - py), (slice(0, qx), slice(0, qy)), -1),
    ):
        mw, mh = xs.stop - xs.start, ys.stop - ys.start
        if mw <= 0 or mh <= 0:
            continue
        nw, nh = min(_need(mw, s), cw - ox), min(_need(mh, s), ch - oy)
        rw, rh = round(nw / s), round(nh / s)
        if rw < mw or rh < mh or (rw == nw and rh == nh):
            return False
        parts.append((planes[mirror][oy:oy + nh, ox:ox + nw], (xs, ys), flip, mw, mh))
    for roi, (xs, ys), flip, mw, mh in parts:
        r = cv2.resize(roi, (0, 0), fx=1.0 / s, fy=1.0 / s, interpolation=cv2.INTER_LINEAR)
        out = dst[ys, xs]
        if flip is None:
            out[...] = r[:mh, :mw]
        else:
            cv2.flip(r[:mh, :mw], flip, dst=out)
    return True
