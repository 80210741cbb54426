"""The built-in catalog of scripts/download_models.py: profiles, file choices, pins, --list."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.download_script import dl

cat = sys.modules["fetchlib.catalog"]


@pytest.fixture(scope="module")
def catalog() -> Any:
    return cat.builtin()


def test_profiles_are_sized_to_the_card(catalog: Any) -> None:
    names = {p: {e.component: e.name for e in catalog.select(p)} for p in ("lite", "standard", "quality")}
    assert names["lite"] == {"llm": "llama-3.2-3b-instruct-q4_k_m", "sdxl": "sdxl-lightning-4step",
                             "tts": "vctk-vits"}
    assert names["standard"] == {"llm": "llama-3.1-8b-instruct-q4_k_m", "sdxl": "sdxl-base-1.0",
                                 "tts": "vctk-vits", "ip_adapter": "ip-adapter-plus-face-sdxl-vit-h"}
    assert names["quality"] == {**names["standard"], "xtts": "xtts-v2"}
    # a component the profile lacks still resolves (xtts with lite)
    assert [e.name for e in catalog.select("lite", ("xtts",))] == ["xtts-v2"]
    lite = sum(e.approx_size for e in catalog.select("lite"))
    standard = sum(e.approx_size for e in catalog.select("standard"))
    assert lite < standard < 16e9  # the IP-Adapter and its ViT-H encoder add ~3.4 GB to standard


def test_sdxl_entries_fetch_only_fp16_safetensors(catalog: Any) -> None:
    for name in ("sdxl-base-1.0", "sdxl-lightning-4step"):
        e = catalog.entry(name)
        weights = [f for f in e.files if f.remote.endswith((".safetensors", ".bin", ".ckpt"))]
        assert all(f.remote.endswith(".safetensors") for f in weights)
        base = [f for f in weights if f.repo == "stabilityai/stable-diffusion-xl-base-1.0"]
        assert base and all(".fp16." in f.remote for f in base)
        assert all(".fp16." not in f.local for f in weights)  # loads without variant=
        assert {f.local.split("/")[0] for f in weights} == {"unet", "vae", "text_encoder", "text_encoder_2"}
        assert e.files[-1].local == "model_index.json"  # the completeness marker comes last
        vae = [f for f in e.files if f.local.startswith("vae/")]
        assert {f.repo for f in vae} == {"madebyollin/sdxl-vae-fp16-fix"}
        assert e.main_file == "unet/diffusion_pytorch_model.safetensors"
    lightning = catalog.entry("sdxl-lightning-4step")
    assert any(f.repo == "ByteDance/SDXL-Lightning" and f.remote == "sdxl_lightning_4step_unet.safetensors"
               for f in lightning.files)
    assert lightning.settings["steps"] == 4 and lightning.settings["guidance_scale"] == 0.0
    assert lightning.settings["scheduler_kwargs"] == {"timestep_spacing": "trailing"}


def test_pins_urls_and_licences(catalog: Any) -> None:
    for e in catalog.entries.values():
        assert e.licence and e.licence_url.startswith("https://")
        for f in e.files:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+", f.repo), f.repo
            assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256)
            assert f.size > 0
    llm = catalog.entry("llama-3.1-8b-instruct-q4_k_m").files[0]
    assert llm.sha256 and llm.revision != "main" and llm.size == 4_920_739_200
    assert llm.url("https://huggingface.co", "https://github.com") == (
        "https://huggingface.co/unsloth/Llama-3.1-8B-Instruct-GGUF/resolve/"
        "600b0020115fd6b17f0752848fe7b5a1be686bcd/Llama-3.1-8B-Instruct-Q4_K_M.gguf")
    vits = catalog.entry("vctk-vits").files[0]
    assert vits.url("https://huggingface.co", "https://github.com") == (
        "https://github.com/coqui-ai/TTS/releases/download/v0.6.1_models/tts_models--en--vctk--vits.zip")
    xtts = catalog.entry("xtts-v2")
    assert xtts.non_commercial
    assert {f.remote for f in xtts.files} == {"model.pth", "config.json", "vocab.json", "speakers_xtts.pth"}
    assert xtts.files[-1].remote == "config.json"  # config.json marks a finished Coqui folder


def test_catalog_validation_names_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"entries": [{
        "name": "x", "kind": "video", "component": "llm", "title": "", "licence": "", "licence_url": "",
        "path": "llm/x.gguf", "files": [{"repo": "a/b", "remote": "x.gguf"}]}]}))
    with pytest.raises(cat.CatalogError, match="'x'.*kind 'video'"):
        cat.extend(cat.builtin(), bad)
    bad.write_text('{"profiles": {"p": {"llm": "nope"}}}')
    with pytest.raises(cat.CatalogError, match="profile 'p'.*'nope'"):
        cat.extend(cat.builtin(), bad)


@pytest.mark.parametrize("gib, profile", [(None, "lite"), (8.0, "lite"), (12.0, "standard"),
                                          (16.0, "standard"), (24.0, "quality")])
def test_auto_profile(gib: float | None, profile: str) -> None:
    assert dl.auto_profile(gib)[0] == profile


def test_list_shows_profiles_models_and_licences(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert dl.main(["--list", "--models-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for word in ("lite", "standard", "quality", "sdxl-base-1.0", "xtts-v2", "Llama 3.1 Community License",
                 "CreativeML Open RAIL++-M", "Apache-2.0"):
        assert word in out
    assert not list(tmp_path.iterdir())
