"""The real SDXL loading and generation code on a tiny random-weight SDXL saved offline."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from PIL import Image

import diffusers  # noqa: E402,F401  the sdxl extra is part of the test install: missing is a failure
import torch  # noqa: E402
import transformers  # noqa: E402,F401

from engine.contracts import Scene, Script  # noqa: E402
from engine.errors import GPUFailed, JobCancelled, ModelFailed, ModelMissing  # noqa: E402
from engine.images.placement import Placement  # noqa: E402
from engine.images.prompts import build_prompt  # noqa: E402
from engine.images.random_sdxl import build_random_sdxl  # noqa: E402
from engine.images.router import ImageRouter  # noqa: E402
from engine.images.sdxl import SDXLSource  # noqa: E402
from engine.images.styles import style_for  # noqa: E402
from engine.progress import StageProgress  # noqa: E402
from engine.spec import Character, ImageMode, JobSpec  # noqa: E402
from tests import tiny_models  # noqa: E402

SIZE = (64, 64)
SCRIPT = Script(
    title="Tiny",
    characters=(Character("Ada", "a woman in a red coat"),),
    scenes=(
        Scene("One.", "a lighthouse at night", ("Ada",)),
        Scene("Two.", "a stormy sea"),
        Scene("Three.", "a quiet harbour at dawn"),
    ),
)

one_torch_thread = tiny_models.one_torch_thread  # autouse: tiny models on one thread


@pytest.fixture(scope="session")
def tiny_sdxl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_random_sdxl(tmp_path_factory.mktemp("models") / "sdxl" / "tiny")


class Recorder:
    def __init__(self, cancel_on: str | None = None, raise_on: str | None = None) -> None:
        self.events: list[tuple[float, str]] = []
        self.notes: list[str] = []
        self.cancel = threading.Event()
        self.cancel_on, self.raise_on = cancel_on, raise_on

    def sink(self, stage: str, pct: float, msg: str) -> None:
        self.events.append((pct, msg))
        if self.cancel_on is not None and msg == self.cancel_on:
            self.cancel.set()
        if self.raise_on is not None and msg == self.raise_on:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    def progress(self) -> StageProgress:
        return StageProgress("images", sink=self.sink, detail=self.notes.append, cancel=self.cancel)


def source(path: Path, **kw: object) -> SDXLSource:
    kw.setdefault("steps", 2)
    return SDXLSource(path, device="cpu", size=SIZE, **kw)  # type: ignore[arg-type]


def run(src: SDXLSource, workdir: Path, seed: int = 11, rec: Recorder | None = None) -> list[Path]:
    router = ImageRouter(sdxl=src, stock_dir=workdir / "no-stock", allowed_roots=(workdir,))
    return router.images(
        SCRIPT,
        JobSpec(topic="t", seed=seed, image_mode=ImageMode.AI_ONLY),
        workdir,
        progress=(rec or Recorder()).progress(),
    )


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_generates_one_image_per_scene_in_order(tiny_sdxl: Path, tmp_path: Path) -> None:
    src = source(tiny_sdxl)
    rec = Recorder()
    out = run(src, tmp_path / "job", rec=rec)
    assert [p.name for p in out] == ["scene_01.png", "scene_02.png", "scene_03.png"]
    imgs = [pixels(p) for p in out]
    assert all(i.shape == (64, 64, 3) for i in imgs)
    assert not np.array_equal(imgs[0], imgs[1]) and not np.array_equal(imgs[1], imgs[2])
    assert not src.loaded  # released after the stage
    assert any("SDXL tiny (cpu, float32; 2 steps" in n for n in rec.notes)
    assert any("No GPU found" in n for n in rec.notes)
    # scene 2's file is exactly what its own prompt and seed make
    again = source(tiny_sdxl)
    sp = build_prompt(SCRIPT.scenes[1], 1, SCRIPT, style_for("cinematic"), 11)
    img = again.generate(sp, size=(1344, 768), progress=Recorder().progress())
    again.finish()
    assert np.array_equal(np.asarray(img), imgs[1])


def test_same_seed_reproduces_other_seed_differs(tiny_sdxl: Path, tmp_path: Path) -> None:
    src = source(tiny_sdxl, keep_loaded=True)
    a = [pixels(p) for p in run(src, tmp_path / "a", seed=5)]
    b = [pixels(p) for p in run(src, tmp_path / "b", seed=5)]
    c = [pixels(p) for p in run(src, tmp_path / "c", seed=6)]
    assert src.loaded  # keep_loaded
    src.release()
    assert not src.loaded
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not any(np.array_equal(x, y) for x, y in zip(a, c))


def test_progress_moves_per_diffusion_step(tiny_sdxl: Path, tmp_path: Path) -> None:
    rec = Recorder()
    run(source(tiny_sdxl, steps=3), tmp_path / "job", rec=rec)
    msgs = [m for _, m in rec.events]
    for k in (1, 2, 3):
        for step in (1, 2, 3):
            assert f"Creating scene {k} of 3 (step {step} of 3)" in msgs
    pcts = [p for p, _ in rec.events]
    assert pcts == sorted(pcts) and pcts[0] >= 25.0 and pcts[-1] == 50.0
    step_pcts = [p for p, m in rec.events if m.startswith("Creating scene 2 of 3 (step")]
    assert len(set(step_pcts)) == 4  # step 0..3 each move the bar


def test_cancel_from_the_step_callback_stops_mid_run(tiny_sdxl: Path, tmp_path: Path) -> None:
    rec = Recorder(cancel_on="Creating scene 2 of 3 (step 1 of 3)")
    src = source(tiny_sdxl, steps=3)
    with pytest.raises(JobCancelled):
        run(src, tmp_path / "job", rec=rec)
    msgs = [m for _, m in rec.events]
    assert "Creating scene 2 of 3 (step 2 of 3)" not in msgs
    made = sorted(p.name for p in (tmp_path / "job" / "images").glob("scene_*.png"))
    assert made == ["scene_01.png"]
    assert not src.loaded
    # resuming finishes the job and keeps scene 1
    first = pixels(tmp_path / "job" / "images" / "scene_01.png")
    out = run(src, tmp_path / "job")
    assert len(out) == 3 and np.array_equal(pixels(out[0]), first)


def test_few_step_scheduler_from_the_model_entry(tiny_sdxl: Path) -> None:
    src = SDXLSource(tiny_sdxl, device="cpu", size=SIZE, scheduler="lcm", keep_loaded=True)
    assert (src.steps, src.guidance) == (4, 1.0)
    rec = Recorder()
    sp = build_prompt(SCRIPT.scenes[0], 0, SCRIPT, style_for("anime"), 1)
    img = src.generate(sp, size=SIZE, progress=rec.progress(), label="L")
    assert img.size == SIZE
    assert type(src._pipe.scheduler).__name__ == "LCMScheduler"
    assert "L (step 4 of 4)" in [m for _, m in rec.events]
    src.release()
    light = SDXLSource(tiny_sdxl, device="cpu", size=SIZE, scheduler="lightning", steps=2, keep_loaded=True)
    light.generate(sp, size=SIZE, progress=Recorder().progress())
    assert light._pipe.scheduler.config.timestep_spacing == "trailing" and light.guidance == 0.0
    light.release()


def test_fixed_fp16_vae_beside_the_model_is_used(tiny_sdxl: Path, tmp_path: Path) -> None:
    model = tmp_path / "sdxl" / "withvae"
    shutil.copytree(tiny_sdxl, model)
    shutil.copytree(tiny_sdxl / "vae", model / "vae_fp16_fix")
    config = json.loads((model / "vae_fp16_fix" / "config.json").read_text())
    assert config.get("force_upcast", True) is True  # named for the fix, but its config does not say so
    src = source(model, keep_loaded=True)
    assert src.vae_path == model / "vae_fp16_fix" and src.vae_fp16_fix
    out = run(src, tmp_path / "job")
    assert len(out) == 3
    assert src._pipe.vae.config.force_upcast is False  # known fp16-safe by its folder: decoded in fp16
    src.release()


def test_missing_and_broken_weights_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(
        ModelMissing, match="SDXL weights not found in models/sdxl/ — run scripts/download_models.py"
    ):
        SDXLSource(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelMissing, match="--sdxl"):
        SDXLSource(tmp_path / "empty")
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 64)
    src = SDXLSource(bad, device="cpu")
    with pytest.raises(ModelFailed, match="broken.safetensors could not be loaded"):
        src.load(Recorder().progress())
    with pytest.raises(ModelFailed, match="scheduler"):
        SDXLSource(bad, scheduler="nonsense")
    with pytest.raises(ModelFailed, match="multiple of 8"):
        SDXLSource(bad, size=(100, 60))


def test_out_of_memory_gives_that_scene_draft_art_with_the_reason(tiny_sdxl: Path, tmp_path: Path) -> None:
    # On the CPU there is no more offload to try, so the first OOM is final for that scene.
    src = source(tiny_sdxl)
    sp = build_prompt(SCRIPT.scenes[0], 0, SCRIPT, style_for("cinematic"), 11)
    with pytest.raises(ModelFailed, match="ran out of memory"):
        src.generate(sp, size=SIZE, progress=Recorder(raise_on="L (step 1 of 2)").progress(), label="L")
    assert not src.loaded
    rec = Recorder(raise_on="Creating scene 1 of 3 (step 1 of 2)")
    run(src, tmp_path / "job", rec=rec)
    kinds = [r["source"] for r in json.loads((tmp_path / "job" / "images" / "sources.json").read_text())]
    assert kinds == ["draft", "sdxl", "sdxl"]
    failed = [n for n in rec.notes if n.startswith("SDXL failed on scene 1:")]
    assert len(failed) == 1 and "ran out of memory" in failed[0] and "gets draft art" in failed[0]
    assert not src.loaded


# -- the fp16-fix VAE, VAE tiles, the device --------------------------------------------------------
def _with_vae_config(tiny: Path, dest: Path, **changes: object) -> Path:
    shutil.copytree(tiny, dest)
    cfg_path = dest / "vae" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.update(changes)
    cfg_path.write_text(json.dumps(cfg))
    return dest


def _decode_dtypes(src: SDXLSource, size: tuple[int, int] = SIZE) -> list[torch.dtype]:
    """The dtype the VAE decoder's weights had each time it ran while making one image."""
    src.load(Recorder().progress())
    seen: list[torch.dtype] = []
    hook = src._pipe.vae.decoder.register_forward_pre_hook(
        lambda mod, args: seen.append(next(mod.parameters()).dtype)
    )
    try:
        sp = build_prompt(SCRIPT.scenes[0], 0, SCRIPT, style_for("cinematic"), 3)
        src.generate(sp, size=size, progress=Recorder().progress())
    finally:
        hook.remove()
    return seen


