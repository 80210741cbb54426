"""Captions per language: a font that covers each language's sample sentence (no missing-glyph
boxes), Arabic drawn right to left with joined letters (against an independent shaping), Chinese
and Japanese cut into caption chunks without spaces, and the spoken-word highlight per word or per
character group, moving the way the script reads."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.compose import caption_art
from engine.compose.caption_art import font_file, layout_for, load_font, render_caption
from engine.compose.captions import chunk_captions, highlighted_word
from engine.compose.timeline import Caption, CaptionWord, Timeline, TimelineScene
from engine.languages import LANGUAGES
from engine.narration.sentences import prepare_text


def _cmap(family: str) -> set[int]:
    from fontTools.ttLib import TTCollection, TTFont

    path, index = font_file(family)
    if path.suffix.lower() in (".ttc", ".otc"):
        font = TTCollection(str(path)).fonts[index]
    else:
        font = TTFont(str(path))
    return set(font.getBestCmap())


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_every_languages_font_covers_its_sample_sentence(code: str) -> None:
    lang = LANGUAGES[code]
    covered = _cmap(lang.font)
    missing = sorted({ch for ch in lang.sample if not ch.isspace() and ord(ch) not in covered})
    assert lang.sample and not missing, f"{lang.name}: {missing}"
    font = load_font(40, code)  # the packaged font, not Pillow's fallback
    assert font.path == str(font_file(lang.font)[0])


def _caption(words: list[str], joiner: str = " ") -> Caption:
    timed = tuple(CaptionWord(w, 0.3 * i, 0.3 * i + 0.25) for i, w in enumerate(words))
    return Caption(joiner.join(words), 0.0, 0.3 * len(words), timed)


def _ink(alpha: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(alpha > 128)
    return alpha[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1] > 128


def _word_mask(code: str, words: list[str], raqm: bool, monkeypatch: pytest.MonkeyPatch, index: int = 0
               ) -> tuple[np.ndarray, tuple[tuple[int, int, int, int], ...]]:
    monkeypatch.setattr(caption_art, "complex_layout", lambda: raqm)
    art = render_caption(_caption(words), 1280, 720, layout_for(1280, 720, code))
    assert art is not None
    alpha = 255 - art.plain.ya.astype(np.int32)
    x0, x1, y0, y1 = art.word_boxes[index]
    return _ink(alpha[y0:y1, x0:x1]), art.word_boxes


ARABIC = ["احتفظت", "المنارة", "بسرها"]


def test_arabic_is_drawn_right_to_left_with_joined_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    raqm = caption_art.complex_layout.__wrapped__()  # what this Pillow has
    ours, boxes = _word_mask("ar", ARABIC, raqm, monkeypatch)
    # right to left: the first word spoken is the rightmost, and the highlight moves leftwards
    assert boxes[0][0] > boxes[1][0] > boxes[2][0]
    # joined: the shaped word is narrower than its letters drawn one by one (isolated forms)
    font = load_font(layout_for(1280, 720, "ar").font_px, "ar")
    isolated = sum(font.getlength(ch) for ch in ARABIC[0])
    assert ours.shape[1] < 0.9 * isolated
    # the same word shaped independently (arabic-reshaper + python-bidi, Pillow's basic layout)
    reference, _ = _word_mask("ar", ARABIC, False, monkeypatch)
    assert abs(ours.shape[1] - reference.shape[1]) <= 0.04 * reference.shape[1] + 2
    h, w = min(ours.shape[0], reference.shape[0]), min(ours.shape[1], reference.shape[1])
    a, b = ours[:h, :w], reference[:h, :w]
    assert (a & b).sum() / max(1, (a | b).sum()) > 0.8
    # and not the letters in typed (left-to-right) order
    typed = caption_art.Shaper(LANGUAGES["en"], False)
    assert typed.text(ARABIC[0]) == ARABIC[0]
    assert caption_art.Shaper(LANGUAGES["ar"], False).text(ARABIC[0]) != ARABIC[0]


def test_left_to_right_highlight_moves_right() -> None:
    art = render_caption(_caption(["Старый", "маяк", "хранил"]), 1280, 720, layout_for(1280, 720, "ru"))
    assert art is not None and art.word_boxes[0][0] < art.word_boxes[1][0] < art.word_boxes[2][0]


def test_japanese_is_cut_into_caption_chunks_without_spaces() -> None:
    text = "古い灯台は百二十年もの間、その秘密を守り続けた。なぜだろう？誰も知らない！"
    tokens = [t.display for s in prepare_text(text, language="ja") for t in s.tokens]
    words = [CaptionWord(t, 0.25 * i, 0.25 * i + 0.2) for i, t in enumerate(tokens)]
    caps = chunk_captions(words, language="ja")
    assert len(caps) >= 3
    assert all(" " not in c.text and len(c.text) <= 16 or len(c.words) == 1 for c in caps)
    assert "".join(c.text for c in caps) == text
    assert all(c.text == "".join(w.text for w in c.words) for c in caps)
    assert caps[0].text.endswith(("、", "。")) or len(caps[0].text) > 10
    # the highlight is per character group: one group at a time, in spoken order
    cap = caps[0]
    lit = [highlighted_word(cap, w.start + 0.01) for w in cap.words]
    assert lit == list(range(len(cap.words)))
    art = render_caption(cap, 1080, 1920, layout_for(1080, 1920, "ja"))
    assert art is not None and len(art.word_boxes) == len(cap.words)
    assert all(a[1] <= b[0] + 4 for a, b in zip(art.word_boxes, art.word_boxes[1:]) if a[2] == b[2])


def test_english_captions_are_unchanged() -> None:
    text = "The sea was calm that night."
    words = [CaptionWord(w, 0.3 * i, 0.3 * i + 0.2) for i, w in enumerate(text.split())]
    assert [c.text for c in chunk_captions(words)] == [c.text for c in chunk_captions(words, language="en")]


def test_the_timeline_carries_the_captions_language(tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(b"")
    t = Timeline(1280, 720, 30, (TimelineScene(image, 1.0),), language="ar")
    assert Timeline.from_dict(t.to_dict()).language == "ar"
    assert Timeline.from_dict({k: v for k, v in t.to_dict().items() if k != "language"}).language == "en"


def test_an_arabic_caption_in_a_rendered_video_lights_its_words_right_to_left(tmp_path: Path) -> None:
    from engine.compose.render import render
    from engine.compose.timeline import VideoSettings
    from tests.test_compose_util import decode_video, solid_image

    w, h, fps = 480, 270, 30
    img = solid_image(tmp_path / "grey.png", (90, 90, 90))
    words = [CaptionWord(text, 0.5 + 0.5 * i, 0.9 + 0.5 * i) for i, text in enumerate(ARABIC)]
    t = Timeline(w, h, fps, (TimelineScene(img, 3.0, "static"),), fade=0.0,
                 captions=(Caption(" ".join(ARABIC), 0.5, 2.2, tuple(words)),),
                 video=VideoSettings("libx264", 16, "ultrafast"), language="ar")
    rgb = decode_video(render(t, tmp_path / "ar.mp4"), w, h, "rgb24").astype(int)

    def yellow_x(frame: int) -> float | None:
        f = rgb[frame]
        mask = (f[:, :, 0] > 200) & (f[:, :, 1] > 160) & (f[:, :, 2] < 110)
        return float(np.nonzero(mask)[1].mean()) if mask.sum() > 20 else None

    xs = [yellow_x(round(wd.start * fps) + 3) for wd in words]
    assert all(x is not None for x in xs), xs
    assert xs[0] > xs[1] > xs[2], xs  # the first word spoken is the rightmost


def test_exported_subtitles_and_poster_follow_the_language(tmp_path: Path) -> None:
    from PIL import Image

    from engine.contracts import Narration, SceneAudio, Word
    from engine.exports import Timing, captions, poster, srt_text
    from tests.test_compose_util import solid_image

    tokens = [t.display for s in prepare_text("古い灯台は百二十年もの間、その秘密を守り続けた。", language="ja")
              for t in s.tokens]
    words = tuple(Word(t, 0.3 * i, 0.3 * i + 0.25) for i, t in enumerate(tokens))
    narration = Narration((SceneAudio(tmp_path / "a.wav", 0.3 * len(words) + 1, words),), 22050)
    cues = captions(narration, Timing((0.0,), (0.3 * len(words) + 1,)), "ja")
    assert cues and all(" " not in c.text for c in cues)
    assert "古い灯台は" in srt_text(cues)
    image = solid_image(tmp_path / "grey.png", (90, 90, 90))
    for code, title in (("zh", "那座古老的灯塔守护了它的秘密整整一百二十年为什么没有人知道"), ("ar", "سر المنارة القديمة")):
        out = poster(image, title, (640, 360), tmp_path / f"{code}.jpg", code)
        with Image.open(out) as im:
            rgb = np.asarray(im.convert("RGB")).astype(int)
        white = (rgb > 220).all(axis=2)
        assert white.sum() > 500  # the title is drawn
        cols = np.nonzero(white.any(axis=0))[0]
        assert cols.min() > 0 and cols.max() < 639  # wrapped inside the frame, not run off its edge
