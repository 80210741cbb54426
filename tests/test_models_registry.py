"""engine.models: finding installed models (manifest, then scan), pick, missing_report, device,
offline environment."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import EngineError, ModelMissing
from engine.models import (
    OFFLINE_ENV,
    DeviceInfo,
    InstalledModel,
    device_info,
    find_installed,
    missing_report,
    pick,
    require,
    set_offline_env,
    vram_estimate,
)

ROOT = Path(__file__).resolve().parent.parent


def _write(p: Path, data: bytes | str = b"x") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        p.write_text(data)
    else:
        p.write_bytes(data)
    return p


def _sdxl_folder(root: Path, *, complete: bool = True) -> Path:
    _write(root / "model_index.json", json.dumps({
        "_class_name": "StableDiffusionXLPipeline", "_diffusers_version": "0.30.0",
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
        "image_encoder": [None, None]}))
    _write(root / "unet/config.json", "{}")
    if complete:
        _write(root / "unet/diffusion_pytorch_model.safetensors", b"u" * 300)
    _write(root / "vae/config.json", "{}")
    _write(root / "vae/diffusion_pytorch_model.safetensors", b"v" * 100)
    return root


def _manifest(models: Path, *records: dict) -> None:
    _write(models / "manifest.json", json.dumps({"version": 1, "models": list(records)}))


def test_scanning_finds_each_kind(tmp_path: Path) -> None:
    m = tmp_path / "models"
    _write(m / "llm/Qwen2.5-7B-Instruct-Q4_K_M.gguf", b"g" * 50)
    _write(m / "llm/gemma-3-270m-it-Q4_K_M.gguf", b"g" * 10)
    _write(m / "llm/big-00001-of-00002.gguf", b"a" * 7)
    _write(m / "llm/big-00002-of-00002.gguf", b"b" * 5)
    _write(m / "llm/half-done.gguf.part", b"p")
    _sdxl_folder(m / "sdxl/my-sdxl")
    _sdxl_folder(m / "sdxl/broken", complete=False)
    _write(m / "sdxl/juggernaut-lightning-4step.safetensors", b"s" * 20)
    _write(m / "tts/vctk/config.json", json.dumps({"model": "vits", "audio": {"sample_rate": 22050}}))
    _write(m / "tts/vctk/model_file.pth", b"t" * 40)
    _write(m / "tts/vctk/speaker_ids.json", "{}")
    _write(m / "tts/no-checkpoint/config.json", "{}")

    found = {x.name: x for x in find_installed(m)}
    assert set(found) == {"Qwen2.5-7B-Instruct-Q4_K_M", "gemma-3-270m-it-Q4_K_M", "big", "my-sdxl",
                          "juggernaut-lightning-4step", "vctk"}
    assert all(x.found_by == "scan" and x.sha256 is None for x in found.values())
    assert found["big"].size_bytes == 12 and found["big"].path.name == "big-00001-of-00002.gguf"
    assert found["gemma-3-270m-it-Q4_K_M"].settings["chat_format"] == "gemma"
    assert found["Qwen2.5-7B-Instruct-Q4_K_M"].settings["chat_format"] is None  # the GGUF's own template
    assert found["my-sdxl"].kind == "sdxl" and found["my-sdxl"].path == (m / "sdxl/my-sdxl").resolve()
    assert found["my-sdxl"].settings["steps"] == 30
    light = found["juggernaut-lightning-4step"].settings
    assert (light["steps"], light["guidance_scale"], light["single_file"]) == (4, 0.0, True)
    vctk = found["vctk"]
    assert vctk.kind == "tts" and vctk.settings["model_file"] == "model_file.pth"
    assert vctk.settings["speakers_file"] == "speaker_ids.json" and vctk.settings["sample_rate"] == 22050


def test_manifest_comes_first_and_scan_adds_the_rest(tmp_path: Path) -> None:
    m = tmp_path / "models"
    _write(m / "llm/a.gguf", b"a" * 10)
    _write(m / "llm/b.gguf", b"b" * 99)
    _sdxl_folder(m / "sdxl/base")
    _manifest(m, {
        "name": "llm-a", "kind": "llm", "path": "llm/a.gguf", "size_bytes": 10, "sha256": "ab" * 32,
        "licence": "Apache-2.0", "settings": {"chat_format": "chatml", "n_ctx": 4096},
        "files": [{"path": "llm/a.gguf", "size": 10, "sha256": "ab" * 32}]},
        {"name": "sdxl-base", "kind": "sdxl", "path": "sdxl/base", "size_bytes": 400, "sha256": None,
         "licence": "CreativeML Open RAIL++-M", "settings": {"steps": 25}, "files": []},
        # recorded but deleted since: skipped, not reported as usable
        {"name": "gone", "kind": "tts", "path": "tts/gone", "size_bytes": 1, "licence": "MIT", "files": []},
        # malformed records are skipped, not fatal
        "not a record", {"name": "no-kind"}, {"name": "bad-files", "kind": "llm", "path": "llm/b.gguf",
                                              "files": [42]},
    )
    found = find_installed(m)
    assert [(x.name, x.found_by) for x in found] == [("llm-a", "manifest"), ("sdxl-base", "manifest"),
                                                     ("b", "scan")]
    a = found[0]
    assert a.path == (m / "llm/a.gguf").resolve() and a.sha256 == "ab" * 32 and a.licence == "Apache-2.0"
    assert a.settings["n_ctx"] == 4096
    # manifest preferred over a bigger scanned file; a name picks exactly
    assert pick(found, "llm") == a
    assert pick(found, "llm", "b") == found[2] and pick(found, "llm", "B.GGUF") == found[2]
    assert pick(found, "llm", "nope") is None and pick(found, "tts") is None
    assert hash(a) == hash(found[0])  # frozen, hashable (settings not part of the hash)


def test_a_corrupt_manifest_falls_back_to_scanning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    m = tmp_path / "models"
    _write(m / "llm/a.gguf", b"a")
    _write(m / "manifest.json", "{not json")
    found = find_installed(m)
    assert [x.name for x in found] == ["a"]
    assert "ignoring" in caplog.text and "manifest.json" in caplog.text


def test_missing_or_empty_models_dir(tmp_path: Path) -> None:
    assert find_installed(tmp_path / "nope") == ()
    (tmp_path / "empty").mkdir()
    assert find_installed(tmp_path / "empty") == ()


def _model(name: str, kind: str, size: int, found_by: str = "scan") -> InstalledModel:
    return InstalledModel(name, kind, Path(f"/m/{name}"), size, None, "MIT", {}, found_by)


def test_pick_prefers_largest_and_respects_a_memory_budget() -> None:
    models = [_model("small", "llm", 2), _model("large", "llm", 8), _model("mid", "llm", 5),
              _model("voice", "tts", 1)]
    assert pick(models, "llm").name == "large"
    assert pick(models, "llm", max_bytes=6).name == "mid"
    assert pick(models, "llm", max_bytes=1).name == "small"  # nothing fits: the smallest
    assert pick(models, "sdxl") is None
    with pytest.raises(ModelMissing, match=r"models/sdxl/.*scripts/download_models.py --sdxl"):
        require(models, "sdxl")
    assert require(models, "tts").name == "voice"
    assert vram_estimate(_model("x", "sdxl", 7 << 30)) > 7 << 30


def test_missing_report_names_each_fix(tmp_path: Path) -> None:
    rows = missing_report(tmp_path / "models")
    by = {(r["stage"], r["component"]): r for r in rows}
    assert set(by) == {("script", "llm"), ("images", "sdxl"), ("narration", "tts"), ("narration", "xtts"),
                       ("images", "ip_adapter")}
    assert by[("images", "ip_adapter")]["optional"] is True
    assert by[("images", "ip_adapter")]["fix"] == "python scripts/download_models.py --ip-adapter"
    assert all(r["missing"] for r in rows)
    assert by[("script", "llm")]["fix"] == "python scripts/download_models.py --llm"
    assert by[("images", "sdxl")]["fix"] == "python scripts/download_models.py --sdxl"
    assert by[("narration", "xtts")]["optional"] is True
    assert "models/sdxl/" in by[("images", "sdxl")]["message"]
    assert "--xtts" in by[("narration", "xtts")]["message"]
    json.dumps(rows)  # JSON-ready for /api/models

    m = tmp_path / "models"
    _write(m / "llm/a.gguf", b"a")
    xtts_cfg = {"model": "xtts", "audio": {"output_sample_rate": 24000}}
    _write(m / "tts/xtts-v2/config.json", json.dumps(xtts_cfg))
    _write(m / "tts/xtts-v2/model.pth", b"x" * 9)
    rows = {(r["stage"], r["component"]): r for r in missing_report(m)}
    assert rows[("script", "llm")]["missing"] is False and rows[("script", "llm")]["installed"] == ["a"]
    assert rows[("script", "llm")]["fix"] is None
    assert rows[("narration", "xtts")]["missing"] is False
    assert rows[("images", "sdxl")]["missing"] is True


def _expected_kind() -> str:
    try:
        import torch
    except ImportError:
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    return "mps" if torch.backends.mps.is_available() else "cpu"


def test_device_info_matches_what_torch_sees() -> None:
    info = device_info()
    assert isinstance(info, DeviceInfo)
    assert info.kind == _expected_kind()  # "cpu" on the GPU-less test machines
    assert info.is_gpu == (info.kind != "cpu")
    assert info.total_bytes > 0 and 0 < info.free_bytes <= info.total_bytes
    cpu = device_info("cpu")
    assert cpu.kind == "cpu" and cpu.total_bytes > 0
    assert set(cpu.to_dict()) == {"kind", "name", "total_bytes", "free_bytes"}


def test_device_info_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    assert device_info().kind == "cpu"
    with pytest.raises(EngineError, match="torch is not installed"):
        device_info("cuda")
    with pytest.raises(EngineError, match="not one of"):
        device_info("tpu")


def test_set_offline_env_only_sets_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in OFFLINE_ENV:  # setenv first, so that teardown restores the session's environment
        monkeypatch.setenv(key, "placeholder")
        monkeypatch.delenv(key)
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")  # a creator's explicit choice stays
    set_offline_env()
    set_offline_env()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert os.environ["HF_DATASETS_OFFLINE"] == "1" and os.environ["COQUI_TOS_AGREED"] == "1"
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"


def test_importing_engine_models_is_light() -> None:
    code = ("import sys, engine.models; heavy = [m for m in ('torch', 'diffusers', 'transformers', 'TTS', "
            "'llama_cpp', 'huggingface_hub') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