def test_fp16_fix_vae_where_the_downloader_puts_it_is_not_upcast(tiny_sdxl: Path, tmp_path: Path) -> None:
    # scripts/fetchlib/catalog.py installs madebyollin/sdxl-vae-fp16-fix as the model's own vae/,
    # whose config says force_upcast: false
    fix = _with_vae_config(tiny_sdxl, tmp_path / "sdxl" / "fix", force_upcast=False)
    src = source(fix, keep_loaded=True)
    assert src.vae_path is None and src.vae_fp16_fix
    src._placement = Placement("cpu", "float16", "none", vae_tiling=False)  # fp16 as on CUDA
    assert _decode_dtypes(src) == [torch.float16]
    assert src._pipe.vae.config.force_upcast is False
    assert "fp16-fix VAE" in src.describe()
    src.release()
    # the stock VAE keeps diffusers' own behaviour: its config asks for float32 decoding
    stock = _with_vae_config(tiny_sdxl, tmp_path / "sdxl" / "stock", force_upcast=True)
    src = source(stock, keep_loaded=True)
    assert src.vae_path is None and not src.vae_fp16_fix
    src._placement = Placement("cpu", "float16", "none", vae_tiling=False)
    assert _decode_dtypes(src) == [torch.float32]
    assert "stock VAE" in src.describe()
    src.release()


