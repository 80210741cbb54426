"""Draft art: every style and story type, deterministic, visibly a draft, and fast."""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine.images.draft import PALETTES, TREATMENTS, draft_image
from engine.presets import IMAGE_STYLES, STORY_TYPES

PROMPT = "a lonely lighthouse on a cliff at night, storm clouds"


def test_every_style_and_story_type_has_a_treatment() -> None:
    assert set(TREATMENTS) == set(IMAGE_STYLES)
    assert set(PALETTES) == set(STORY_TYPES)


@pytest.mark.parametrize("style", sorted(IMAGE_STYLES))
def test_draft_for_every_style(style: str) -> None:
    img = draft_image(PROMPT, style=style, story_type="mystery", size=(336, 192), seed=5, figures=2)
    assert img.mode == "RGB" and img.size == (336, 192)
    px = np.asarray(img).astype(np.float32)
    assert px.std() > 10  # a picture, not a flat fill
    if style == "noir":  # black and white, apart from the banner
        body = px[60:150]
        assert np.abs(body[..., 0] - body[..., 2]).mean() < 3


def test_styles_and_story_types_look_different() -> None:
    imgs = {
        s: np.asarray(draft_image(PROMPT, style=s, story_type="fantasy", size=(200, 112), seed=1))
        for s in IMAGE_STYLES
    }
    names = sorted(imgs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.abs(imgs[a].astype(int) - imgs[b].astype(int)).mean() > 2, (a, b)
    means = {
        t: np.asarray(draft_image(PROMPT, style="cinematic", story_type=t, size=(200, 112), seed=1)).mean()
        for t in ("scary_horror", "fun_facts")
    }
    assert means["fun_facts"] > means["scary_horror"] + 20  # bright vs dark mood


def test_same_seed_same_pixels_other_seed_differs() -> None:
    a = draft_image(PROMPT, style="watercolor", story_type="bedtime", size=(160, 90), seed=9)
    b = draft_image(PROMPT, style="watercolor", story_type="bedtime", size=(160, 90), seed=9)
    c = draft_image(PROMPT, style="watercolor", story_type="bedtime", size=(160, 90), seed=10)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_unknown_names_fall_back_and_banner_marks_a_draft() -> None:
    img = draft_image("", style="pastel dreams", story_type="ghost story", size=(640, 360), seed=3)
    px = np.asarray(img)
    corner = px[:60, :320].reshape(-1, 3).astype(int)
    banner = (corner[:, 0] > 230) & (np.abs(corner[:, 1] - 200) < 25) & (corner[:, 2] < 40)
    assert banner.sum() > 50  # the yellow "DRAFT" banner is drawn


def test_ten_full_size_drafts_in_a_few_seconds() -> None:
    # CPU time, not wall time: other work on a shared machine must not make this flaky
    started = time.process_time()
    for i in range(10):
        style = sorted(IMAGE_STYLES)[i]
        draft_image(
            f"{PROMPT} {i}", style=style, story_type="sci_fi", size=(1344, 768), seed=i, figures=i % 3
        )
    elapsed = time.process_time() - started
    assert elapsed < 8.0, f"10 drafts at 1344x768 took {elapsed:.1f} s of CPU"
