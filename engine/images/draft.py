"""Draft art: procedural mood images for when no SDXL weights are installed. A palette per story
type, a landscape (sky, light, layered silhouettes, figures for the scene's characters) shaped by a
few words of the prompt, a treatment per image style, and a "DRAFT" banner so nobody mistakes it for
the real thing. Everything is drawn at quarter size with numpy/OpenCV and upscaled: ~0.1 s an image.

Characters of the job's cast (engine.images.cast) are marked the same way in every scene they are
in: each stands at its own place across the frame, its silhouette rimmed in its own colour, with a
name tag in that colour above its head and, above the tag, a small inset of its reference portrait
framed in that colour (drawn after the style's treatment, so they survive noir and pixel art) —
the storyboard shows who is where, and a replaced portrait shows in every scene of its character."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Final, Mapping, Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from engine.images.stock import terms
from engine.images.styles import style_for
from engine.presets import STORY_TYPES, nearest

Palette = tuple[tuple[int, int, int], ...]  # sky top, sky bottom, land, accent
Array = np.ndarray


@dataclass(frozen=True)
class Figure:
    """A cast member in draft art: its name tag, colour and place across the frame (0..1), and its
    reference portrait (engine/images/portraits.py), inset above the tag when there is one."""

    name: str
    colour: tuple[int, int, int]
    x: float
    portrait: Path | None = None


#: A cast member's figure height, as a share of the image height (the same in every scene).
FIGURE_HEIGHT: Final = 0.36

PALETTES: Final[Mapping[str, Palette]] = {
    "scary_horror": ((10, 12, 22), (40, 46, 60), (8, 8, 10), (150, 20, 20)),
    "mystery": ((16, 22, 40), (70, 80, 110), (14, 16, 24), (220, 190, 120)),
    "true_crime": ((20, 20, 26), (80, 78, 82), (18, 18, 20), (200, 40, 40)),
    "urban_legend": ((18, 28, 30), (90, 100, 80), (16, 20, 18), (200, 200, 150)),
    "sci_fi": ((4, 8, 30), (30, 80, 140), (10, 14, 30), (0, 230, 255)),
    "fantasy": ((40, 30, 90), (220, 150, 120), (30, 50, 40), (255, 220, 120)),
    "history": ((70, 60, 50), (200, 170, 120), (60, 45, 30), (160, 60, 30)),
    "motivational": ((250, 140, 60), (255, 220, 150), (60, 50, 70), (255, 255, 220)),
    "fun_facts": ((60, 170, 250), (180, 240, 255), (60, 180, 90), (255, 210, 0)),
    "educational": ((90, 150, 210), (220, 235, 250), (70, 120, 90), (255, 140, 0)),
    "bedtime": ((25, 30, 80), (120, 110, 180), (40, 40, 80), (255, 240, 180)),
    "comedy": ((120, 200, 255), (255, 250, 210), (110, 200, 90), (255, 90, 160)),
    "drama": ((60, 50, 80), (200, 130, 120), (40, 35, 45), (255, 190, 140)),
}

#: Prompt words that change the land colour or the light.
_LAND_WORDS: Final = {
    "forest": (20, 60, 30),
    "tree": (20, 60, 30),
    "wood": (30, 55, 30),
    "jungle": (15, 70, 25),
    "sea": (20, 50, 90),
    "ocean": (20, 50, 90),
    "lake": (30, 60, 100),
    "river": (30, 60, 100),
    "water": (30, 60, 100),
    "snow": (220, 225, 235),
    "ice": (190, 210, 230),
    "desert": (200, 160, 100),
    "sand": (210, 180, 120),
    "field": (80, 120, 50),
    "grass": (70, 130, 50),
    "mountain": (60, 60, 70),
}
_NIGHT_WORDS: Final = frozenset({"night", "dark", "midnight", "moon", "moonlight", "shadow", "storm", "fog"})
_WARM_WORDS: Final = frozenset(
    {"fire", "sunset", "dawn", "sunrise", "flame", "lava", "candle", "torch", "golden"}
)
_CITY_WORDS: Final = frozenset({"city", "street", "building", "town", "alley", "tower", "office", "skyline"})


def _mix(a: Array, b: Array, t: Array | float) -> Array:
    return a * (1.0 - t) + b * t


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> Array:
    """Value noise in 0..1: a coarse random grid upscaled with cubic interpolation."""
    grid = rng.random((max(2, h * cells // w + 2), cells + 2)).astype(np.float32)
    return np.clip(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def _figure_boxes(
    cast: Sequence[Figure], w: int, h: int, horizon: float
) -> list[tuple[Figure, int, int, int]]:
    """(figure, x, feet y, height) in pixels of a ``w`` x ``h`` image, for each cast figure."""
    ph = max(4, int(FIGURE_HEIGHT * h))
    py = int(min(0.98, horizon + 0.2) * h)
    return [(f, int(f.x * w), py, ph) for f in cast]


def _scene_layout(
    prompt: str, story_type: str, size: tuple[int, int], seed: int, figures: int, cast: Sequence[Figure] = ()
) -> tuple[Array, float]:
    """The landscape at ``size`` (quarter scale), float32 RGB in 0..1, and its horizon (0..1)."""
    rng = np.random.default_rng(seed)
    w, h = size
    words = terms(prompt)
    top, bottom, land, accent = (np.array(c, np.float32) / 255.0 for c in PALETTES[story_type])
    if words & _NIGHT_WORDS:
        top, bottom = top * 0.45, bottom * 0.55
    if words & _WARM_WORDS:
        bottom = _mix(bottom, np.array([1.0, 0.55, 0.2], np.float32), 0.5)
    for word, rgb in _LAND_WORDS.items():
        if word in words:
            land = _mix(land, np.array(rgb, np.float32) / 255.0, 0.7)
            break
    yy = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    xx = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
    img = _mix(top, bottom, yy**0.8) * np.ones((1, w, 1), np.float32)
    # light source with a glow
    cx, cy, r = rng.uniform(0.15, 0.85), rng.uniform(0.12, 0.4), rng.uniform(0.05, 0.1)
    d = np.sqrt((xx - cx) ** 2 * (w / h) ** 2 + (yy - cy) ** 2)
    img = _mix(img, accent, np.clip(0.55 * np.exp(-d / (r * 2.5)), 0, 1))
    img = _mix(img, _mix(accent, np.ones(3, np.float32), 0.6), (d < r).astype(np.float32))
    # clouds / mist
    img = _mix(img, bottom, 0.35 * _smooth_noise(rng, h, w, 6)[..., None] * (1 - yy))
    # silhouettes: far to near, each darker; a skyline in the city
    horizon = rng.uniform(0.55, 0.72)
    x = np.arange(w, dtype=np.float32)
    city = bool(words & _CITY_WORDS)
    for layer in range(3):
        depth = (layer + 1) / 3.0
        base = horizon + 0.07 * layer
        if city and layer < 2:
            widths = rng.integers(max(2, w // 40), max(3, w // 12), size=w)
            heights = rng.uniform(0.05, 0.3, size=w)
            edge = np.repeat(heights[: w // 2], widths[: w // 2])[:w]
            ridge: Array = base - edge * (1.0 - 0.3 * layer)
        else:
            ridge = np.full(w, base - 0.06 * (1 + layer), np.float32)
            for k in range(1, 5):
                ridge = ridge + (0.09 / k) * np.sin(
                    x / w * np.pi * (k * 1.7 + layer) + rng.uniform(0, 6.28)
                ) * (1.2 - depth * 0.4)
        colour = _mix(_mix(bottom, land, 0.5), land * (1.0 - 0.35 * layer), depth)
        mask = (yy[..., 0] >= ridge[None, :]).astype(np.float32)[..., None]
        img = _mix(img, colour, mask)
    # figures stand for the scene's characters: the cast's at their own places, in their colours
    if figures > 0 or cast:
        canvas = np.ascontiguousarray((np.clip(img, 0, 1) * 255).astype(np.uint8))
        rim = (_mix(accent, np.ones(3, np.float32), 0.3) * 255).tolist()
        dark = (8.0, 8.0, 10.0)
        placed: list[tuple[list[float], int, int, int]] = [
            ([float(c) for c in f.colour], px, py, ph) for f, px, py, ph in _figure_boxes(cast, w, h, horizon)
        ]
        if not cast:
            for i in range(min(figures, 4)):
                fx = (i + 1) / (min(figures, 4) + 1) + rng.uniform(-0.05, 0.05)
                ph = int(rng.uniform(0.3, 0.4) * h)
                placed.append((rim, int(fx * w), int(min(0.98, horizon + 0.2) * h), ph))
        for outline, px, py, ph in placed:
            body = ((px, py - ph * 3 // 8), (max(2, ph // 7), ph * 3 // 8))
            head = ((px, py - ph + ph // 8), max(2, ph // 8))
            paints: tuple[tuple[list[float], int], ...] = ((outline, 1), (list(dark), 0))
            for paint, grow in paints:  # a lit rim, then the silhouette
                cv2.ellipse(canvas, body[0], (body[1][0] + grow, body[1][1] + grow), 0, 0, 360, paint, -1)
                cv2.circle(canvas, head[0], head[1] + grow, paint, -1)
        img = canvas.astype(np.float32) / 255.0
    # ground haze
    img = _mix(img, bottom, np.clip((yy - horizon) * 0.8, 0, 0.25))
    return np.clip(img, 0.0, 1.0), horizon


def _vignette(h: int, w: int, strength: float) -> Array:
    yy = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    return (1.0 - strength * np.clip((xx**2 + yy**2) / 2.0, 0, 1) ** 1.5)[..., None]


def _posterize(img: Array, levels: int, saturation: float = 1.0) -> Array:
    """Flat bands of brightness that keep each colour's hue (cel shading)."""
    hsv = cv2.cvtColor(np.clip(img, 0, 1).astype(np.float32), cv2.COLOR_RGB2HSV)
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 1)
    hsv[..., 2] = np.round(hsv[..., 2] * (levels - 1) + 0.25) / (levels - 1)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def _edges(img: Array, thickness: int) -> Array:
    grey = cv2.cvtColor((img * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey, 30, 90)
    if thickness > 1:
        edges = cv2.dilate(edges, np.ones((thickness, thickness), np.uint8))
    return (edges > 0).astype(np.float32)[..., None]


def _grain(rng: np.random.Generator, h: int, w: int, amount: float) -> Array:
    return rng.standard_normal((h, w, 1), dtype=np.float32) * amount


# Each treatment takes and returns float32 RGB 0..1 at full size.
def _cinematic(img: Array, rng: np.random.Generator) -> Array:
    h, w, _ = img.shape
    lum = img.mean(axis=2, keepdims=True)
    img = _mix(
        img, _mix(np.array([0.0, 0.35, 0.45], np.float32), np.array([1.0, 0.6, 0.3], np.float32), lum), 0.3
    )
    img = img * _vignette(h, w, 0.6) + _grain(rng, h, w, 0.02)
    bar = int(h * 0.09)
    img[:bar] = 0.0
    img[h - bar:] = 0.0
    return img


def _photorealistic(img: Array, rng: np.random.Generator) -> Array:
    h, w, _ = img.shape
    img = cv2.GaussianBlur(img, (0, 0), 1.2)
    return img * _vignette(h, w, 0.3) + _grain(rng, h, w, 0.012)


def _anime(img: Array, rng: np.random.Generator) -> Array:
    flat = _posterize(img, 6, saturation=1.4)
    return _mix(flat, np.zeros(3, np.float32), _edges(flat, 2) * 0.8)


def _comic(img: Array, rng: np.random.Generator) -> Array:
    h, w, _ = img.shape
    flat = _posterize(img, 4, saturation=1.5)
    cell = max(6, w // 160)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot((xx % cell) - cell / 2, (yy % cell) - cell / 2) / (cell / 2)
    lum = flat.mean(axis=2)
    dots = (d < (1.0 - lum) * 1.1).astype(np.float32)[..., None]
    out = _mix(flat, flat * 0.55, dots * 0.6)
    return _mix(out, np.zeros(3, np.float32), _edges(flat, 4))


def _oil_painting(img: Array, rng: np.random.Generator) -> Array:
    h, w, _ = img.shape
    strokes = rng.random((h // 2, w // 2), dtype=np.float32)
    k = np.zeros((9, 9), np.float32)
    k[4, :] = 1.0 / 9
    streaks: Array = cv2.resize(cv2.filter2D(strokes, -1, k), (w, h))
    img = cv2.medianBlur((img * 255).astype(np.uint8), 5).astype(np.float32) / 255.0
    img = img * (0.85 + 0.3 * streaks[..., None])
    return _mix(img, np.array([0.55, 0.42, 0.25], np.float32), 0.12)


def _watercolor(img: Array, rng: np.random.Generator) -> Array:
    h, w, _ = img.shape
    paper = np.array([0.97, 0.95, 0.9], np.float32)
    soft = cv2.GaussianBlur(_mix(img.mean(axis=2, keepdims=True), img, 1.3), (0, 0), 3.0)
    blots = _smooth_noise(rng, h, w, 10)[..., None]
    washed = _mix(paper, soft, 0.6 + 0.25 * blots)
    rim = np.clip(np.abs(soft - cv2.GaussianBlur(soft, (0, 0), 6.0)).mean(axis=2, keepdims=True) * 4, 0, 0.4)
    return washed * (1.0 - rim) + _grain(rng, h, w, 0.015)


def _dark_fantasy(img: Array, rng: np.random.Generator) -> Array:
    h, w, _ = img.shape
    grey = img.mean(axis=2, keepdims=True)
    img = _mix(grey, img, 0.45) * 0.85
    fog = _smooth_noise(rng, h, w, 10)[..., None]
    img = _mix(img, np.array([0.35, 0.38, 0.42], np.float32), fog * 0.25)
    return img * _vignette(h, w, 0.85)


def _noir(img: Array, rng: np.random.Generator) -> Array:
    h, w, _ = img.shape
    grey = img.mean(axis=2, keepdims=True)
    grey = np.clip((grey - 0.35) * 1.8 + 0.4, 0, 1)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    blinds = ((((xx * 0.35 + yy) / max(8, h // 14)) % 1.0) < 0.45).astype(np.float32)[..., None]
    grey = grey * (0.55 + 0.45 * blinds)
    drops = (rng.random((h, w), dtype=np.float32) > 0.997).astype(np.float32)
    rain: Array = cv2.filter2D(drops, -1, np.eye(15, dtype=np.float32)[:, ::-1] * 0.6)[..., None]
    return np.repeat(np.clip(grey + rain, 0, 1), 3, axis=2) * _vignette(h, w, 0.5)


def _pixel_art(img: Array, rng: np.random.Generator) -> Array:
    h, w, _ = img.shape
    small = cv2.resize(np.clip(img, 0, 1), (max(8, w // 8), max(8, h // 8)), interpolation=cv2.INTER_AREA)
    indexed = Image.fromarray((small * 255).astype(np.uint8), "RGB").quantize(
        colors=16, dither=Image.Dither.NONE
    )
    small = np.asarray(indexed.convert("RGB"), dtype=np.float32) / 255.0
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def _3d_render(img: Array, rng: np.random.Generator) -> Array:
    h, w, _ = img.shape
    img = cv2.GaussianBlur(img, (0, 0), 2.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(3):
        cx, cy, r = rng.uniform(0.2, 0.8) * w, rng.uniform(0.6, 0.8) * h, rng.uniform(0.05, 0.1) * h
        colour = rng.uniform(0.3, 1.0, size=3).astype(np.float32)
        d2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / r**2
        shadow = np.exp(-(((xx - cx) / (1.6 * r)) ** 2 + ((yy - cy - r) / (0.35 * r)) ** 2))[..., None]
        img = img * (1.0 - 0.5 * shadow)
        inside = (d2 <= 1.0).astype(np.float32)[..., None]
        light = np.clip(
            1.0 - (((xx - cx + 0.4 * r) ** 2 + (yy - cy + 0.4 * r) ** 2) / (1.8 * r) ** 2), 0.15, 1
        )
        img = _mix(img, colour * light[..., None] + 0.25 * light[..., None] ** 8, inside)
    return img


TREATMENTS: Final[Mapping[str, Callable[[Array, np.random.Generator], Array]]] = {
    "cinematic": _cinematic,
    "photorealistic": _photorealistic,
    "anime": _anime,
    "comic": _comic,
    "oil_painting": _oil_painting,
    "watercolor": _watercolor,
    "dark_fantasy": _dark_fantasy,
    "noir": _noir,
    "pixel_art": _pixel_art,
    "3d_render": _3d_render,
}


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):
        return ImageFont.load_default()


def _banner(image: Image.Image, title: str, caption: str) -> Image.Image:
    w, h = image.size
    draw = ImageDraw.Draw(image, "RGBA")
    big, small = font(max(12, h // 18)), font(max(10, h // 40))
    pad = max(6, h // 60)
    box = draw.textbbox((0, 0), title, font=big)
    draw.rectangle(
        (pad, pad, pad * 3 + box[2], pad * 3 + box[3]),
        fill=(0, 0, 0, 170),
        outline=(255, 200, 0, 255),
        width=max(2, h // 300),
    )
    draw.text((pad * 2, pad * 2), title, font=big, fill=(255, 200, 0, 255))
    if caption:
        lines = textwrap.wrap(caption, width=max(20, w // max(6, h // 60)))[:2]
        line_h = draw.textbbox((0, 0), "Ag", font=small)[3] + pad // 2
        y0 = h - pad - line_h * len(lines) - pad
        draw.rectangle((0, y0 - pad // 2, w, h), fill=(0, 0, 0, 120))
        for i, line in enumerate(lines):
            draw.text((pad * 2, y0 + i * line_h), line, font=small, fill=(255, 255, 255, 230))
    return image


def _inset(portrait: Path, side: int) -> Image.Image | None:
    """The portrait as a ``side`` square (None when it cannot be read: the tag still marks it)."""
    try:
        with Image.open(portrait) as im:
            return im.convert("RGB").resize((side, side), Image.Resampling.LANCZOS)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _name_tags(image: Image.Image, cast: Sequence[Figure], horizon: float) -> Image.Image:
    """Each cast figure's name on a tag in its colour above its head, its portrait inset above the
    tag in a frame of that colour, and a bar of that colour at its feet."""
    w, h = image.size
    draw = ImageDraw.Draw(image, "RGBA")
    small = font(max(10, h // 32))
    pad = max(2, h // 200)
    side = max(12, min(w, h) // 7)
    for f, px, py, ph in _figure_boxes(cast, w, h, horizon):
        box = draw.textbbox((0, 0), f.name, font=small)
        tw, th = box[2] - box[0], box[3] - box[1]
        top = max(pad, py - ph - th - 4 * pad)
        face = _inset(f.portrait, side) if f.portrait is not None else None
        if face is not None:
            frame = max(2, side // 24)
            y0 = int(max(frame, top - pad - frame - side))
            x0 = min(max(frame, px - side // 2), w - side - frame)
            draw.rectangle((x0 - frame, y0 - frame, x0 + side + frame - 1, y0 + side + frame - 1),
                           fill=(*f.colour, 255))
            image.paste(face, (x0, y0))
            top = max(top, y0 + side + frame + pad)
        light = sum(f.colour) > 450
        draw.rectangle((px - tw // 2 - 2 * pad, top - pad, px + tw // 2 + 2 * pad, top + th + 2 * pad),
                       fill=(*f.colour, 255))
        draw.text((px - tw // 2 - box[0], top - box[1] + pad // 2), f.name, font=small,
                  fill=(0, 0, 0) if light else (255, 255, 255))
        bar = max(2, h // 120)
        draw.rectangle((px - ph // 5, min(h - 1, py + pad), px + ph // 5, min(h - 1, py + pad + bar)),
                       fill=(*f.colour, 255))
    return image


def draft_image(
    prompt: str,
    *,
    style: str,
    story_type: str,
    size: tuple[int, int],
    seed: int,
    figures: int = 0,
    label: str = "DRAFT",
    cast: Sequence[Figure] = (),
) -> Image.Image:
    """A procedural mood image of ``size`` (w, h) for ``prompt``, in ``style`` for ``story_type``
    (unknown names map to the nearest preset). ``cast``: the scene's characters, each marked the
    same in every scene (``figures`` counts anonymous ones when there is no cast). Same arguments,
    same pixels."""
    w, h = size
    style_key = style_for(style).name
    story_key = nearest(story_type, STORY_TYPES, "drama")
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 7])
    small, horizon = _scene_layout(prompt, story_key, (max(16, w // 4), max(16, h // 4)), seed, figures, cast)
    full = np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
    full = np.clip(TREATMENTS[style_key](full, rng), 0.0, 1.0)
    image = Image.fromarray((full * 255.0 + 0.5).astype(np.uint8), "RGB")
    if cast:
        image = _name_tags(image, cast, horizon)
    return _banner(image, f"{label} · {style_key.replace('_', ' ')}", prompt)
