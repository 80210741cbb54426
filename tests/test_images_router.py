"""The images stage without SDXL weights: every image_mode, odd inputs, resume, cancel, progress."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.contracts import ImageSource, Scene, Script
from engine.errors import BadInput, JobCancelled
from engine.images.router import DRAFT_NOTE, ImageRouter
from engine.progress import StageProgress
from engine.spec import AspectRatio, Character, ImageMode, JobSpec
from engine.tempnames import is_part_name

SIZE = (160, 96)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []
        self.notes: list[str] = []
        self.cancel = threading.Event()

    def progress(self) -> StageProgress:
        return StageProgress(
            "images",
            sink=lambda stage, pct, msg: self.events.append((pct, msg)),
            detail=self.notes.append,
            cancel=self.cancel,
        )


def script(n: int) -> Script:
    prompts = [
        "a dark forest at night",
        "a rainy city street",
        "a castle on a cliff",
        "a desert with camels",
        "waves on a stormy sea",
        "an empty room",
        "a forest path",
        "a quiet library",
    ]
    return Script(
        title="Test",
        characters=(Character("Ada", "a woman in a red coat"),),
        scenes=tuple(
            Scene(f"Narration {i}.", prompts[i % len(prompts)], ("Ada",) if i == 0 else ()) for i in range(n)
        ),
    )


def spec(mode: ImageMode, **kw: object) -> JobSpec:
    return JobSpec(topic="t", image_mode=mode, seed=77, **kw)  # type: ignore[arg-type]


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def sources(workdir: Path) -> list[dict]:
    return json.loads((workdir / "images" / "sources.json").read_text())


@pytest.fixture
def home(tmp_path: Path) -> Path:
    d = tmp_path / "home"
    d.mkdir()
    return d


@pytest.fixture
def odd_images(home: Path) -> list[Path]:
    """PNG with alpha, 16-bit PNG, CMYK JPEG, EXIF-rotated JPEG, a small GIF."""
    rgba = np.zeros((90, 150, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 128
    Image.fromarray(rgba, "RGBA").save(home / "alpha.png")
    Image.fromarray(np.full((90, 150), 50000, np.uint16)).save(home / "deep16.png")
    Image.new("CMYK", (150, 90), (255, 0, 0, 0)).save(home / "cmyk.jpg")
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.new("RGB", (150, 90), "yellow").save(home / "rotated.jpg", exif=exif)
    Image.new("P", (48, 40), 3).save(home / "small.gif")
    return [home / n for n in ("alpha.png", "deep16.png", "cmyk.jpg", "rotated.jpg", "small.gif")]


@pytest.fixture
def stock(tmp_path: Path) -> Path:
    root = tmp_path / "stock"
    root.mkdir()
    for name, colour in [
        ("dark_forest_night.png", "darkgreen"),
        ("city_street_rain.jpg", "gray"),
        ("old_castle.png", "brown"),
        ("ocean_waves.png", "blue"),
    ]:
        Image.new("RGB", (200, 120), colour).save(root / name)
    (root / "old_castle.txt").write_text("cliff, fortress")
    return root


def router(stock_dir: Path, home: Path) -> ImageRouter:
    return ImageRouter(sdxl=None, stock_dir=stock_dir, allowed_roots=(home,), size=SIZE)


def test_router_is_an_image_source(tmp_path: Path) -> None:
    r = ImageRouter(sdxl=None, stock_dir=tmp_path, allowed_roots=(tmp_path,))
    assert isinstance(r, ImageSource) and r.name == "draft"


def test_ai_only_without_sdxl_draws_drafts_and_says_so(tmp_path: Path, home: Path) -> None:
    rec = Recorder()
    out = router(tmp_path / "none", home).images(
        script(4), spec(ImageMode.AI_ONLY), tmp_path / "job", progress=rec.progress()
    )
    assert out == [tmp_path / "job" / "images" / f"scene_0{i}.png" for i in range(1, 5)]
    for p in out:
        with Image.open(p) as im:
            assert im.size == SIZE and im.mode == "RGB"
    assert [s["source"] for s in sources(tmp_path / "job")] == ["draft"] * 4
    assert DRAFT_NOTE in rec.notes
    pcts = [p for p, _ in rec.events]
    assert pcts == sorted(pcts) and 25.0 <= pcts[0] and pcts[-1] == 50.0
    for k in range(1, 5):
        assert any(m == f"Creating scene {k} of 4" for _, m in rec.events)
    # each scene its own picture
    assert not np.array_equal(pixels(out[0]), pixels(out[1]))


def test_default_size_is_the_sdxl_bucket(tmp_path: Path, home: Path) -> None:
    r = ImageRouter(sdxl=None, stock_dir=tmp_path, allowed_roots=(home,))
    out = r.images(
        script(1),
        spec(ImageMode.AI_ONLY, aspect_ratio=AspectRatio.PORTRAIT),
        tmp_path / "job",
        progress=Recorder().progress(),
    )
    with Image.open(out[0]) as im:
        assert im.size == (768, 1344)


def test_manual_only_normalises_odd_inputs_and_reuses_cyclically(
    tmp_path: Path, home: Path, odd_images: list[Path]
) -> None:
    job = tmp_path / "job"
    s = spec(ImageMode.MANUAL_ONLY, manual_image_paths=tuple(str(p) for p in odd_images))
    out = router(tmp_path / "none", home).images(script(7), s, job, progress=Recorder().progress())
    assert len(out) == 7
    for p in out:
        with Image.open(p) as im:
            assert im.mode == "RGB" and im.width >= SIZE[0] and im.height >= SIZE[1]
    alpha, deep, cmyk, rotated, small = (pixels(p) for p in out[:5])
    assert tuple(alpha[10, 10]) == (128, 0, 0)  # half-transparent red over black
    assert abs(int(deep[10, 10, 0]) - round(50000 / 257)) <= 1
    assert cmyk[10, 10, 0] < 60 and cmyk[10, 10, 1] > 150  # cyan-ish
    assert rotated.shape[0] > rotated.shape[1]  # EXIF orientation 8 -> portrait
    assert small.shape[1] >= SIZE[0]
    assert np.array_equal(pixels(out[5]), alpha) and np.array_equal(pixels(out[6]), deep)
    rows = sources(job)
    assert [r["source"] for r in rows] == ["manual"] * 7
    assert [r["repeat"] for r in rows] == [0, 0, 0, 0, 0, 1, 1]
    assert rows[5]["origin"] == str(odd_images[0].resolve())


@pytest.mark.parametrize("case", ["outside", "tiny", "missing", "none"])
def test_manual_only_refuses_bad_paths_naming_them(tmp_path: Path, home: Path, case: str) -> None:
    outside = tmp_path / "elsewhere.png"
    Image.new("RGB", (64, 64)).save(outside)
    Image.new("RGB", (8, 8)).save(home / "tiny.png")
    paths = {
        "outside": (str(home / ".." / "elsewhere.png"),),
        "tiny": (str(home / "tiny.png"),),
        "missing": (str(home / "gone.png"),),
        "none": (),
    }[case]
    with pytest.raises(BadInput) as err:
        router(tmp_path / "none", home).images(
            script(2),
            spec(ImageMode.MANUAL_ONLY, manual_image_paths=paths),
            tmp_path / "job",
            progress=Recorder().progress(),
        )
    if paths:
        assert paths[0] in err.value.message
    else:
        assert "manual_image_paths" in err.value.message
    assert not list((tmp_path / "job").glob("images/scene_*.png"))


def test_stock_only_ranks_by_keywords_and_scene_without_repeats(
    tmp_path: Path, home: Path, stock: Path
) -> None:
    job = tmp_path / "job"
    rec = Recorder()
    out = router(stock, home).images(script(6), spec(ImageMode.STOCK_ONLY), job, progress=rec.progress())
    names = [Path(r["origin"]).name for r in sources(job)]
    # forest, city street, castle (its sidecar says "cliff"), desert (no match: the one left),
    # then a new round
    assert names[:3] == ["dark_forest_night.png", "city_street_rain.jpg", "old_castle.png"]
    assert sorted(names[:4]) == sorted(p.name for p in stock.glob("*.*") if p.suffix != ".txt")
    assert len(set(names[:4])) == 4 and len(out) == 6
    assert names[4] == "ocean_waves.png"  # a new round starts, best match first
    assert any("Stock library: 4 images" in n for n in rec.notes)
    kw = router(stock, home).images(
        script(1),
        spec(ImageMode.STOCK_ONLY, stock_keywords=("ocean",)),
        tmp_path / "job2",
        progress=Recorder().progress(),
    )
    assert Path(sources(tmp_path / "job2")[0]["origin"]).name == "ocean_waves.png" and len(kw) == 1


def test_stock_only_with_empty_library_is_refused(tmp_path: Path, home: Path) -> None:
    with pytest.raises(BadInput, match="No stock images in"):
        router(tmp_path / "empty", home).images(
            script(2), spec(ImageMode.STOCK_ONLY), tmp_path / "job", progress=Recorder().progress()
        )


def test_broken_stock_image_is_skipped(tmp_path: Path, home: Path, stock: Path) -> None:
    (stock / "dark_forest_night.png").write_bytes(b"not really a png")
    rec = Recorder()
    router(stock, home).images(
        script(1), spec(ImageMode.STOCK_ONLY), tmp_path / "job", progress=rec.progress()
    )
    assert Path(sources(tmp_path / "job")[0]["origin"]).name != "dark_forest_night.png"
    assert any("Skipped a stock image" in n and "dark_forest_night.png" in n for n in rec.notes)


def test_mixed_uses_manual_then_stock_matches_then_drafts(
    tmp_path: Path, home: Path, stock: Path, odd_images: list[Path]
) -> None:
    s = spec(ImageMode.MIXED, manual_image_paths=(str(odd_images[0]),))
    sc = Script(
        "m",
        (
            Scene("a", "a dark forest"),
            Scene("b", "a forest path"),
            Scene("c", "a city street"),
            Scene("d", "an astronaut on the moon"),
            Scene("e", "a forest at dawn"),
        ),
    )
    router(stock, home).images(sc, s, tmp_path / "job", progress=Recorder().progress())
    rows = sources(tmp_path / "job")
    assert [r["source"] for r in rows] == ["manual", "stock", "stock", "draft", "draft"]
    assert Path(rows[1]["origin"]).name == "dark_forest_night.png"
    assert Path(rows[2]["origin"]).name == "city_street_rain.jpg"


def test_resume_keeps_finished_images_and_redoes_missing_or_broken(tmp_path: Path, home: Path) -> None:
    job = tmp_path / "job"
    r = router(tmp_path / "none", home)
    first = [
        pixels(p) for p in r.images(script(4), spec(ImageMode.AI_ONLY), job, progress=Recorder().progress())
    ]
    images = job / "images"
    Image.new("RGB", SIZE, "blue").save(images / "scene_02.png")  # a file its sidecar's key did not make
    (images / "scene_03.png").unlink()
    data = (images / "scene_04.png").read_bytes()
    (images / "scene_04.png").write_bytes(data[: len(data) // 3])  # torn write
    rec = Recorder()
    out = r.images(script(4), spec(ImageMode.AI_ONLY), job, progress=rec.progress())
    assert np.array_equal(pixels(out[0]), first[0])
    assert np.array_equal(pixels(out[1]), first[1])  # reuse is by key, never by the file merely existing
    assert np.array_equal(pixels(out[2]), first[2]) and np.array_equal(pixels(out[3]), first[3])
    assert [s["source"] for s in sources(job)] == ["draft", "draft", "draft", "draft"]
    assert sum("already made" in m for _, m in rec.events) == 1
    assert not [p for p in images.iterdir() if is_part_name(p.name)]


def test_cancel_stops_between_images(tmp_path: Path, home: Path) -> None:
    rec = Recorder()

    def sink(stage: str, pct: float, msg: str) -> None:
        rec.events.append((pct, msg))
        if msg == "Creating scene 2 of 5":
            rec.cancel.set()

    p = StageProgress("images", sink=sink, cancel=rec.cancel)
    with pytest.raises(JobCancelled):
        router(tmp_path / "none", home).images(
            script(5), spec(ImageMode.AI_ONLY), tmp_path / "job", progress=p
        )
    made = sorted(x.name for x in (tmp_path / "job" / "images").glob("scene_*.png"))
    assert made == ["scene_01.png", "scene_02.png"]


def test_works_inside_a_slice_of_the_stage(tmp_path: Path, home: Path) -> None:
    rec = Recorder()
    part = rec.progress().sub(0.5, 1.0)
    router(tmp_path / "none", home).images(
        script(2), spec(ImageMode.AI_ONLY), tmp_path / "job", progress=part
    )
    pcts = [p for p, _ in rec.events]
    assert pcts and min(pcts) == 37.5 and max(pcts) == 50.0 and pcts == sorted(pcts)


def test_sources_written_before_scene_notes_existed_are_still_read(tmp_path: Path, home: Path) -> None:
    job = tmp_path / "job"
    r = router(tmp_path / "none", home)
    r.images(script(3), spec(ImageMode.AI_ONLY), job, progress=Recorder().progress())
    first = sources(job)
    assert [s["note"] for s in first] == ["", "", ""]  # drafts because no SDXL is installed: no failure
    older = [{k: v for k, v in s.items() if k != "note"} for s in first]  # as an older version wrote it
    (job / "images" / "sources.json").write_text(json.dumps(older))
    (job / "images" / "scene_03.png").unlink()
    rec = Recorder()
    r.images(script(3), spec(ImageMode.AI_ONLY), job, progress=rec.progress())
    assert sources(job) == first  # the kept scenes keep their records, scene 3 is made again
    assert sum("already made" in m for _, m in rec.events) == 2
