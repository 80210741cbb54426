"""Frames on every core and streamed timelines: worker processes compose the same frames as the
single frame thread; a timeline streamed scene by scene renders the same video as the finished
timeline; failures inside a worker or of the stream surface as the render's own errors with
nothing left behind; the worker count follows the encoder and the cores."""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.compose.child import ChildRender
from engine.compose.feed import TimelineFeed
from engine.compose.render import render
from engine.compose.timeline import Caption, CaptionWord, Timeline, TimelineScene, VideoSettings
from engine.compose.workers import ENV_WORKERS, frame_workers
from engine.errors import BadInput, RenderFailed
from engine.progress import StageProgress
from test_compose_util import decode_video, leftovers, speech_like, textured_image, write_wav

W, H, FPS = 192, 108, 24
FAST = VideoSettings("libx264", 20, "ultrafast")


def _caption(text: str, start: float, end: float) -> Caption:
    return Caption(text, start, end, (CaptionWord(text, start, end),))


def _final(d: Path) -> Timeline:
    imgs = [textured_image(d / f"s{i}.png", seed=i) for i in range(3)]
    narration = write_wav(d / "n.wav", speech_like(4.2), 22050)
    scenes = tuple(TimelineScene(img, 1.5, m) for img, m in zip(imgs, ("zoom_in", "pan_left", "zoom_out")))
    captions = (_caption("one", 0.2, 1.2), _caption("two", 1.7, 2.8), _caption("three", 3.2, 4.3))
    return Timeline(W, H, FPS, scenes, narration=narration, video=FAST, captions=captions)


def _prefix(t: Timeline, k: int) -> Timeline:
    """The first k scenes as a streamed update: no narration yet, captions of those scenes."""
    end = sum(s.duration for s in t.scenes[:k])
    captions = tuple(c for c in t.captions if c.end <= end)
    return replace(t, scenes=t.scenes[:k], narration=None, captions=captions)


def test_worker_processes_make_the_same_frames_as_the_frame_thread(tmp_path: Path) -> None:
    t = _final(tmp_path)
    one = render(t, tmp_path / "one.mp4", workers=1)
    two = render(t, tmp_path / "two.mp4", workers=3)
    a, b = decode_video(one, W, H), decode_video(two, W, H)
    assert a.shape == b.shape == (t.frame_count, H, W)
    assert np.array_equal(a, b)
    assert a[len(a) // 2].std() > 10  # real pictures, not black frames


def test_a_streamed_timeline_renders_the_same_video_as_the_final_one(tmp_path: Path) -> None:
    t = _final(tmp_path)
    whole = render(t, tmp_path / "whole.mp4", workers=1)
    for workers in (1, 2):
        feed = TimelineFeed(final=False, expected_seconds=t.duration)
        seen: list[float] = []

        def grow() -> None:
            for k in (1, 2):
                feed.put(_prefix(t, k), final=False)
                time.sleep(0.4)
            feed.put(t, final=True)

        threading.Thread(target=grow, daemon=True).start()
        p = StageProgress("video", sink=lambda stage, pct, msg: seen.append(pct))
        out = render(feed, tmp_path / f"streamed{workers}.mp4", progress=p, workers=workers)
        assert np.array_equal(decode_video(out, W, H), decode_video(whole, W, H)), workers
        assert seen == sorted(seen) and seen[-1] == 100


def test_a_stream_may_only_grow_by_appending_scenes(tmp_path: Path) -> None:
    t = _final(tmp_path)
    feed = TimelineFeed(final=False)
    feed.put(_prefix(t, 2), final=False)
    swapped = replace(t, scenes=(t.scenes[1], t.scenes[0], t.scenes[2]))
    with pytest.raises(BadInput, match="only grow"):
        feed.put(swapped, final=False)
    feed.put(t, final=True)
    with pytest.raises(BadInput, match="after the final"):
        feed.put(t, final=True)


def test_a_bad_picture_in_a_worker_fails_the_render_and_leaves_nothing(tmp_path: Path) -> None:
    t = _final(tmp_path)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 50)
    broken = replace(t, scenes=(t.scenes[0], replace(t.scenes[1], image=bad), t.scenes[2]))
    feed = TimelineFeed(final=False)
    feed.put(_prefix(t, 1), final=False)  # scene 1 is fine; scene 2 arrives broken
    threading.Timer(0.3, lambda: feed.put(broken, final=True)).start()
    out_dir = tmp_path / "out"
    with pytest.raises(BadInput, match="scene 2 image"):
        render(feed, out_dir / "v.mp4", workers=2)
    assert leftovers(out_dir) == []


def test_the_child_renders_a_stream_and_fails_when_it_stops_early(tmp_path: Path) -> None:
    t = _final(tmp_path)
    child = ChildRender(tmp_path / "o" / "v.mp4", progress=StageProgress("video"), workers=2,
                        expect_seconds=t.duration).start()
    child.send(_prefix(t, 1), final=False)
    child.send(t, final=True)
    out = child.wait()
    assert decode_video(out, W, H).shape[0] == t.frame_count

    child = ChildRender(tmp_path / "o2" / "v.mp4", progress=StageProgress("video")).start()
    child.send(_prefix(t, 2), final=False)
    assert child._proc is not None and child._proc.stdin is not None
    child._proc.stdin.close()  # the pipeline went away before the last scene
    with pytest.raises(RenderFailed, match="stopped sending scenes"):
        child.wait()
    assert leftovers(tmp_path / "o2") == []


def test_worker_count_follows_the_encoder_and_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_WORKERS, raising=False)
    assert frame_workers("libx264", 2) == 1  # small machine: the in-process frame thread
    assert frame_workers("libx264", 16) == 4
    assert frame_workers("h264_nvenc", 2) == 1
    assert frame_workers("h264_nvenc", 8) == 6
    assert frame_workers("h264_nvenc", 32) == 8
    monkeypatch.setenv(ENV_WORKERS, "3")
    assert frame_workers("libx264", 2) == 3
