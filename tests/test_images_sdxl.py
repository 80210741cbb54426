"""The real SDXL loading and generation code on a tiny random-weight SDXL saved offline."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image

import diffusers  # noqa: E402,F401  the sdxl extra is part of the test install: missing is a failure
import torch  # noqa: E402
import transformers  # noqa: E402,F401

from engine.contracts import Scene, Script  # noqa: E402
from engine.errors import JobCancelled, ModelFailed, ModelMissing  # noqa: E402
from engine.images.prompts import build_prompt  # noqa: E402
from engine.images.random_sdxl import build_random_sdxl  # noqa: E402
from engine.images.router import ImageRouter  # noqa: E402
from engine.images.sdxl import SDXLSource  # noqa: E402
from engine.images.styles import style_for  # noqa: E402
from engine.progress import StageProgress  # noqa: E402
from engine.spec import Character, ImageMode, JobSpec  # noqa: E402

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


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; on a busy 2-core machine two threads spin-wait ~20x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
    src = source(model)
    assert src.vae_path == model / "vae_fp16_fix"
    out = run(src, tmp_path / "job")
    assert len(out) == 3


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


def test_out_of_memory_fails_with_a_clear_error(tiny_sdxl: Path, tmp_path: Path) -> None:
    # On the CPU there is no more offload to try, so the first OOM is final.
    rec = Recorder(raise_on="Creating scene 1 of 3 (step 1 of 2)")
    src = source(tiny_sdxl)
    with pytest.raises(ModelFailed, match="ran out of memory"):
        run(src, tmp_path / "job", rec=rec)
    assert not src.loaded
