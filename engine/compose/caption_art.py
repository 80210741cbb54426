"""Burned-in captions: layout for 16:9, 9:16 and 1:1 inside title-safe margins, text drawn once
per caption (white and highlight colour, black outline), and per-frame blending of just the
caption's region into the NV12 frame with the spoken word highlighted.

Font: Open Sans ExtraBold from the ``ttf-opensans`` package (Apache-2.0); if that package is
missing, Pillow's built-in scalable font. No system fonts are used.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Sequence

from engine.compose.still import rgb_to_ycbcr_matrix
from engine.compose.timeline import Caption

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from PIL import ImageFont

log = logging.getLogger(__name__)

TEXT_RGB: Final = (255, 255, 255)
HIGHLIGHT_RGB: Final = (255, 210, 30)
OUTLINE_RGB: Final = (0, 0, 0)


@dataclass(frozen=True)
class CaptionLayout:
    font_px: int
    stroke_px: int
    max_width: int
    #: Vertical anchor: the block's bottom edge (landscape, square) or centre (portrait).
    anchor_y: int
    anchor: str  # "bottom" | "center"
    max_lines: int = 2


def layout_for(width: int, height: int) -> CaptionLayout:
    """Caption geometry for a frame: title-safe (10 % margins), sized for the aspect."""
    aspect = width / height
    if aspect > 1.2:  # 16:9 and wider
        font = round(height * 0.062)
        return CaptionLayout(font, _stroke(font), round(width * 0.8), round(height * 0.9), "bottom")
    if aspect < 0.83:  # 9:16: above the player's bottom controls
        font = round(width * 0.072)
        return CaptionLayout(font, _stroke(font), round(width * 0.8), round(height * 0.70), "center")
    font = round(width * 0.062)
    return CaptionLayout(font, _stroke(font), round(width * 0.8), round(height * 0.88), "bottom")


def _stroke(font_px: int) -> int:
    return max(2, round(font_px * 0.09))


def load_font(px: int) -> "ImageFont.FreeTypeFont":
    from PIL import ImageFont

    try:
        import ttf_opensans

        return ImageFont.truetype(str(ttf_opensans.OPENSANS_EXTRABOLD.path), px)
    except (ImportError, OSError) as e:
        log.warning("ttf-opensans not available (%s); using Pillow's built-in font for captions", e)
        return ImageFont.load_default(size=px)  # type: ignore[return-value]  # FreeType since Pillow 10.1


@dataclass(frozen=True)
class _Overlay:
    y: "np.ndarray"      # premultiplied luma (h, w)
    ya: "np.ndarray"     # 255 - alpha (h, w)
    uv: "np.ndarray"     # premultiplied chroma (h/2, w/2, 2)
    uva: "np.ndarray"    # 255 - alpha (h/2, w/2, 2)


@dataclass(frozen=True)
class CaptionArt:
    """One caption drawn: its region in the frame and the layers to compose a highlight state."""

    x: int
    y: int
    plain: _Overlay
    lit: _Overlay
    #: Per word: (x0, x1, y0, y1) inside the region (even-aligned).
    word_boxes: tuple[tuple[int, int, int, int], ...]
    _cache: dict[int, _Overlay] = field(default_factory=dict, compare=False, repr=False)

    def overlay(self, word: int) -> _Overlay:
        """The overlay with word ``word`` highlighted (-1: none). Built once per state."""
        if word < 0 or word >= len(self.word_boxes):
            return self.plain
        got = self._cache.get(word)
        if got is None:
            self._cache.clear()  # only the current state is kept
            x0, x1, y0, y1 = self.word_boxes[word]
            p, q = self.plain, self.lit
            y, ya, uv, uva = p.y.copy(), p.ya.copy(), p.uv.copy(), p.uva.copy()
            y[y0:y1, x0:x1], ya[y0:y1, x0:x1] = q.y[y0:y1, x0:x1], q.ya[y0:y1, x0:x1]
            c = (slice(y0 // 2, y1 // 2), slice(x0 // 2, x1 // 2))
            uv[c], uva[c] = q.uv[c], q.uva[c]
            got = self._cache[word] = _Overlay(y, ya, uv, uva)
        return got

    def blend(self, y_plane: "np.ndarray", uv_plane: "np.ndarray", word: int) -> None:
        """Composite onto the frame's planes in place (only the caption's region is touched)."""
        import cv2

        o = self.overlay(word)
        h, w = o.y.shape
        ry = y_plane[self.y:self.y + h, self.x:self.x + w]
        cv2.multiply(ry, o.ya, dst=ry, scale=1 / 255)
        cv2.add(ry, o.y, dst=ry)
        ruv = uv_plane[self.y // 2:(self.y + h) // 2, self.x // 2:(self.x + w) // 2]
        cv2.multiply(ruv, o.uva, dst=ruv, scale=1 / 255)
        cv2.add(ruv, o.uv, dst=ruv)


def _wrap(words: Sequence[str], font: "ImageFont.FreeTypeFont", max_width: int,
          space: float) -> list[list[int]]:
    lines: list[list[int]] = [[]]
    width = 0.0
    for i, w in enumerate(words):
        ww = font.getlength(w)
        if lines[-1] and width + space + ww > max_width:
            lines.append([])
            width = 0.0
        width += (space if lines[-1] else 0.0) + ww
        lines[-1].append(i)
    return lines


def render_caption(caption: Caption, frame_w: int, frame_h: int, layout: CaptionLayout) -> CaptionArt | None:
    """Lay out and draw a caption (white and highlighted layers). None when it has no text."""
    import numpy as np
    from PIL import Image, ImageDraw

    words = [w.text for w in caption.words] if caption.words else caption.text.split()
    words = [w for w in words if w.strip()]
    if not words:
        return None
    px = layout.font_px
    for _ in range(6):  # shrink until it fits in max_lines
        font = load_font(px)
        space = font.getlength(" ")
        pad = max(2, round(layout.stroke_px * px / layout.font_px)) + 2
        lines = _wrap(words, font, layout.max_width - 2 * pad, space)
        if len(lines) <= layout.max_lines or px <= layout.font_px * 0.6:
            break
        px = int(px * 0.9)
    stroke = max(2, round(layout.stroke_px * px / layout.font_px))
    ascent, descent = font.getmetrics()
    line_h = round((ascent + descent) * 1.08)
    widths = [sum(font.getlength(words[i]) for i in ln) + space * (len(ln) - 1) for ln in lines]
    pad = stroke + 2
    box_w = int(max(widths)) + 2 * pad
    box_h = line_h * len(lines) + 2 * pad
    box_w += box_w % 2
    box_h += box_h % 2
    x0 = (frame_w - box_w) // 2
    y0 = layout.anchor_y - box_h if layout.anchor == "bottom" else layout.anchor_y - box_h // 2
    x0, y0 = max(0, x0 - x0 % 2), max(0, min(frame_h - box_h, y0 - y0 % 2))
    box_w, box_h = min(box_w, frame_w - x0), min(box_h, frame_h - y0)
    box_w -= box_w % 2
    box_h -= box_h % 2

    # Two coverage masks, drawn once: the outlined text (alpha) and the glyph fill alone.
    outline = Image.new("L", (box_w, box_h), 0)
    fill = Image.new("L", (box_w, box_h), 0)
    d_out, d_fill = ImageDraw.Draw(outline), ImageDraw.Draw(fill)
    boxes: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)] * len(words)
    for li, ln in enumerate(lines):
        x = pad + (box_w - 2 * pad - widths[li]) / 2
        y = pad + li * line_h
        for i in ln:
            d_out.text((x, y), words[i], font=font, fill=255, stroke_width=stroke, stroke_fill=255)
            d_fill.text((x, y), words[i], font=font, fill=255)
            ww = font.getlength(words[i])
            bx0 = max(0, int(x - space / 2)) & ~1
            bx1 = min(box_w, int(x + ww + space / 2 + 1) + 1) & ~1
            by0, by1 = (int(y) - pad) & ~1, min(box_h, int(y) + line_h + pad + 1) & ~1
            boxes[i] = (bx0, bx1, max(0, by0), by1)
            x += ww + space
    a = np.asarray(outline, dtype=np.float32) / 255.0
    f = np.minimum(np.asarray(fill, dtype=np.float32) / 255.0, a)
    return CaptionArt(x0, y0, _to_overlay(a, f, TEXT_RGB), _to_overlay(a, f, HIGHLIGHT_RGB), tuple(boxes))


def _to_overlay(a: "np.ndarray", f: "np.ndarray", rgb: tuple[int, int, int]) -> _Overlay:
    """Premultiplied NV12 layers for text coloured ``rgb`` (coverage ``f``) with a black outline
    (coverage ``a`` >= ``f``)."""
    import cv2
    import numpy as np

    m = rgb_to_ycbcr_matrix()
    fill_ycc = m[:, :3] @ np.array(rgb, dtype=np.float64) + m[:, 3]
    black_ycc = m[:, :3] @ np.array(OUTLINE_RGB, dtype=np.float64) + m[:, 3]
    h, w = a.shape
    a2 = cv2.resize(a, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    f2 = cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    u8 = lambda v: np.clip(np.rint(v), 0, 255).astype(np.uint8)  # noqa: E731
    prem = lambda cov_a, cov_f, k: cov_a * black_ycc[k] + cov_f * (fill_ycc[k] - black_ycc[k])  # noqa: E731
    return _Overlay(
        y=u8(prem(a, f, 0)),
        ya=u8(255.0 * (1.0 - a)),
        uv=u8(np.dstack([prem(a2, f2, 1), prem(a2, f2, 2)])),
        uva=u8(np.repeat((255.0 * (1.0 - a2))[:, :, None], 2, axis=2)),
    )