def test_fix_vae_recorded_by_the_downloaders_manifest_is_not_upcast(tiny_sdxl: Path, tmp_path: Path) -> None:
    # Whatever the fix VAE's config says, the manifest's record of the install names its repository.
    models = tmp_path / "models"
    model = _with_vae_config(tiny_sdxl, models / "sdxl" / "sdxl-base-1.0", force_upcast=True)
    record = {
        "name": "sdxl-base-1.0",
        "kind": "sdxl",
        "path": "sdxl/sdxl-base-1.0",
        "source": "https://huggingface.co/madebyollin/sdxl-vae-fp16-fix, "
        "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0",
    }
    (models / "manifest.json").write_text(json.dumps({"version": 1, "models": [record]}))
    src = source(model, keep_loaded=True)
    assert src.vae_path is None and src.vae_fp16_fix
    src._placement = Placement("cpu", "float16", "none", vae_tiling=False)
    assert _decode_dtypes(src) == [torch.float16]
    src.release()
    # a record of some other install (no fix VAE among its sources) changes nothing
    record["source"] = "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0"
    (models / "manifest.json").write_text(json.dumps({"version": 1, "models": [record]}))
    assert not source(model).vae_fp16_fix


def test_vae_tiles_span_the_short_side(tiny_sdxl: Path) -> None:
    src = source(tiny_sdxl, keep_loaded=True)
    src.size = None
    src._placement = Placement("cpu", "float32", "none", vae_tiling=True)
    src.load(Recorder().progress())
    vae = src._pipe.vae
    assert vae.use_tiling
    shapes: list[tuple[int, ...]] = []
    hook = vae.decoder.register_forward_pre_hook(lambda mod, args: shapes.append(tuple(args[0].shape)))
    try:
        sp = build_prompt(SCRIPT.scenes[1], 1, SCRIPT, style_for("cinematic"), 3)
        img = src.generate(sp, size=(128, 64), progress=Recorder().progress())
    finally:
        hook.remove()
    src.release()
    assert img.size == (128, 64)
    # latents 32x64 (the tiny VAE halves): tiles of 44 latents (88 px) stepping by 33, one row of two,
    # each the full height; diffusers' default (its config's sample_size) would have decoded it whole
    assert (vae.tile_sample_min_size, vae.tile_latent_min_size) == (88, 44)
    assert [s[-2:] for s in shapes] == [(32, 44), (32, 31)]


