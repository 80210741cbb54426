"""Bad input and failing ffmpeg: each a clear error naming the problem, and never a partial
file where the finished video belongs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.compose.render import render
from engine.compose.timeline import Timeline, TimelineScene, VideoSettings
from engine.errors import BadInput, RenderFailed
from test_compose_util import fake_ffmpeg, leftovers, solid_image, speech_like, write_wav

W, H = 160, 90
FAST = VideoSettings("libx264", 23, "ultrafast")


def _tl(d: Path, images: list[Path] | None = None, **kw: object) -> Timeline:
    imgs = images or [solid_image(d / "a.png", (120, 80, 40)), solid_image(d / "b.png", (40, 80, 120))]
    return Timeline(W, H, 24, tuple(TimelineScene(p, 1.0, "zoom_in") for p in imgs), video=FAST,
                    **kw)  # type: ignore[arg-type]


def test_missing_image_is_named(tmp_path: Path) -> None:
    t = _tl(tmp_path, [solid_image(tmp_path / "a.png", (1, 2, 3)), tmp_path / "nope.png"])
    out = tmp_path / "out"
    with pytest.raises(BadInput, match=r"scene 2: .*nope\.png"):
        render(t, out / "v.mp4")
    assert not out.exists() or leftovers(out) == []


@pytest.mark.parametrize("content", [b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_corrupt_image_is_named(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(content)
    t = _tl(tmp_path, [solid_image(tmp_path / "a.png", (1, 2, 3)), bad])
    with pytest.raises(BadInput, match=r"broken\.png"):
        render(t, tmp_path / "o" / "v.mp4")
    assert leftovers(tmp_path / "o") == []


def test_truncated_image_fails_cleanly_mid_render(tmp_path: Path) -> None:
    from PIL import Image
    import numpy as np

    good = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(good)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:20000])  # header fine, pixel data truncated
    t = _tl(tmp_path, [solid_image(tmp_path / "a.png", (1, 2, 3)), cut])
    with pytest.raises(BadInput, match=r"cut\.png"):
        render(t, tmp_path / "o" / "v.mp4")
    assert leftovers(tmp_path / "o") == []


@pytest.mark.parametrize("duration", [0.0, -1.5])
def test_non_positive_duration(tmp_path: Path, duration: float) -> None:
    with pytest.raises(BadInput, match=r"scenes\[0\]\.duration"):
        Timeline(W, H, 24, (TimelineScene(tmp_path / "a.png", duration),))


def test_unknown_motion(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"scenes\[0\]\.motion 'spin'"):
        Timeline(W, H, 24, (TimelineScene(tmp_path / "a.png", 1.0, "spin"),))


def test_narration_longer_than_timeline(tmp_path: Path) -> None:
    narr = write_wav(tmp_path / "long.wav", speech_like(3.0), 22050)
    with pytest.raises(BadInput, match=r"narration \(3\.00s.*longer than the video \(2\.00s\)"):
        render(_tl(tmp_path, narration=narr), tmp_path / "o" / "v.mp4")
    assert leftovers(tmp_path / "o") == []


def test_missing_or_unreadable_audio(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="narration audio not found"):
        render(_tl(tmp_path, narration=tmp_path / "none.wav"), tmp_path / "o" / "v.mp4")
    junk = tmp_path / "music.mp3"
    junk.write_bytes(b"this is not audio" * 10)
    with pytest.raises(BadInput, match=r"music\.mp3"):
        render(_tl(tmp_path, music=junk), tmp_path / "o" / "v.mp4")


def test_ffmpeg_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RenderFailed, match="ffmpeg not found"):
        render(_tl(tmp_path), tmp_path / "v.mp4", ffmpeg=tmp_path / "no-ffmpeg")
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(tmp_path / "missing" / "ffmpeg"))
    with pytest.raises(RenderFailed, match="IMAGEIO_FFMPEG_EXE"):
        render(_tl(tmp_path), tmp_path / "v.mp4")
    assert not (tmp_path / "v.mp4").exists()


def test_ffmpeg_crashing_mid_encode(tmp_path: Path) -> None:
    fake = fake_ffmpeg(tmp_path, 'case "$*" in *pipe:0*) head -c 60000 >/dev/null; '
                                 'echo "simulated encoder crash: Conversion failed!" >&2; exit 3;; esac')
    out = tmp_path / "o" / "v.mp4"
    with pytest.raises(RenderFailed, match="simulated encoder crash") as e:
        render(_tl(tmp_path), out, ffmpeg=fake)
    assert "exit 3" in e.value.message
    assert leftovers(out.parent) == []


def test_disk_full_reported_with_ffmpegs_words(tmp_path: Path) -> None:
    fake = fake_ffmpeg(tmp_path, 'case "$*" in *pipe:0*) cat >/dev/null; '
                                 'echo "av_interleaved_write_frame(): No space left on device" >&2; '
                                 'exit 1;; esac')
    out = tmp_path / "o" / "v.mp4"
    with pytest.raises(RenderFailed, match="No space left on device"):
        render(_tl(tmp_path), out, ffmpeg=fake)
    assert leftovers(out.parent) == []


def test_failed_render_keeps_the_previous_video(tmp_path: Path) -> None:
    out = tmp_path / "o" / "v.mp4"
    out.parent.mkdir()
    out.write_bytes(b"previous finished video")
    fake = fake_ffmpeg(tmp_path, 'case "$*" in *pipe:0*) exit 9;; esac')
    with pytest.raises(RenderFailed):
        render(_tl(tmp_path), out, ffmpeg=fake)
    assert out.read_bytes() == b"previous finished video"
    assert leftovers(out.parent) == ["v.mp4"]


def test_unwritable_output_folder(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = Path("/proc/storyreel-cannot-write/v.mp4")  # even root cannot create folders in /proc
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target = ro / "sub" / "v.mp4"
    with pytest.raises(RenderFailed, match="cannot create the output folder"):
        render(_tl(tmp_path), target)
