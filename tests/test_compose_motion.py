"""Camera motion quality: the samplers match exact bilinear sampling, and a slow pan in the
encoded video moves smoothly (phase correlation), unlike whole-pixel cropping."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.compose import motion as mo
from engine.compose.render import render
from engine.compose.sampler import affine, sample
from engine.compose.still import Still, canvas_size, nv12_to_rgb, prepare_still, rgb_to_nv12
from engine.compose.timeline import Timeline, TimelineScene, VideoSettings
from test_compose_util import decode_video, textured_image


def _bilinear(src: np.ndarray, s: float, ox: float, oy: float, h: int, w: int) -> np.ndarray:
    ys = oy + (np.arange(h) + 0.5) * s - 0.5
    xs = ox + (np.arange(w) + 0.5) * s - 0.5
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    y1, x1 = np.minimum(y0 + 1, src.shape[0] - 1), np.minimum(x0 + 1, src.shape[1] - 1)
    f = src.astype(float).reshape(src.shape[0], src.shape[1], -1)
    top = f[y0][:, x0] * (1 - fx) + f[y0][:, x1] * fx
    bot = f[y1][:, x0] * (1 - fx) + f[y1][:, x1] * fx
    return (top * (1 - fy) + bot * fy).reshape((h, w) + src.shape[2:])


@pytest.fixture(scope="module")
def still() -> Still:
    w, h = 640, 360
    cw, ch = canvas_size(w, h, 0.1)
    r = np.random.default_rng(3)
    y = cv2.GaussianBlur(r.integers(0, 255, (ch, cw)).astype(np.uint8), (0, 0), 1.0)
    uv = cv2.GaussianBlur(r.integers(0, 255, (ch // 2, cw // 2, 2)).astype(np.uint8), (0, 0), 1.0)
    flips = lambda a: tuple(cv2.flip(a, c) if c is not None else a for c in (None, 1, 0, -1))  # noqa: E731
    return Still(flips(y), flips(uv))


@pytest.mark.parametrize("motion", ["zoom_in", "zoom_out", "pan_left", "pan_right", "pan_up", "pan_down"])
@pytest.mark.parametrize("p", [0.0, 0.0004, 0.31, 0.5, 0.77, 0.9996, 1.0])
def test_sampler_matches_exact_bilinear(still: Still, motion: str, p: float) -> None:
    w, h = 640, 360
    v = mo.view_for(motion, 0.1, p, w, h, still.width, still.height)
    y, uv = np.empty((h, w), np.uint8), np.empty((h // 2, w // 2, 2), np.uint8)
    sample(still, v, y, uv)
    ref_y = _bilinear(still.y[0], v.scale, v.ox, v.oy, h, w)
    ref_uv = _bilinear(still.uv[0], v.scale, v.ox / 2, v.oy / 2, h // 2, w // 2)
    assert np.abs(y - ref_y).max() <= 1.0
    assert np.abs(uv - ref_uv).max() <= 1.25


def test_affine_fallback_matches(still: Still) -> None:
    h, w = 360, 640
    out = np.empty((h, w), np.uint8)
    affine(still.y[0], 1.0371, 7.3, 5.9, out)
    assert np.abs(out - _bilinear(still.y[0], 1.0371, 7.3, 5.9, h, w)).max() <= 1.5


def test_color_conversion_round_trip(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (8, 8, 3)).astype(np.uint8)
    rgb = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_NEAREST)  # 2x2-constant chroma blocks
    y, uv = rgb_to_nv12(rgb)
    assert y.min() >= 16 and y.max() <= 235 and uv.min() >= 16 and uv.max() <= 240
    assert np.abs(nv12_to_rgb(y, uv).astype(int) - rgb).max() <= 3
    white = rgb_to_nv12(np.full((2, 2, 3), 255, np.uint8))
    assert white[0][0, 0] == 235 and tuple(white[1][0, 0]) == (128, 128)


def test_prepare_still_handles_modes_and_exif(tmp_path: Path) -> None:
    from PIL import Image

    base = np.zeros((100, 200, 3), np.uint8)
    base[:, :100] = (250, 250, 250)  # left half white
    im = Image.fromarray(base)
    exif = Image.Exif()
    exif[0x0112] = 3  # rotated 180 degrees: the white half must end up on the right
    im.save(tmp_path / "rot.jpg", exif=exif, quality=95)
    s = prepare_still(tmp_path / "rot.jpg", 64, 36, 0.0, mirrored=False)
    assert s.y[0][:, -10:].mean() > 200 and s.y[0][:, :10].mean() < 40
    for mode in ("L", "LA", "RGBA", "P", "CMYK", "I;16", "1"):
        Image.fromarray(base).convert(mode if mode != "I;16" else "L").convert(mode).save(
            tmp_path / f"m{mode.replace(';', '')}.{'tiff' if mode in ('CMYK', 'I;16') else 'png'}")
    for f in tmp_path.glob("m*"):
        s = prepare_still(f, 64, 36, 0.1, mirrored=True)
        assert s.y[0].shape == (canvas_size(64, 36, 0.1)[1], canvas_size(64, 36, 0.1)[0]) and len(s.y) == 4


def _displacements(frames: np.ndarray) -> np.ndarray:
    win = cv2.createHanningWindow(frames.shape[1:][::-1], cv2.CV_32F)
    f = frames.astype(np.float32)
    return np.array([cv2.phaseCorrelate(f[i], f[i + 1], win)[0][0] for i in range(len(f) - 1)])


def _smoothness(d: np.ndarray) -> float:
    return float(np.percentile(np.abs(np.diff(d)), 95))


def test_slow_pan_is_smooth(tmp_path: Path) -> None:
    w, h, fps = 640, 360, 30
    img = textured_image(tmp_path / "pan.png", 896, 512, seed=5)
    t = Timeline(w, h, fps, (TimelineScene(img, 5.0, "pan_right"),), fade=0.0, motion_strength=0.1,
                 video=VideoSettings("libx264", 16, "veryfast"))
    frames = decode_video(render(t, tmp_path / "pan.mp4"), w, h)
    d = _displacements(frames[:, 40:-40, 40:-40])
    # content moves left during a right pan: displacement negative; cruise speed ~0.5 px/frame
    cruise = d[len(d) // 3: 2 * len(d) // 3]
    assert -0.8 < cruise.mean() < -0.3, cruise.mean()
    assert d.max() < 0.05, "backward step"
    assert _smoothness(d) < 0.3, _smoothness(d)


def test_whole_pixel_cropping_fails_the_same_measure(tmp_path: Path) -> None:
    """The measure above can fail: integer crops of the same pan (zoompan/MoviePy style) jitter."""
    w, h = 640, 360
    still = prepare_still(textured_image(tmp_path / "p.png", 896, 512, seed=5), w, h, 0.1, mirrored=False)
    plan = mo.ScenePlan(0, 0.0, 5.0, 0.0, 0.0, "pan_right", 0.1)
    frames = []
    for n in range(150):
        v = mo.view_for("pan_right", 0.1, mo.progress_at(plan, n / 30), w, h, still.width, still.height)
        x = int(round(v.ox))
        frames.append(still.y[0][int(v.oy):int(v.oy) + h, x:x + w])
    d = _displacements(np.stack(frames)[:, 40:-40, 40:-40])
    assert _smoothness(d) > 0.5