def test_device_comes_from_device_info(tiny_sdxl: Path) -> None:
    from engine.models.device import device_info

    src = SDXLSource(tiny_sdxl, steps=1, size=SIZE)  # no device given
    rec = Recorder()
    src.load(rec.progress())
    assert src.placement is not None and src.placement.device == device_info().kind == "cpu"
    assert any("SDXL runs on the CPU in float32" in n for n in rec.notes)
    src.release()


# -- CUDA errors: GPUFailed with the fix, draft art for the scene ----------------------------------
ILLEGAL_ACCESS = (
    "CUDA error: an illegal memory access was encountered\nCUDA kernel errors might be asynchronously "
    "reported at some other API call, so the stacktrace below might be incorrect."
)
NO_KERNEL = "CUDA error: no kernel image is available for execution on the device"


def _fail_unet_calls(monkeypatch: pytest.MonkeyPatch, message: str, calls: set[int]) -> list[int]:
    """Fault injection into diffusers: the UNet's forward raises a CUDA-style RuntimeError on the
    given calls (1-based; one call per diffusion step with CFG batched)."""
    count: list[int] = []
    real: Callable[..., Any] = diffusers.UNet2DConditionModel.forward

    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        count.append(len(count) + 1)
        if count[-1] in calls:
            raise RuntimeError(message)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(diffusers.UNet2DConditionModel, "forward", forward)
    return count


def _sources(job: Path) -> list[dict[str, Any]]:
    return json.loads((job / "images" / "sources.json").read_text())


