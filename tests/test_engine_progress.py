"""Stage progress maps into the stage's quarter, slices nest, and cancel raises."""

from __future__ import annotations

import threading

import pytest

from engine.errors import JobCancelled
from engine.progress import STAGE_RANGES, OverallProgress, StageProgress


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


def test_overlapping_stages_give_one_weighted_number_that_never_goes_back() -> None:
    seen: list[tuple[str, float, str]] = []
    overall = OverallProgress(lambda st, pct, msg: seen.append((st, pct, msg)), interval=0.0)
    overall.update("script", 1.0, "Script ready")
    overall.finish("script")
    overall.update("images", 0.5, "Creating scene 3 of 6")
    overall.update("narration", 0.8, "Narrating scene 5 of 6")
    overall.update("images", 0.4, "Creating scene 3 of 6")  # a stage's own step back never shows
    overall.update("video", 0.2, "Rendering video 20%")
    assert seen[-1] == ("narration", 25 + 12.5 + 20 + 5, "Creating scene 3 of 6 · Narrating scene 5 of 6 · "
                        "Rendering video 20%")
    overall.finish("narration")
    assert seen[-1][2] == "Creating scene 3 of 6 · Rendering video 20%"
    overall.finish("images")
    overall.update("video", 1.0, "Video ready")
    overall.finish("video")
    numbers = [pct for _, pct, _ in seen]
    assert numbers == sorted(numbers) and numbers[-1] == 100
    for stage, pct, _ in seen:  # the contract: each report lies within its stage's range
        lo, hi = STAGE_RANGES[stage]
        assert lo <= pct <= hi
    # on a boundary the earliest unfinished stage is named
    boundary: list[str] = []
    o = OverallProgress(lambda st, pct, msg: boundary.append(st), interval=0.0)
    o.finish("script")
    assert boundary == ["images"]


def test_overall_progress_reports_at_most_every_interval_except_stage_changes() -> None:
    seen: list[float] = []
    overall = OverallProgress(lambda st, pct, msg: seen.append(pct), interval=60.0)
    overall.update("images", 0.1, "a")  # a stage starting: reported
    for k in range(2, 9):
        overall.update("images", k / 10, "b")  # within the interval: held back
    overall.finish("images")  # a stage finishing: reported
    assert seen == [2.5, 25.0]  # images alone: a quarter of the whole
