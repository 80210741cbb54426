"""engine.tempnames: the one owner of temporary names, its atomic writes and the start-up sweep."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from engine import tempnames
from engine.tempnames import (
    atomic_folder,
    atomic_path,
    is_part_name,
    part_path,
    resume_part_path,
    sweep,
    write_text_atomic,
)


def test_names_are_hidden_beside_the_final_name_and_recognised(tmp_path: Path) -> None:
    final = tmp_path / "videos" / "story.mp4"
    a, b = part_path(final), part_path(final)
    assert a != b and a.parent == final.parent
    assert a.name.startswith(".story.mp4.part-")
    assert resume_part_path(final).name == ".story.mp4.part"
    assert all(is_part_name(p.name) for p in (a, b, resume_part_path(final)))
    # what earlier versions left: mkdtemp's .STEM.<random>.part folders, and NAME.part in job folders
    assert is_part_name(".video_20260101_120000.k2j_x9.part")
    assert is_part_name("scene_01.wav.part", legacy=True)
    assert not is_part_name("movie.mp4.part"), "a browser's download in a shared folder is not ours"
    assert not any(is_part_name(n, legacy=True) for n in ("story.mp4", ".lock", "partner.png", ".parts",
                                                          "a.party"))


def test_atomic_path_replaces_in_one_step_or_leaves_nothing(tmp_path: Path) -> None:
    final = tmp_path / "sub" / "script.json"
    write_text_atomic(final, "first")
    assert final.read_text() == "first"
    with pytest.raises(RuntimeError):
        with atomic_path(final) as tmp:
            tmp.write_text("half a")
            raise RuntimeError("killed half way")
    assert final.read_text() == "first"
    assert sorted(p.name for p in final.parent.iterdir()) == ["script.json"]


def test_atomic_folder_swaps_a_whole_folder_in(tmp_path: Path) -> None:
    final = tmp_path / "model"
    final.mkdir()
    (final / "old.bin").write_bytes(b"old")
    with atomic_folder(final) as tmp:
        (tmp / "new.bin").write_bytes(b"new")
        assert not (final / "new.bin").exists()
    assert sorted(p.name for p in final.iterdir()) == ["new.bin"]
    with pytest.raises(ValueError):
        with atomic_folder(final) as tmp:
            (tmp / "broken.bin").write_bytes(b"x")
            raise ValueError("bad archive")
    assert sorted(p.name for p in final.iterdir()) == ["new.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_sweep_removes_leftover_files_and_folders_and_nothing_else(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    render_dir = videos / ".video_20260101_120000.ab12cd.part"  # a render killed mid-way
    (render_dir / "tracks").mkdir(parents=True)
    (render_dir / "tracks" / "video.mp4").write_bytes(b"x" * 100)
    new_style = tempnames.make_part_dir(videos / "story.mp4")
    (new_style / "story.mp4").write_bytes(b"y")
    (videos / ".story.mp4.part-0a1b2c3d4e").write_bytes(b"z")
    keep = [videos / "story.mp4", videos / "notes.txt", videos / "download.mp4.part"]
    for p in keep:
        p.write_bytes(b"keep")
    images = tmp_path / "jobs" / "abc" / "images"
    images.mkdir(parents=True)
    (images / ".scene_01.png.part-99").write_bytes(b"p")
    (images / "scene_02.png.part").write_bytes(b"p")
    (images / "scene_01.png").write_bytes(b"png")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.part").write_bytes(b"not ours")
    (images / "link").symlink_to(outside, target_is_directory=True)

    report = sweep(videos, recursive=False) + sweep(tmp_path / "jobs", legacy=True)

    assert report.failed == ()
    assert {p.name for p in report.removed} == {
        render_dir.name, new_style.name, ".story.mp4.part-0a1b2c3d4e", ".scene_01.png.part-99",
        "scene_02.png.part"}
    assert sorted(p.name for p in videos.iterdir()) == ["download.mp4.part", "notes.txt", "story.mp4"]
    assert sorted(p.name for p in images.iterdir()) == ["link", "scene_01.png"]
    assert (outside / "x.part").exists(), "a symlinked folder is not followed"
    assert sweep(tmp_path / "missing").removed == ()


def test_sweep_logs_what_it_cannot_remove_and_never_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stuck = tmp_path / ".video_1.part-1"
    stuck.mkdir()
    (stuck / "video.mp4").write_bytes(b"x")
    gone = tmp_path / ".script.json.part-2"
    gone.write_text("{")

    def refuse(path: str, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(shutil, "rmtree", refuse)
    with caplog.at_level(logging.WARNING, logger="engine.tempnames"):
        report = sweep(tmp_path)
    assert report.removed == (gone,)
    assert [p for p, _ in report.failed] == [stuck]
    assert "Permission denied" in report.failed[0][1]
    assert any(str(stuck) in r.getMessage() and "Permission denied" in r.getMessage() for r in caplog.records)
    assert stuck.exists() and not os.path.lexists(gone)
