"""Stage progress maps into the stage's quarter, slices nest, and cancel raises."""

from __future__ import annotations

import threading

import pytest

from engine.errors import JobCancelled
from engine.progress import StageProgress


def test_fractions_map_into_the_stage_range_and_slices_nest() -> None:
    seen: list[tuple[str, float, str]] = []
    p = StageProgress("narration", lambda st, pct, msg: seen.append((st, pct, msg)))
    p(0.5, "half")
    p(7, "clamped")
    scene = p.sub(0.5, 1.0)
    scene(0.5, "scene half")
    scene.sub(0.0, 0.5)(1.0, "nested")
    assert seen == [
        ("narration", 62.5, "half"),
        ("narration", 75.0, "clamped"),
        ("narration", 68.75, "scene half"),
        ("narration", 68.75, "nested"),
    ]
    with pytest.raises(ValueError):
        StageProgress("painting")


def test_check_cancelled_raises_once_the_flag_is_set() -> None:
    flag = threading.Event()
    p = StageProgress("video", cancel=flag)
    p.sub(0, 1).check_cancelled()
    flag.set()
    with pytest.raises(JobCancelled):
        p.sub(0, 1).check_cancelled()
