"""End-to-end renders with synthetic images and the real ffmpeg: the file's format, its
duration, the audio's length and loudness, crossfades and fades, progress, cancellation, CLI."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from engine.compose.captions import chunk_captions
from engine.compose.ffmpeg import probe
from engine.compose.render import render
from engine.compose.soundtrack import place_clips
from engine.compose.timeline import CaptionWord, Timeline, TimelineScene, VideoSettings
from engine.errors import JobCancelled
from engine.progress import StageProgress
from test_compose_util import (decode_audio, decode_video, leftovers, loudness, solid_image, speech_like,
                               stream_lines, textured_image, tone, write_wav)

W, H, FPS = 320, 180, 30


@pytest.fixture(scope="module")
def full_render(tmp_path_factory: pytest.TempPathFactory) -> tuple[Timeline, Path]:
    """3 scenes (zoom, pan, zoom), narration placed from two clips, a music bed, captions."""
    d = tmp_path_factory.mktemp("full")
    imgs = [textured_image(d / f"s{i}.png", seed=i) for i in range(3)]
    clips = [(write_wav(d / f"c{i}.wav", speech_like(1.6, seed=i), 22050), 0.2 + 1.8 * i) for i in range(2)]
    narration = place_clips(clips, 4.5, d / "narration.wav")
    music = write_wav(d / "music.wav", np.stack([tone(2.0), tone(2.0, freq=440)], 1).ravel(), 44100, 2)
    words = [CaptionWord(w, 0.3 + 0.35 * k, 0.6 + 0.35 * k)
             for k, w in enumerate("one two three four five six".split())]
    t = Timeline(W, H, FPS, (TimelineScene(imgs[0], 1.5, "zoom_in"), TimelineScene(imgs[1], 1.5, "pan_right"),
                             TimelineScene(imgs[2], 1.5, "zoom_out")),
                 transition=0.5, narration=narration, music=music, captions=chunk_captions(words),
                 video=VideoSettings("auto", 20, "veryfast"))
    out = render(t, d / "out" / "video.mp4")
    return t, out


def test_output_format(full_render: tuple[Timeline, Path]) -> None:
    t, out = full_render
    info = probe(out)
    v, a = info.first("video"), info.first("audio")
    assert v is not None and a is not None
    assert (v.codec, v.pix_fmt, v.width, v.height, v.fps) == ("h264", "yuv420p", W, H, FPS)
    assert "bt709" in v.detail and "tv" in v.detail, v.detail
    assert (a.codec, a.sample_rate, a.channels) == ("aac", 48000, "stereo")
    frames = decode_video(out, W, H)
    assert len(frames) == t.frame_count == round(4.5 * FPS)
    assert info.duration is not None and abs(info.duration - t.duration) <= 1 / FPS + 0.03
    audio = decode_audio(out)
    assert abs(len(audio) / 48000 - t.duration) <= 1 / FPS
    # faststart: the moov atom precedes mdat
    head = out.read_bytes()[:4096]
    assert b"moov" in head
    assert leftovers(out.parent) == ["video.mp4"]


def test_loudness_and_true_peak(full_render: tuple[Timeline, Path]) -> None:
    _, out = full_render
    integrated, peak = loudness(out)
    assert -15.0 <= integrated <= -13.0
    assert peak <= -1.0


def test_fade_in_and_out_are_black(full_render: tuple[Timeline, Path]) -> None:
    _, out = full_render
    frames = decode_video(out, W, H)
    assert frames[0].mean() < 20 and frames[-1].mean() < 20
    assert frames[len(frames) // 2].mean() > 60


def _solid_timeline(d: Path, **kw: object) -> Timeline:
    a = solid_image(d / "a.png", (200, 40, 40))
    b = solid_image(d / "b.png", (30, 60, 220))
    defaults = dict(transition=1.0, fade=0.0, video=VideoSettings("libx264", 16, "ultrafast"))
    defaults.update(kw)
    return Timeline(W, H, FPS, (TimelineScene(a, 2.0, "static"), TimelineScene(b, 2.0, "static")),
                    **defaults)  # type: ignore[arg-type]


def test_crossfade_midpoint_is_a_blend(tmp_path: Path) -> None:
    out = render(_solid_timeline(tmp_path), tmp_path / "x.mp4")
    rgb = decode_video(out, W, H, "rgb24").astype(float)
    center = lambda i: rgb[i, 60:120, 100:220].reshape(-1, 3).mean(0)  # noqa: E731
    a, b, mid = center(30), center(100), center(60)  # 1.0 s, 3.33 s, boundary at 2.0 s
    assert np.allclose(a, (200, 40, 40), atol=6) and np.allclose(b, (30, 60, 220), atol=6)
    assert np.allclose(mid, (a + b) / 2, atol=5), (a, b, mid)
    # the crossfade runs 1.5 s .. 2.5 s, rising monotonically through it
    blue = [center(i)[2] for i in range(42, 79)]
    assert all(y >= x - 1.5 for x, y in zip(blue, blue[1:]))
    assert np.allclose(center(44), a, atol=6) and np.allclose(center(76), b, atol=6)


def test_progress_reports_and_cancellation(tmp_path: Path) -> None:
    seen: list[tuple[float, str]] = []
    p = StageProgress("video", sink=lambda stage, pct, msg: seen.append((pct, msg)))
    t = _solid_timeline(tmp_path, video=VideoSettings("libx264", 20, "ultrafast"))
    render(t, tmp_path / "ok.mp4", progress=p)
    pcts = [s[0] for s in seen]
    assert pcts == sorted(pcts) and pcts[0] >= 75 and pcts[-1] == 100
    assert any(m.startswith("Rendering video") for _, m in seen)

    out_dir = tmp_path / "cancel"
    cancel = threading.Event()

    def sink(stage: str, pct: float, msg: str) -> None:
        if msg.startswith("Rendering video"):
            cancel.set()

    long = Timeline(W, H, FPS, tuple(TimelineScene(s.image, 20.0, "zoom_in") for s in t.scenes),
                    video=VideoSettings("libx264", 20, "ultrafast"))
    with pytest.raises(JobCancelled):
        render(long, out_dir / "c.mp4", progress=StageProgress("video", sink=sink, cancel=cancel))
    assert leftovers(out_dir) == []


def test_cli_renders_and_reports_errors(tmp_path: Path) -> None:
    t = _solid_timeline(tmp_path, video=VideoSettings("libx264", 20, "ultrafast"))
    tj = t.to_json(tmp_path / "timeline.json")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    ok = subprocess.run([sys.executable, "-m", "engine.compose", str(tj), "-o", str(tmp_path / "cli.mp4")],
                        capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "cli.mp4").stat().st_size > 1000
    assert "Rendering video" in ok.stderr
    (tmp_path / "a.png").unlink()
    bad = subprocess.run([sys.executable, "-m", "engine.compose", str(tj), "-o", str(tmp_path / "bad.mp4")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 1
    assert "error:" in bad.stderr and "a.png" in bad.stderr
    assert not (tmp_path / "bad.mp4").exists()


def test_portrait_and_square_render(tmp_path: Path) -> None:
    img = textured_image(tmp_path / "p.png", 300, 500)
    words = [CaptionWord(w, 0.1 + 0.3 * k, 0.35 + 0.3 * k)
             for k, w in enumerate("a portrait caption here".split())]
    for w, h in ((180, 320), (240, 240)):
        t = Timeline(w, h, 24, (TimelineScene(img, 1.2, "auto"),), captions=chunk_captions(words),
                     video=VideoSettings("libx264", 20, "ultrafast"))
        out = render(t, tmp_path / f"{w}x{h}.mp4")
        v = probe(out).first("video")
        assert v is not None and (v.width, v.height, v.fps) == (w, h, 24)
        assert len(decode_video(out, w, h)) == round(1.2 * 24)


def test_stream_lines_show_h264_and_aac(full_render: tuple[Timeline, Path]) -> None:
    lines = stream_lines(full_render[1])
    assert any("Video: h264" in ln and "yuv420p" in ln for ln in lines)
    assert any("Audio: aac" in ln and "48000 Hz" in ln for ln in lines)
