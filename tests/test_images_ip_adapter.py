"""IP-Adapter on the real SDXL loading and generation code: a tiny random SDXL and a tiny random
IP-Adapter Plus (Resampler + CLIP vision encoder) saved offline and loaded with load_ip_adapter."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.images.ip_adapter import (
    DEFAULT_NAME,
    SHOT_SCALES,
    WEIGHT_NAME,
    Reference,
    adapter_near_model,
    adapter_vram_bytes,
    find_adapter,
    shot_of,
)
from engine.images.prompts import ScenePrompt
from engine.images.sdxl import SDXLSource
from engine.progress import StageProgress
from tests import tiny_models

SIZE = (64, 64)
PROMPT = ScenePrompt(0, "a detective in the rain at night", "blurry", 5)

#: tests/tiny_models.py: one torch thread (autouse); models/ with a tiny SDXL and a tiny IP-Adapter.
one_torch_thread = tiny_models.one_torch_thread
models = tiny_models.models


@pytest.fixture(scope="module")
def portraits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(3)
    out = []
    for name in ("ada", "bob"):
        p = folder / f"{name}.png"
        Image.fromarray(rng.integers(0, 255, (96, 80, 3), dtype=np.uint8), "RGB").save(p)
        out.append(p)
    return out[0], out[1]


def notes_progress(notes: list[str]) -> StageProgress:
    return StageProgress("images", detail=notes.append)


def source(models: Path, **kw: object) -> SDXLSource:
    kw.setdefault("steps", 2)
    return SDXLSource(models / "sdxl" / "tiny", device="cpu", size=SIZE, **kw)  # type: ignore[arg-type]


def gen(src: SDXLSource, reference: Reference | None = None, prompt: ScenePrompt = PROMPT) -> np.ndarray:
    return np.asarray(src.generate(prompt, size=SIZE, progress=notes_progress([]), reference=reference))


def one(p: Path, key: str = "ada:1", name: str = "Ada", scale: float = 0.7) -> Reference:
    return Reference((key,), (p,), (name,), "close-up", scale)


def test_adapter_is_found_beside_the_model_and_loads_into_the_tiny_sdxl(models: Path) -> None:
    files = find_adapter(models)
    assert files is not None and files.folder.name == DEFAULT_NAME and files.weights.name == WEIGHT_NAME
    assert adapter_near_model(models / "sdxl" / "tiny") == files
    src = source(models, keep_loaded=True)
    assert src.ip_adapter == files
    notes: list[str] = []
    src.load(notes_progress(notes))
    assert src.adapter_loaded and src.adapter_failed == ""
    pipe = src._pipe
    assert type(pipe.image_encoder).__name__ == "CLIPVisionModelWithProjection"
    layer = pipe.unet.encoder_hid_proj.image_projection_layers[0]
    assert type(layer).__name__ == "IPAdapterPlusImageProjection"
    assert pipe.feature_extractor.crop_size["height"] == pipe.image_encoder.config.image_size
    assert any("IP-Adapter ip-adapter-plus-face-sdxl-vit-h" in n for n in notes)
    src.release()
    assert not src.adapter_loaded


def test_portrait_changes_pixels_same_inputs_same_pixels_embeddings_once(
    models: Path, portraits: tuple[Path, Path]
) -> None:
    ada, bob = portraits
    src = source(models, keep_loaded=True)
    plain = gen(src)
    first = gen(src, one(ada))
    again = gen(src, one(ada))
    assert not np.array_equal(first, plain)  # the portrait conditions the image
    assert np.array_equal(first, again)  # same inputs, same pixels
    assert src.embeds_computed == 1  # the second scene reused the embeddings
    weaker = gen(src, one(ada, scale=SHOT_SCALES["wide"]))
    assert not np.array_equal(weaker, first) and src.embeds_computed == 1
    other = gen(src, one(bob, key="bob:1", name="Bob"))
    assert not np.array_equal(other, first) and src.embeds_computed == 2
    src.finish()  # the end of the stage forgets them (a replaced portrait is read again next job)
    gen(src, one(ada))
    assert src.embeds_computed == 3
    src.release()


def test_scene_without_characters_is_exactly_the_plain_pipeline(
    models: Path, portraits: tuple[Path, Path]
) -> None:
    with_adapter = source(models, keep_loaded=True)
    gen(with_adapter, one(portraits[0]))  # a character scene first: its scale must not linger
    no_character = gen(with_adapter)
    with_adapter.release()
    without = source(models, ip_adapter=None)
    assert without.ip_adapter is None
    plain = gen(without)
    without.release()
    assert np.array_equal(no_character, plain)


def test_two_characters_get_one_mask_each(models: Path, portraits: tuple[Path, Path]) -> None:
    ada, bob = portraits
    src = source(models, keep_loaded=True)
    both = Reference(("ada:1", "bob:1"), (ada, bob), ("Ada", "Bob"), "medium", 0.55)
    assert both.masked
    assert both.describe() == "IP-Adapter on Ada (left) and Bob (right), medium scale 0.55, one mask each"
    img = gen(src, both)
    assert img.shape == (64, 64, 3)
    assert not np.array_equal(img, gen(src, one(ada, scale=0.55)))
    swapped = Reference(("bob:1", "ada:1"), (bob, ada), ("Bob", "Ada"), "medium", 0.55)
    assert not np.array_equal(img, gen(src, swapped))  # each portrait conditions its own side
    assert src.embeds_computed == 2
    src.release()


def test_broken_adapter_leaves_sdxl_prompt_only_with_a_note(
    models: Path, portraits: tuple[Path, Path], tmp_path: Path
) -> None:
    root = tmp_path / "models"
    shutil.copytree(models / "sdxl", root / "sdxl")
    broken = root / "ip_adapter" / DEFAULT_NAME
    shutil.copytree(models / "ip_adapter" / DEFAULT_NAME, broken)
    (broken / WEIGHT_NAME).write_bytes(b"\x00" * 64)
    src = SDXLSource(root / "sdxl" / "tiny", device="cpu", size=SIZE, steps=2)
    notes: list[str] = []
    progress = notes_progress(notes)
    img = np.asarray(src.generate(PROMPT, size=SIZE, progress=progress, reference=one(portraits[0])))
    assert img.shape == (64, 64, 3) and not src.adapter_loaded
    assert "could not be loaded" in src.adapter_failed
    assert any("prompt only" in n and "--ip-adapter" in n for n in notes)
    assert src._pipe.image_encoder is None  # the half-loaded adapter was taken out again
    src.release()


def test_shot_words_set_the_scale() -> None:
    assert shot_of("extreme close-up of Ada's face, rain on her cheeks") == "close-up"
    assert shot_of("a portrait of the captain") == "close-up"
    assert shot_of("wide shot of the harbour, Ada small on the pier") == "wide"
    assert shot_of("aerial view of the city at dawn") == "wide"
    assert shot_of("Ada opens the door of the old house") == "medium"
    assert SHOT_SCALES["close-up"] > SHOT_SCALES["medium"] > SHOT_SCALES["wide"] > 0


def test_installed_adapter_is_listed_wired_and_counted(models: Path, tmp_path: Path) -> None:
    from engine.backends import choose_backends
    from engine.doctor.findings import chosen_models
    from engine.images.placement import choose_placement
    from engine.models import DeviceInfo, find_installed, missing_report, vram_estimate

    installed = find_installed(models)
    adapter = next(m for m in installed if m.kind == "ip_adapter")
    assert adapter.name == DEFAULT_NAME and adapter.path == (models / "ip_adapter" / DEFAULT_NAME).resolve()
    files = find_adapter(models)
    assert files is not None and vram_estimate(adapter) == adapter_vram_bytes(files)  # one rule for both
    row = next(r for r in missing_report(models, installed) if r["component"] == "ip_adapter")
    assert row["missing"] is False and row["installed"] == [DEFAULT_NAME] and row["optional"] is True
    json_ready = [m.to_dict() for m in installed]  # what GET /api/models lists
    assert any(d["kind"] == "ip_adapter" for d in json_ready)

    gib = 1 << 30
    choice = choose_backends(models_dir=models, stock_dir=tmp_path, manual_roots=(tmp_path,), check=False,
                             device=lambda: DeviceInfo("cuda", "Test GPU", 24 * gib, 24 * gib))
    images = next(s for s in choice.stages if s.stage == "images")
    assert "IP-Adapter ip-adapter-plus-face-sdxl-vit-h" in images.backend
    src = choice.backends.images.sdxl  # type: ignore[attr-defined]
    assert src.ip_adapter is not None and src.ip_adapter.folder == adapter.path
    assert adapter in chosen_models(choice, installed)["images"]  # the doctor's rows and memory sum
    # the memory policy leaves room for the adapter: 10.5 GiB free is "all on the GPU" for SDXL alone
    free = int(10.5 * gib)
    assert choose_placement("cuda", free).offload == "none"
    assert choose_placement("cuda", free, extra_bytes=gib).offload == "model"
    bare = tmp_path / "bare"
    shutil.copytree(models / "sdxl", bare / "sdxl")
    lite = choose_backends(models_dir=bare, stock_dir=tmp_path, manual_roots=(tmp_path,), check=False)
    lite_images = next(s for s in lite.stages if s.stage == "images")
    assert "no IP-Adapter: characters by prompt only" in lite_images.backend
    row = next(r for r in missing_report(bare) if r["component"] == "ip_adapter")
    assert row["missing"] is True and row["fix"] == "python scripts/download_models.py --ip-adapter"
