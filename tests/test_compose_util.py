"""Helpers for the compositor tests (synthetic media, decoding and probing with the real ffmpeg).
Holds no tests itself."""
from __future__ import annotations

import re
import stat
import subprocess
import wave
from pathlib import Path
from typing import Sequence

import numpy as np

from engine.compose.ffmpeg import find_ffmpeg


def ffmpeg_exe() -> str:
    return str(find_ffmpeg())


def fake_ffmpeg(d: Path, body: str) -> Path:
    """A wrapper that runs the real ffmpeg except where ``body`` (shell, sees "$*") decides
    otherwise: a real way to make one particular ffmpeg run fail."""
    p = d / "fake-ffmpeg"
    p.write_text(f"#!/bin/sh\n{body}\nexec '{find_ffmpeg()}' \"$@\"\n")
    p.chmod(p.stat().st_mode | stat.S_IXUSR)
    return p


def textured_image(path: Path, w: int = 448, h: int = 256, seed: int = 0) -> Path:
    """A detailed picture (blurred noise, shapes, lines): good for motion measurement."""
    import cv2
    from PIL import Image

    r = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(r.integers(0, 255, (h, w, 3)).astype(np.uint8), (0, 0), 1.2)
    base = cv2.resize(r.integers(0, 255, (max(2, h // 24), max(2, w // 24), 3)).astype(np.uint8), (w, h),
                      interpolation=cv2.INTER_CUBIC)
    im = cv2.addWeighted(base, 0.6, noise, 0.4, 0)
    for _ in range(25):
        color = tuple(int(c) for c in r.integers(0, 255, 3))
        center = (int(r.integers(0, w)), int(r.integers(0, h)))
        cv2.circle(im, center, int(r.integers(4, max(5, h // 6))), color, -1, lineType=cv2.LINE_AA)
    Image.fromarray(im).save(path)
    return path


def solid_image(path: Path, rgb: tuple[int, int, int], w: int = 160, h: int = 90) -> Path:
    from PIL import Image

    Image.new("RGB", (w, h), rgb).save(path)
    return path


def write_wav(path: Path, samples: np.ndarray, rate: int, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def speech_like(seconds: float, rate: int = 22050, level: float = 0.3, seed: int = 0) -> np.ndarray:
    """Syllable-rate bursts of a voiced tone plus noise: loudness behaves like speech."""
    r = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    env = (np.sin(2 * np.pi * 3.0 * t) > -0.1).astype(np.float64)
    return env * (level * np.sin(2 * np.pi * 160 * t) + level * 0.3 * r.standard_normal(len(t)))


def tone(seconds: float, rate: int = 44100, freq: float = 330.0, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return level * np.sin(2 * np.pi * freq * t)


def decode_video(path: Path, w: int, h: int, fmt: str = "gray") -> np.ndarray:
    """All frames as an array (n, h, w) for gray or (n, h, w, 3) for rgb24."""
    ch = 1 if fmt == "gray" else 3
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "rawvideo",
                          "-pix_fmt", fmt, "-"], capture_output=True, check=True).stdout
    frames = np.frombuffer(out, np.uint8)
    n = frames.size // (w * h * ch)
    return frames[: n * w * h * ch].reshape((n, h, w) if ch == 1 else (n, h, w, 3))


def decode_audio(path: Path, rate: int = 48000, channels: int = 2) -> np.ndarray:
    argv = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "f32le",
            "-ac", str(channels), "-ar", str(rate), "-"]
    out = subprocess.run(argv, capture_output=True, check=True).stdout
    return np.frombuffer(out, np.float32).reshape(-1, channels)


def loudness(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of the first audio stream, by ffmpeg's ebur128."""
    err = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a:0", "-af",
                          "ebur128=peak=true:framelog=quiet", "-f", "null", "-"],
                         capture_output=True, text=True, check=True).stderr
    summary = err[err.rindex("Summary:"):]
    i = float(re.search(r"I:\s*(-?[\d.]+) LUFS", summary).group(1))  # type: ignore[union-attr]
    tp = float(re.search(r"Peak:\s*(-?[\d.]+|-inf)", summary).group(1))  # type: ignore[union-attr]
    return i, tp


def stream_lines(path: Path) -> list[str]:
    argv = [ffmpeg_exe(), "-hide_banner", "-i", str(path)]
    err = subprocess.run(argv, capture_output=True, text=True).stderr
    return [ln.strip() for ln in err.splitlines() if "Stream #" in ln]


def leftovers(folder: Path, keep: Sequence[str] = ()) -> list[str]:
    """Files or folders in ``folder`` other than ``keep`` (temporary names included)."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)
