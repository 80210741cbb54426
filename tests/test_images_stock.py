"""The offline stock library: indexing (names, folders, sidecars), ranking, no repeats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from engine.images.stock import StockLibrary, StockPicker, terms


def make(path: Path, colour: str = "gray") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (48, 32), colour).save(path)
    return path


@pytest.fixture
def library(tmp_path: Path) -> StockLibrary:
    root = tmp_path / "stock"
    make(root / "dark-forest_at_night.jpg")
    make(root / "city" / "rainy_street.png")
    make(root / "IMG_0001.png")
    (root / "IMG_0001.txt").write_text("lighthouse, stormy sea, waves")
    make(root / "DSC1234.webp")
    (root / "DSC1234.json").write_text(
        json.dumps({"tags": ["castle", "ruins"], "description": "A misty castle"})
    )
    make(root / "list.png")
    (root / "list.json").write_text(json.dumps(["desert", "camels"]))
    make(root / ".hidden" / "forest.png")
    (root / "readme.md").write_text("not an image")
    return StockLibrary.scan(root)


def tags_of(lib: StockLibrary, name: str) -> frozenset[str]:
    return next(it.tags for it in lib.items if it.path.name == name)


def test_terms_fold_plurals_and_drop_noise() -> None:
    assert terms("Forests of the NIGHT, img_0042 glass") == {"forest", "night", "glass"}


def test_index_reads_names_folders_and_sidecars(library: StockLibrary) -> None:
    names = sorted(it.path.name for it in library.items)
    assert names == [
        "DSC1234.webp",
        "IMG_0001.png",
        "dark-forest_at_night.jpg",
        "list.png",
        "rainy_street.png",
    ]
    assert tags_of(library, "dark-forest_at_night.jpg") == {"dark", "forest", "night"}
    assert tags_of(library, "rainy_street.png") == {"city", "rainy", "street"}
    assert {"lighthouse", "stormy", "sea", "wave"} <= tags_of(library, "IMG_0001.png")
    assert {"castle", "ruin", "misty"} <= tags_of(library, "DSC1234.webp")
    assert {"desert", "camel"} <= tags_of(library, "list.png")


def test_missing_folder_is_an_empty_library(tmp_path: Path) -> None:
    assert len(StockLibrary.scan(tmp_path / "nope")) == 0


def test_ranking_prefers_keywords_then_prompt_words(library: StockLibrary) -> None:
    picker = StockPicker.for_job(library, ["castle"])
    ranked = picker.ranked("a stormy night in the forest")
    assert ranked[0][1].path.name == "DSC1234.webp"  # a keyword match beats any number of prompt words
    assert ranked[1][1].path.name == "dark-forest_at_night.jpg"
    plain = StockPicker.for_job(library, [])
    assert plain.pick("waves crash on the lighthouse").path.name == "IMG_0001.png"


def test_no_repeats_until_exhausted(library: StockLibrary) -> None:
    picker = StockPicker.for_job(library, [])
    first_round = [picker.pick("forest at night").path.name for _ in range(len(library))]
    assert len(set(first_round)) == len(library)
    assert first_round[0] == "dark-forest_at_night.jpg"
    # exhausted: a new round starts with the best match again
    assert picker.pick("forest at night").path.name == "dark-forest_at_night.jpg"


def test_require_match_returns_none_without_a_shared_word(library: StockLibrary) -> None:
    picker = StockPicker.for_job(library, [])
    assert picker.pick("an astronaut on the moon", require_match=True) is None
    assert picker.pick("castle", require_match=True).path.name == "DSC1234.webp"
    assert picker.pick("castle", require_match=True) is None  # the only match is used up
    skipped = picker.pick("rainy street")
    picker.skip(skipped)
    assert all(it.path != skipped.path for _, it in picker.ranked("rainy street"))
