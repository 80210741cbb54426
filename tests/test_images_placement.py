"""The SDXL memory policy and scheduler presets (pure; no torch needed), and lazy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.errors import ModelFailed
from engine.images.placement import GIB, SCHEDULERS, choose_placement, escalate, scheduler_preset


@pytest.mark.parametrize(
    "free_gib,offload,tiling",
    [
        (70, "none", False),
        (12, "none", False),
        (11.5, "model", True),
        (7.2, "model", True),
        (6, "sequential", True),
        (2, "sequential", True),
    ],
)
def test_auto_placement_by_free_vram(free_gib: float, offload: str, tiling: bool) -> None:
    p = choose_placement("cuda", int(free_gib * GIB))
    assert (p.device, p.dtype, p.offload, p.vae_tiling) == ("cuda", "float16", offload, tiling)


def test_cpu_is_float32_and_forced_offload_is_honoured() -> None:
    cpu = choose_placement("cpu", None)
    assert (cpu.dtype, cpu.offload, cpu.on_gpu) == ("float32", "none", False)
    assert "cpu" in cpu.describe()
    assert choose_placement("cuda:1", 80 * GIB, "sequential").offload == "sequential"
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
    assert scheduler_preset("lcm").class_name == "LCMScheduler"
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
