"""Burned-in captions: layout for 16:9, 9:16 and 1:1 inside title-safe margins, text drawn once
per caption (white and highlight colour, black outline), and per-frame blending of just the
caption's region into the NV12 frame with the spoken word highlighted.

Fonts per script, all from packages (no system fonts): Open Sans ExtraBold (``ttf-opensans``,
Apache-2.0: Latin, Cyrillic, Greek), Noto Sans Arabic and Noto Sans Devanagari at weight 800
(``fontpkg-noto-sans-arabic``/``-devanagari``, OFL-1.1) and Noto Sans CJK (``noto-cjk-sans-otc``,
OFL-1.1: its SC, JP and KR faces for Chinese, Japanese and Korean). Complex scripts are shaped by
Pillow's libraqm layout (HarfBuzz + FriBiDi) when it has it; without it, Arabic is shaped and
ordered by arabic-reshaper + python-bidi. Right-to-left captions place their words from the
right, so the highlight moves right to left. If a font package is missing, Pillow's built-in
font (a warning says so).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Sequence

from engine.compose.still import rgb_to_ycbcr_matrix
from engine.compose.timeline import Caption
from engine.languages import Language, language as language_row

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
    #: engine.languages code: the font, the direction and the space between words
    language: str = "en"


def layout_for(width: int, height: int, language: str = "en") -> CaptionLayout:
    """Caption geometry for a frame: title-safe (10 % margins), sized for the aspect."""
    return replace(_layout_for(width, height), language=language_row(language).code)


def _layout_for(width: int, height: int) -> CaptionLayout:
    aspect = width / height
    if aspect > 1.2:  # 16:9 and wider
        font = round(height * 0.062)
        return CaptionLayout(font, stroke_for(font), round(width * 0.8), round(height * 0.9), "bottom")
    if aspect < 0.83:  # 9:16: above the player's bottom controls
        font = round(width * 0.072)
        return CaptionLayout(font, stroke_for(font), round(width * 0.8), round(height * 0.70), "center")
    font = round(width * 0.062)
    return CaptionLayout(font, stroke_for(font), round(width * 0.8), round(height * 0.88), "bottom")


def stroke_for(font_px: int) -> int:
    return max(2, round(font_px * 0.09))


#: Weight of the variable Noto fonts, near Open Sans ExtraBold's.
_WEIGHT: Final = 800
#: Face of each language's CJK font in the Noto Sans CJK collection (JP, KR, SC, TC, HK, ...).
_CJK_FACE: Final = {"cjk-jp": 0, "cjk-kr": 1, "cjk-sc": 2}


def font_file(family: str) -> tuple[Path, int]:
    """(font file, face index) of a caption font family (engine.languages.Font); ImportError or
    FileNotFoundError when its package is missing."""
    if family == "latin":
        import ttf_opensans

        return Path(ttf_opensans.OPENSANS_EXTRABOLD.path), 0
    if family in _CJK_FACE:
        import noto_cjk_sans_otc

        return Path(str(noto_cjk_sans_otc.FONT_PATH)), _CJK_FACE[family]
    if family == "arabic":
        import fontpkg_noto_sans_arabic as package
    elif family == "devanagari":
        import fontpkg_noto_sans_devanagari as package
    else:
        raise ValueError(f"no caption font for {family!r}")
    found = sorted((Path(package.ROOT) / "files").glob("*.ttf"))
    if not found:
        raise FileNotFoundError(f"{package.__name__} has no font file")
    return found[0], 0


@lru_cache(maxsize=1)
def complex_layout() -> bool:
    """Whether Pillow has libraqm (HarfBuzz shaping, FriBiDi ordering)."""
    from PIL import features

    return bool(features.check("raqm"))


def load_font(px: int, language: str = "en") -> "ImageFont.FreeTypeFont":
    """The caption font for ``language`` at ``px`` pixels (bold)."""
    from PIL import ImageFont

    lang = language_row(language)
    engine = ImageFont.Layout.RAQM if complex_layout() else ImageFont.Layout.BASIC
    try:
        path, index = font_file(lang.font)
        font = ImageFont.truetype(str(path), px, index=index, layout_engine=engine)
    except (ImportError, OSError, ValueError) as e:
        log.warning("caption font for %s not available (%s); using Pillow's built-in font", lang.name, e)
        return ImageFont.load_default(size=px)  # type: ignore[return-value]  # FreeType since Pillow 10.1
    try:
        axes = font.get_variation_axes()
    except OSError:  # not a variable font
        return font
    values: list[float] = []
    for axis in axes:
        raw = axis.get("name", b"")
        name = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
        values.append(float(_WEIGHT if name.lower() in ("weight", "wght") else axis.get("default") or 0))
    font.set_variation_by_axes(values)
    return font


@dataclass(frozen=True)
class Shaper:
    """Draws words of one language: libraqm with its direction and language when Pillow has it,
    else Arabic shaped and reordered by arabic-reshaper + python-bidi."""

    lang: Language
    raqm: bool

    def text(self, word: str) -> str:
        if self.raqm or not self.lang.rtl:
            return word
        import arabic_reshaper
        from bidi import get_display

        return str(get_display(arabic_reshaper.reshape(word)))

    @property
    def options(self) -> dict[str, Any]:
        if not self.raqm:
            return {}
        return {"direction": "rtl" if self.lang.rtl else "ltr", "language": self.lang.code}

    def length(self, font: "ImageFont.FreeTypeFont", word: str) -> float:
        return float(font.getlength(self.text(word), **self.options))


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


def shaper_for(language: str) -> Shaper:
    """How text of ``language`` is drawn with this Pillow and the font load_font gives it. Pillow's
    built-in font (the fallback when a font package is missing) always has the basic layout, which
    refuses direction and language options even where Pillow has libraqm."""
    lang = language_row(language)
    return Shaper(lang, complex_layout() and _font_installed(lang.font))


@lru_cache(maxsize=None)
def _font_installed(family: str) -> bool:
    try:
        return font_file(family)[0].is_file()
    except (ImportError, OSError, ValueError):
        return False


def _wrap(lengths: Sequence[float], max_width: int, space: float) -> list[list[int]]:
    """Words (by their drawn lengths) into lines of at most ``max_width``: word indices."""
    lines: list[list[int]] = [[]]
    width = 0.0
    for i, ww in enumerate(lengths):
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

    shaper = shaper_for(layout.language)
    lang = shaper.lang
    words = [w.text for w in caption.words] if caption.words else caption.text.split()
    words = [w for w in words if w.strip()]
    if not words:
        return None
    px = layout.font_px
    for _ in range(6):  # shrink until it fits in max_lines
        font = load_font(px, lang.code)
        space = font.getlength(" ") if lang.spaced else 0.0
        pad = max(2, round(layout.stroke_px * px / layout.font_px)) + 2
        lengths = [shaper.length(font, w) for w in words]
        lines = _wrap(lengths, layout.max_width - 2 * pad, space)
        if len(lines) <= layout.max_lines or px <= layout.font_px * 0.6:
            break
        px = int(px * 0.9)
    stroke = max(2, round(layout.stroke_px * px / layout.font_px))
    ascent, descent = font.getmetrics()
    line_h = round((ascent + descent) * 1.08)
    widths = [sum(lengths[i] for i in ln) + space * (len(ln) - 1) for ln in lines]
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
    options = shaper.options
    for li, ln in enumerate(lines):
        left = pad + (box_w - 2 * pad - widths[li]) / 2
        y = pad + li * line_h
        x = left + widths[li] if lang.rtl else left  # right to left: the first word at the right
        for i in ln:
            ww = lengths[i]
            if lang.rtl:
                x -= ww
            shown = shaper.text(words[i])
            d_out.text((x, y), shown, font=font, fill=255, stroke_width=stroke, stroke_fill=255, **options)
            d_fill.text((x, y), shown, font=font, fill=255, **options)
            bx0 = max(0, int(x - space / 2)) & ~1
            bx1 = min(box_w, int(x + ww + space / 2 + 1) + 1) & ~1
            by0, by1 = (int(y) - pad) & ~1, min(box_h, int(y) + line_h + pad + 1) & ~1
            boxes[i] = (bx0, bx1, max(0, by0), by1)
            x = x - space if lang.rtl else x + ww + space
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
