"""Captions drawn once for every frame worker: the producer asks for each caption once, ahead of
its first frame, and removes its drawing once its last frame is done; a drawing filed by one
worker loads in another exactly as drawn. (That frames made by several workers equal those of the
single frame thread is tests/test_compose_workers.py.)"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.compose.caption_art import layout_for, render_caption
from engine.compose.shared_captions import AHEAD, CaptionPlan, caption_name, load_caption, write_caption
from engine.compose.timeline import Caption, CaptionWord, Timeline, TimelineScene

FPS = 30


def _timeline(tmp_path: Path) -> Timeline:
    spans = [(0.5 + 2.0 * i, 2.0 + 2.0 * i) for i in range(5)]
    captions = tuple(Caption(f"line {i}", a, b, (CaptionWord(f"line {i}", a, b),))
                     for i, (a, b) in reversed(list(enumerate(spans))))  # out of order: numbered by start
    scenes = (TimelineScene(tmp_path / "a.png", 6.0, "pan_left"),
              TimelineScene(tmp_path / "b.png", 6.0, "zoom_in"))
    return Timeline(320, 180, FPS, scenes, captions=captions)


def test_each_caption_is_asked_for_once_and_ahead_of_its_first_frame(tmp_path: Path) -> None:
    t = _timeline(tmp_path)
    plan = CaptionPlan(tmp_path)
    plan.update(t)
    asked: dict[int, int] = {}
    for n in range(t.frame_count):
        for i in plan.due(n):
            assert i not in asked
            asked[i] = n
    starts = sorted(c.start for c in t.captions)
    assert sorted(asked) == list(range(len(starts)))
    for i, n in asked.items():
        first = int(np.ceil(starts[i] * FPS))
        assert first - n >= min(AHEAD * FPS - 1, first)  # asked about a second before it shows
        assert n == 0 or first - (n - 1) > AHEAD * FPS  # and not earlier than needed


def test_a_drawing_goes_once_its_last_frame_is_done(tmp_path: Path) -> None:
    t = _timeline(tmp_path)
    plan = CaptionPlan(tmp_path)
    plan.update(t)
    for n in range(t.frame_count):
        for i in plan.due(n):
            write_caption(tmp_path, i, None)
    first = sorted(t.captions, key=lambda c: c.start)[0]
    plan.release_before(int(first.end * FPS))  # its last frame not done yet
    assert (tmp_path / caption_name(0)).exists()
    plan.release_before(int(first.end * FPS) + 2)
    assert not (tmp_path / caption_name(0)).exists()
    assert (tmp_path / caption_name(1)).exists()


def test_a_caption_filed_by_one_worker_loads_as_drawn(tmp_path: Path) -> None:
    words = tuple(CaptionWord(w, 0.5 * k, 0.5 * k + 0.5) for k, w in enumerate("The lamp went dark".split()))
    caption = Caption("The lamp went dark", 0.0, 2.0, words)
    art = render_caption(caption, 640, 360, layout_for(640, 360))
    assert art is not None
    write_caption(tmp_path, 3, art)
    write_caption(tmp_path, 4, None)
    got = load_caption(tmp_path, 3)
    assert got is not None and (got.x, got.y, got.word_boxes) == (art.x, art.y, art.word_boxes)
    for word in (-1, 0, 2):
        a, b = art.overlay(word), got.overlay(word)
        assert all(np.array_equal(x, y) for x, y in zip((a.y, a.ya, a.uv, a.uva), (b.y, b.ya, b.uv, b.uva)))
    assert load_caption(tmp_path, 4) is None
    assert not list(tmp_path.glob(".*.part"))
