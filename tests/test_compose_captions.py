"""Caption chunking, layout for each aspect, and the highlight timing in a rendered video."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.compose.caption_art import layout_for, render_caption
from engine.compose.captions import chunk_captions, highlighted_word
from engine.compose.render import render
from engine.compose.timeline import Caption, CaptionWord, Timeline, TimelineScene, VideoSettings
from test_compose_util import decode_video, solid_image


def _words(text: str, step: float = 0.3, start: float = 0.0) -> list[CaptionWord]:
    return [CaptionWord(w, start + k * step, start + k * step + step * 0.8)
            for k, w in enumerate(text.split())]


def test_chunks_are_short_and_break_at_sentences() -> None:
    caps = chunk_captions(_words("The tide came in slowly that night. Nobody saw the boat, "
                                 "but everyone heard the bell ringing across the bay until dawn."))
    texts = [c.text for c in caps]
    assert all(2 <= len(c.words) <= 5 for c in caps), texts
    assert any(t.endswith("night.") for t in texts)  # sentence end closes a chunk
    assert " ".join(texts).split() == [w.text for w in _words(
        "The tide came in slowly that night. Nobody saw the boat, but everyone heard the bell ringing "
        "across the bay until dawn.")]
    for a, b in zip(caps, caps[1:]):
        assert a.start < a.end <= b.start
        assert a.start == a.words[0].start


def test_chunks_break_at_pauses_and_merge_orphans() -> None:
    words = _words("hello there friend") + _words("again we meet", start=5.0)
    caps = chunk_captions(words)
    assert [c.text for c in caps] == ["hello there friend", "again we meet"]
    assert caps[0].end == pytest.approx(words[2].end + 0.3)
    caps = chunk_captions(_words("one two three four five six"), max_words=5)
    assert [len(c.words) for c in caps] in ([3, 3], [5, 1]) or all(len(c.words) >= 2 for c in caps)
    assert all(len(c.words) >= 2 for c in caps)
    assert chunk_captions([]) == ()
    assert chunk_captions([CaptionWord("  ", 0, 1)]) == ()


def test_highlighted_word_follows_timing() -> None:
    cap = chunk_captions(_words("alpha beta gamma"))[0]
    assert highlighted_word(cap, -0.1) == -1
    assert [highlighted_word(cap, w.start + 0.01) for w in cap.words] == [0, 1, 2]
    assert highlighted_word(cap, cap.words[1].end + 0.02) == 1  # between words: keep the last one


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920), (1080, 1080)])
def test_layout_inside_title_safe(size: tuple[int, int]) -> None:
    w, h = size
    lay = layout_for(w, h)
    text = "Something was knocking beneath the floor"
    art = render_caption(Caption(text, 0, 1, tuple(_words(text))), w, h, lay)
    assert art is not None
    ch, cw = art.plain.y.shape
    assert art.x >= 0.08 * w and art.x + cw <= 0.92 * w
    assert art.y >= 0.08 * h and art.y + ch <= 0.92 * h
    assert art.x % 2 == 0 and art.y % 2 == 0 and cw % 2 == 0 and ch % 2 == 0
    # at most two lines: the block is shorter than three line heights
    assert ch < 3 * lay.font_px * 1.2
    assert lay.font_px >= 0.05 * min(w, h)


def test_highlight_timing_in_video(tmp_path: Path) -> None:
    w, h, fps = 480, 270, 30
    img = solid_image(tmp_path / "grey.png", (90, 90, 90))
    words = [CaptionWord("left", 0.5, 0.9), CaptionWord("middle", 1.0, 1.4), CaptionWord("right", 1.5, 1.9)]
    t = Timeline(w, h, fps, (TimelineScene(img, 3.0, "static"),), fade=0.0,
                 captions=(Caption("left middle right", 0.5, 2.2, tuple(words)),),
                 video=VideoSettings("libx264", 16, "ultrafast"))
    out = render(t, tmp_path / "cap.mp4")
    rgb = decode_video(out, w, h, "rgb24").astype(int)

    def yellow_x(frame: int) -> float | None:
        f = rgb[frame]
        mask = (f[:, :, 0] > 200) & (f[:, :, 1] > 160) & (f[:, :, 2] < 110)
        return float(np.nonzero(mask)[1].mean()) if mask.sum() > 20 else None

    def white(frame: int) -> int:
        f = rgb[frame]
        return int(((f[:, :, 0] > 220) & (f[:, :, 1] > 220) & (f[:, :, 2] > 220)).sum())

    assert white(6) == 0 and yellow_x(6) is None             # 0.2 s: no caption yet
    xs = [yellow_x(round(wd.start * fps) + 3) for wd in words]  # 0.1 s into each word
    assert all(x is not None for x in xs), xs
    assert xs[0] < w / 2 - 20 < xs[1] < w / 2 + 20 < xs[2], xs  # left, centre, right word lit in turn
    assert white(round(0.6 * fps)) > 50                      # the other words stay white
    assert white(round(2.5 * fps)) == 0 and yellow_x(round(2.5 * fps)) is None  # caption gone