def test_cuda_error_raises_gpu_failed_with_a_hint(
    tiny_sdxl: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_unet_calls(monkeypatch, ILLEGAL_ACCESS, {1})
    src = source(tiny_sdxl)
    sp = build_prompt(SCRIPT.scenes[0], 0, SCRIPT, style_for("cinematic"), 1)
    with pytest.raises(GPUFailed) as info:
        src.generate(sp, size=SIZE, progress=Recorder().progress())
    assert isinstance(info.value, ModelFailed) and info.value.kind == "fault"
    assert info.value.message.startswith("SDXL failed on the GPU (CUDA error: an illegal memory access")
    assert "restart the server" in info.value.message
    assert not src.loaded  # its memory given back


def test_cuda_error_on_one_scene_gives_that_scene_draft_art(
    tiny_sdxl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = [pixels(p) for p in run(source(tiny_sdxl), tmp_path / "clean")]
    calls = _fail_unet_calls(monkeypatch, ILLEGAL_ACCESS, {3})  # scene 2's first step
    rec = Recorder()
    out = run(source(tiny_sdxl), tmp_path / "job", rec=rec)
    records = _sources(tmp_path / "job")
    assert [r["source"] for r in records] == ["sdxl", "draft", "sdxl"]
    assert np.array_equal(pixels(out[0]), clean[0]) and np.array_equal(pixels(out[2]), clean[2])
    assert not np.array_equal(pixels(out[1]), clean[1])
    assert pixels(out[1]).shape == (768, 1344, 3)  # draft art at the job's size (SIZE overrides SDXL's only)
    failed = [n for n in rec.notes if "SDXL" in n and "draft art" in n]
    assert len(failed) == 1 and failed[0].startswith("SDXL failed on scene 2: SDXL failed on the GPU")
    assert "restart the server" in failed[0]
    assert "illegal memory access" in records[1]["note"] and records[0]["note"] == records[2]["note"] == ""
    assert any(n.startswith("Scene images") and "2 sdxl, 1 draft" in n for n in rec.notes)
    assert len(calls) == 5  # scene 1: 2 steps, scene 2: failed at its first, scene 3: 2 steps


def test_no_kernels_for_the_card_stops_sdxl_for_the_rest_of_the_job(
    tiny_sdxl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fail_unet_calls(monkeypatch, NO_KERNEL, {3, 4, 5, 6})
    rec = Recorder()
    run(source(tiny_sdxl), tmp_path / "job", rec=rec)
    assert [r["source"] for r in _sources(tmp_path / "job")] == ["sdxl", "draft", "draft"]
    failed = [n for n in rec.notes if "draft art" in n]
    assert len(failed) == 1  # one note for the rest of the job, not one per scene
    assert failed[0].startswith(
        "SDXL cannot make images in this job: SDXL failed on the GPU (CUDA error: no kernel"
    )
    assert "scene 2 and the 1 after it get draft art" in failed[0]
    assert "has no GPU kernels" in failed[0] and "download.pytorch.org/whl/cu126" in failed[0]
    assert len(calls) == 3  # scene 3 did not try again


def test_sdxl_that_fails_to_load_gives_every_scene_draft_art_with_one_note(
    tiny_sdxl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_to = diffusers.DiffusionPipeline.to

    def to(self: Any, *args: Any, **kwargs: Any) -> Any:  # fault injection: moving to the device fails
        raise RuntimeError("CUDA driver initialization failed, you might not have a CUDA gpu.")

    monkeypatch.setattr(diffusers.DiffusionPipeline, "to", to)
    rec = Recorder()
    src = source(tiny_sdxl)
    run(src, tmp_path / "job", rec=rec)
    assert [r["source"] for r in _sources(tmp_path / "job")] == ["draft"] * 3
    failed = [n for n in rec.notes if "draft art" in n]
    assert len(failed) == 1 and "scene 1 and the 2 after it get draft art" in failed[0]
    assert "update the driver" in failed[0]
    assert all("CUDA driver initialization failed" in r["note"] for r in _sources(tmp_path / "job"))
    assert not src.loaded
    # broken weights: the same, with the re-download hint
    monkeypatch.setattr(diffusers.DiffusionPipeline, "to", real_to)
    broken = tmp_path / "sdxl" / "broken"
    shutil.copytree(tiny_sdxl, broken)
    for f in (broken / "unet").glob("*.safetensors"):
        f.write_bytes(f.read_bytes()[:100])
    rec = Recorder()
    run(source(broken), tmp_path / "job2", rec=rec)
    assert [r["source"] for r in _sources(tmp_path / "job2")] == ["draft"] * 3
    failed = [n for n in rec.notes if "draft art" in n]
    assert len(failed) == 1 and "could not be loaded" in failed[0] and "re-download" in failed[0]
