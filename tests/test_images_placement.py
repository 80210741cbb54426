"""The SDXL memory policy and scheduler presets (pure; no torch needed), and lazy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.errors import ModelFailed
from engine.images.placement import (
    GIB,
    SCHEDULERS,
    choose_placement,
    escalate,
    scheduler_preset,
    vae_tile_size,
)


@pytest.mark.parametrize(
    "free_gib,offload,tiling",
    [
        (70, "none", False),  # 3090/4090 class
        (22.5, "none", False),
        (15.2, "none", False),  # 16 GB card with a desktop
        (11.6, "none", False),  # 12 GB cards: 11.2-11.6 GiB free, all on the GPU
        (11.2, "none", False),
        (10, "none", False),
        (9.9, "model", False),  # 10 GB card: model offload, whole-image decode
        (7.3, "model", False),  # 8 GB card, idle desktop
        (6.0, "model", False),  # 8 GB card with a busy desktop: still model offload first
        (5.2, "model", False),
        (4.9, "sequential", True),  # not even the UNet's 4.8 GiB fits
        (2, "sequential", True),
    ],
)
def test_auto_placement_by_free_vram(free_gib: float, offload: str, tiling: bool) -> None:
    p = choose_placement("cuda", int(free_gib * GIB))
    assert (p.device, p.dtype, p.offload, p.vae_tiling) == ("cuda", "float16", offload, tiling)


def test_8gb_card_tries_model_offload_then_sequential_after_an_oom() -> None:
    first = choose_placement("cuda", int(6.1 * GIB))
    assert (first.offload, first.vae_tiling) == ("model", False)
    after_oom = escalate(first)
    assert after_oom is not None and (after_oom.offload, after_oom.vae_tiling) == ("sequential", True)
    assert escalate(after_oom) is None
    # a 12 GB card that still runs out (another program took memory): model offload, tiled decode
    twelve = escalate(choose_placement("cuda", int(11.4 * GIB)))
    assert twelve is not None and (twelve.offload, twelve.vae_tiling) == ("model", True)
    assert "model CPU offload, VAE tiling" in twelve.describe()


@pytest.mark.parametrize(
    "size,scale,expected,tiles",
    [
        ((1344, 768), 8, (1024, 128), 2),  # landscape: one row of 2 tiles (steps of 96 latents = 768 px)
        ((768, 1344), 8, (1024, 128), 2),  # portrait: one column of 2
        ((1024, 1024), 8, (1376, 172), 1),  # square: bigger than the image, so decoded whole
        ((1152, 896), 8, (1216, 152), 2),
        ((128, 64), 2, (88, 44), 2),  # the tiny test VAE
    ],
)
def test_vae_tiles_are_no_smaller_than_the_short_side(
    size: tuple[int, int], scale: int, expected: tuple[int, int], tiles: int
) -> None:
    sample, latent = vae_tile_size(*size, scale)
    assert (sample, latent) == expected
    assert sample >= min(size) and latent * scale == sample
    # diffusers steps by int(tile * 0.75) latents: one step spans the short side, so the short side
    # is never cut (no thin leftover row), and only the long side is split
    step = int(latent * 0.75)
    assert step * scale == sample - int(sample * 0.25)  # diffusers' step and crop agree
    short_latents, long_latents = (-(-d // scale) for d in sorted(size))
    assert len(range(0, short_latents, step)) == 1
    assert len(range(0, long_latents, step)) == tiles


def test_vae_tile_size_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        vae_tile_size(0, 768, 8)
    with pytest.raises(ValueError):
        vae_tile_size(1344, 768, 8, overlap=1.0)


def test_cpu_is_float32_and_forced_offload_is_honoured() -> None:
    cpu = choose_placement("cpu", None)
    assert (cpu.dtype, cpu.offload, cpu.on_gpu) == ("float32", "none", False)
    assert "cpu" in cpu.describe()
    seq = choose_placement("cuda:1", 80 * GIB, "sequential")
    assert (seq.offload, seq.vae_tiling) == ("sequential", True)
    assert choose_placement("cuda", 80 * GIB, "model").vae_tiling is False
    assert choose_placement("cuda", 2 * GIB, "none").offload == "none"
    with pytest.raises(ModelFailed, match="offload 'lots'"):
        choose_placement("cuda", None, "lots")


def test_out_of_memory_escalates_once_per_level() -> None:
    p = choose_placement("cuda", 40 * GIB)
    chain = [p.offload]
    while (nxt := escalate(p)) is not None:
        p = nxt
        chain.append(p.offload)
        assert p.vae_tiling
    assert chain == ["none", "model", "sequential"]
    assert escalate(choose_placement("cpu", None)) is None


def test_scheduler_presets_for_few_step_variants() -> None:
    assert scheduler_preset(None) is None and scheduler_preset("default") is None
    lightning = scheduler_preset("Lightning")
    assert lightning is not None and lightning.options["timestep_spacing"] == "trailing"
    assert (lightning.steps, lightning.guidance) == (4, 0.0)
    assert scheduler_preset("DPM++_2M_Karras") is SCHEDULERS["dpmpp_2m_karras"]
    lcm = scheduler_preset("lcm")
    assert lcm is not None and lcm.class_name == "LCMScheduler"
    with pytest.raises(ModelFailed, match="scheduler 'warp' .* unknown"):
        scheduler_preset("warp")


def test_importing_the_images_package_does_not_import_torch() -> None:
    code = (
        "import sys, engine.images.router, engine.images.sdxl, engine.images.validate; "
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_manifest_scheduler_entries_map_to_presets() -> None:
    from engine.images.placement import scheduler_for_entry

    assert scheduler_for_entry("EulerDiscreteScheduler", {"timestep_spacing": "trailing"}) == "lightning"
    assert scheduler_for_entry("EulerDiscreteScheduler", {}) == "euler"
    assert scheduler_for_entry(None, None) is None
    assert scheduler_for_entry("MadeUpScheduler", {}) == "MadeUpScheduler"
