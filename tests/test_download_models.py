"""scripts/download_models.py over real HTTP, against a hub look-alike on 127.0.0.1.

The server speaks the hub's layout (``/<repo>/resolve/<rev>/<file>``): LFS files answer HEAD/GET
with a redirect carrying ``X-Linked-Etag`` (sha256) and ``X-Linked-Size``; small files answer
200 with ``ETag`` = git blob sha1; GitHub release assets redirect to a CDN path. Range requests
are honoured, and a file can be cut off half-way on its first GET.
"""
from __future__ import annotations

import hashlib
import io
import json
import socket
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from engine.models import find_installed, pick
from tests.netguard import no_network

from tests.download_script import SCRIPT, dl  # noqa: E402


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def git_sha1(b: bytes) -> str:
    return hashlib.sha1(f"blob {len(b)}\0".encode() + b).hexdigest()


@dataclass
class Served:
    data: bytes
    lfs: bool = True
    advertised_sha256: str | None = None  # what X-Linked-Etag claims (default: the real sha256)
    advertised_git: str | None = None


@dataclass
class FakeHub:
    files: dict[str, Served] = field(default_factory=dict)  # url path -> content
    cdn: dict[str, bytes] = field(default_factory=dict)
    log: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Range)
    cut_first_get: set[str] = field(default_factory=set)  # cdn keys cut half-way once
    ignore_range: bool = False
    cdn_refuses_head: bool = False  # like a presigned URL that only allows GET
    url: str = ""

    def add(self, repo: str, remote: str, data: bytes, *, lfs: bool = True, revision: str = "main",
            **kw: Any) -> str:
        path = f"/{repo}/resolve/{revision}/{remote}"
        self.files[path] = Served(data, lfs, **kw)
        self.cdn[sha256(data)] = data
        return path

    def add_github(self, repo: str, remote: str, data: bytes) -> None:
        self.files[f"/{repo}/{remote}"] = Served(data, True)
        self.cdn[sha256(data)] = data

    def gets(self, path_part: str = "") -> list[tuple[str, str, str | None]]:
        return [r for r in self.log if r[0] == "GET" and path_part in r[1]]


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return None

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def do_GET(self) -> None:
            self._serve(head=False)

        def _serve(self, head: bool) -> None:
            rng = self.headers.get("Range")
            hub.log.append(("HEAD" if head else "GET", self.path, rng))
            if self.path.startswith("/cdn/"):
                if head and hub.cdn_refuses_head:
                    self.send_response(403)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                return self._bytes(self.path[5:], head, rng)
            served = hub.files.get(self.path)
            if served is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if served.lfs:
                self.send_response(302)
                if "/releases/download/" not in self.path:
                    self.send_header("X-Linked-Etag", f'"{served.advertised_sha256 or sha256(served.data)}"')
                    self.send_header("X-Linked-Size", str(len(served.data)))
                self.send_header("Location", f"/cdn/{sha256(served.data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            etag = served.advertised_git or git_sha1(served.data)
            return self._bytes(sha256(served.data), head, rng, etag=etag)

        def _bytes(self, key: str, head: bool, rng: str | None, etag: str | None = None) -> None:
            data = hub.cdn[key]
            start = 0
            if rng and not hub.ignore_range:
                start = int(rng.split("=")[1].split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            if etag:
                self.send_header("ETag", f'"{etag}"')
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if head:
                return
            if key in hub.cut_first_get:
                hub.cut_first_get.discard(key)
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    h = FakeHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(h))
    h.url = f"http://127.0.0.1:{server.server_address[1]}"
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield h
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------- a small catalog of tiny models

GGUF = b"GGUF" + bytes(range(256)) * 800  # ~200 KB
UNET = b"unet-weights" * 20_000
VAE = b"vae-weights" * 3_000
MODEL_INDEX = json.dumps({"_class_name": "StableDiffusionXLPipeline",
                          "unet": ["diffusers", "UNet2DConditionModel"],
                          "vae": ["diffusers", "AutoencoderKL"]}).encode()
VITS_CONFIG = {"model": "vits", "audio": {"sample_rate": 22050},
               "speakers_file": "/old/home/speaker_ids.json",
               "model_args": {"speakers_file": "/old/home/speaker_ids.json"}}


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("tts_models--en--tiny--vits/config.json", json.dumps(VITS_CONFIG))
        zf.writestr("tts_models--en--tiny--vits/model_file.pth", b"vits" * 10_000)
        zf.writestr("tts_models--en--tiny--vits/speaker_ids.json", json.dumps({"p225": 0, "p226": 1}))
    return buf.getvalue()


ZIP = _zip()
ZIP_REMOTE = "releases/download/v0.6.1_models/tts_models--en--tiny--vits.zip"


def _entry(name: str, kind: str, path: str, files: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "component": kw.pop("component", kind), "title": name.title(),
            "licence": "MIT", "licence_url": "https://example.invalid/licence", "path": path, "files": files,
            **kw}


def write_catalog(tmp: Path, *, llm_pin: str | None = None) -> Path:
    llm_file = {"repo": "acme/tiny-GGUF", "remote": "tiny-Q4_K_M.gguf", "local": "", "size": len(GGUF)}
    if llm_pin:
        llm_file["sha256"] = llm_pin
    data = {
        "entries": [
            _entry("tiny-llm", "llm", "llm/tiny-Q4_K_M.gguf", [llm_file], settings={"chat_format": "chatml"}),
            _entry("tiny-sdxl", "sdxl", "sdxl/tiny-sdxl", [
                {"repo": "acme/tiny-sdxl", "remote": "unet/diffusion_pytorch_model.fp16.safetensors",
                 "local": "unet/diffusion_pytorch_model.safetensors", "size": len(UNET)},
                {"repo": "acme/tiny-vae", "remote": "diffusion_pytorch_model.safetensors",
                 "local": "vae/diffusion_pytorch_model.safetensors", "size": len(VAE)},
                {"repo": "acme/tiny-sdxl", "remote": "model_index.json", "local": "model_index.json",
                 "size": 200},
            ], main_file="unet/diffusion_pytorch_model.safetensors",
                settings={"steps": 4, "guidance_scale": 0.0}),
            _entry("tiny-vits", "tts", "tts/tiny-vits", [
                {"repo": "coqui-ai/TTS", "remote": ZIP_REMOTE, "local": "", "size": len(ZIP),
                 "host": "github", "unpack": True}], main_file="model_file.pth", post="coqui_paths"),
        ],
        "profiles": {"tiny": {"llm": "tiny-llm", "sdxl": "tiny-sdxl", "tts": "tiny-vits"}},
    }
    p = tmp / "catalog.json"
    p.write_text(json.dumps(data))
    return p


def serve_all(hub: FakeHub) -> None:
    hub.add("acme/tiny-GGUF", "tiny-Q4_K_M.gguf", GGUF)
    hub.add("acme/tiny-sdxl", "unet/diffusion_pytorch_model.fp16.safetensors", UNET)
    hub.add("acme/tiny-vae", "diffusion_pytorch_model.safetensors", VAE)
    hub.add("acme/tiny-sdxl", "model_index.json", MODEL_INDEX, lfs=False)
    hub.add_github("coqui-ai/TTS", ZIP_REMOTE, ZIP)


def run(hub: FakeHub, models: Path, catalog: Path, *extra: str) -> int:
    argv = ["--catalog", str(catalog), "--models-dir", str(models), "--base-url", hub.url,
            "--github-url", hub.url, "--retry-wait", "0", "--timeout", "10", *extra]
    with no_network():  # the downloader talks to the --base-url it was given, and nothing else
        return int(dl.main(argv))


# ---------------------------------------------------------------- tests


def test_profile_fetches_every_model_and_writes_the_manifest(hub: FakeHub, tmp_path: Path) -> None:
    serve_all(hub)
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--profile", "tiny") == 0

    assert (models / "llm/tiny-Q4_K_M.gguf").read_bytes() == GGUF
    assert (models / "sdxl/tiny-sdxl/unet/diffusion_pytorch_model.safetensors").read_bytes() == UNET
    assert (models / "sdxl/tiny-sdxl/model_index.json").read_bytes() == MODEL_INDEX
    vits = models / "tts/tiny-vits"
    assert sorted(p.name for p in vits.iterdir()) == ["config.json", "model_file.pth", "speaker_ids.json"]
    cfg = json.loads((vits / "config.json").read_text())
    assert cfg["speakers_file"] == str((vits / "speaker_ids.json").resolve())
    assert cfg["model_args"]["speakers_file"] == cfg["speakers_file"]
    assert not list(models.rglob("*.part"))
    assert not list((models / ".downloads").glob("*"))  # the archive is deleted once unpacked

    manifest = json.loads((models / "manifest.json").read_text())
    by_name = {m["name"]: m for m in manifest["models"]}
    assert set(by_name) == {"tiny-llm", "tiny-sdxl", "tiny-vits"}
    llm = by_name["tiny-llm"]
    assert (llm["kind"], llm["path"], llm["size_bytes"], llm["sha256"]) == \
        ("llm", "llm/tiny-Q4_K_M.gguf", len(GGUF), sha256(GGUF))
    assert llm["licence"] == "MIT" and llm["settings"] == {"chat_format": "chatml"}
    assert llm["files"][0]["sha256_source"] == "hub"
    sd = by_name["tiny-sdxl"]
    assert sd["sha256"] == sha256(UNET) and sd["size_bytes"] == len(UNET) + len(VAE) + len(MODEL_INDEX)
    assert {f["path"]: f["sha256_source"] for f in sd["files"]}["sdxl/tiny-sdxl/model_index.json"] == "hub"
    assert by_name["tiny-vits"]["archive"]["sha256"] == sha256(ZIP)
    assert by_name["tiny-vits"]["archive"]["sha256_source"] == "computed"

    # the registry reads what the downloader wrote
    found = find_installed(models)
    assert [(m.name, m.found_by) for m in found] == [("tiny-llm", "manifest"), ("tiny-sdxl", "manifest"),
                                                     ("tiny-vits", "manifest")]
    llm_model = pick(found, "llm")
    assert llm_model is not None and llm_model.path == (models / "llm/tiny-Q4_K_M.gguf").resolve()
    assert llm_model.sha256 == sha256(GGUF)

    # a second run fetches nothing
    before = len(hub.gets())
    assert run(hub, models, write_catalog(tmp_path), "--profile", "tiny") == 0
    assert len(hub.gets()) == before


def test_a_cdn_that_refuses_head_is_fetched_with_get(hub: FakeHub, tmp_path: Path) -> None:
    serve_all(hub)
    hub.cdn_refuses_head = True
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--tts", "--profile", "tiny") == 0
    assert (models / "tts/tiny-vits/model_file.pth").is_file()
    assert [m.name for m in find_installed(models)] == ["tiny-vits"]


def test_resumes_after_the_connection_is_cut(hub: FakeHub, tmp_path: Path) -> None:
    serve_all(hub)
    hub.cut_first_get.add(sha256(GGUF))
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--llm", "--profile", "tiny") == 0
    assert (models / "llm/tiny-Q4_K_M.gguf").read_bytes() == GGUF
    cdn_gets = hub.gets(f"/cdn/{sha256(GGUF)}")
    assert len(cdn_gets) == 2
    assert cdn_gets[0][2] is None
    assert cdn_gets[1][2] == f"bytes={len(GGUF) // 2}-"  # picked up where the cut left it


def test_resumes_a_part_file_left_by_an_earlier_run(hub: FakeHub, tmp_path: Path) -> None:
    serve_all(hub)
    models = tmp_path / "models"
    part = models / "llm/.tiny-Q4_K_M.gguf.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(GGUF[:12345])
    assert run(hub, models, write_catalog(tmp_path), "--llm", "--profile", "tiny") == 0
    assert (models / "llm/tiny-Q4_K_M.gguf").read_bytes() == GGUF
    assert [g[2] for g in hub.gets("/cdn/")] == ["bytes=12345-"]
    assert not part.exists()


def test_a_server_that_ignores_range_still_gives_a_correct_file(hub: FakeHub, tmp_path: Path) -> None:
    serve_all(hub)
    hub.ignore_range = True
    models = tmp_path / "models"
    part = models / "llm/.tiny-Q4_K_M.gguf.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 999)  # stale junk: must be overwritten, not appended to
    assert run(hub, models, write_catalog(tmp_path), "--llm", "--profile", "tiny") == 0
    assert (models / "llm/tiny-Q4_K_M.gguf").read_bytes() == GGUF


def test_checksum_mismatch_is_refused(hub: FakeHub, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    serve_all(hub)
    # the hub's own sha256 says one thing, the bytes say another (a corrupted transfer or a bad mirror)
    hub.add("acme/tiny-GGUF", "tiny-Q4_K_M.gguf", GGUF, advertised_sha256=sha256(b"something else"))
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--llm", "--profile", "tiny") == 1
    err = capsys.readouterr().err
    assert "sha256" in err and "does not match" in err and "nothing was installed" in err
    assert not (models / "llm/tiny-Q4_K_M.gguf").exists()
    assert not (models / "llm/.tiny-Q4_K_M.gguf.part").exists()
    assert not (models / "manifest.json").exists()
    assert find_installed(models) == ()


def test_a_small_file_is_checked_against_its_git_blob_id(hub: FakeHub, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    serve_all(hub)
    hub.add("acme/tiny-sdxl", "model_index.json", MODEL_INDEX, lfs=False, advertised_git="0" * 40)
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--sdxl", "--profile", "tiny") == 1
    assert "git blob id" in capsys.readouterr().err
    assert not (models / "sdxl/tiny-sdxl/model_index.json").exists()
    assert find_installed(models) == ()  # no model_index.json: the folder is not a model


def test_a_pinned_checksum_wins_over_the_server(hub: FakeHub, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    serve_all(hub)
    models = tmp_path / "models"
    catalog = write_catalog(tmp_path, llm_pin=sha256(b"the file we reviewed"))
    assert run(hub, models, catalog, "--llm", "--profile", "tiny") == 1
    assert "changed upstream" in capsys.readouterr().err
    assert hub.gets() == []  # refused before fetching a byte

    catalog = write_catalog(tmp_path, llm_pin=sha256(GGUF))
    assert run(hub, models, catalog, "--llm", "--profile", "tiny") == 0
    record = json.loads((models / "manifest.json").read_text())["models"][0]
    assert record["files"][0]["sha256_source"] == "catalog"


def test_verify_catches_a_corrupted_file_and_fix_fetches_it_again(hub: FakeHub, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    serve_all(hub)
    models = tmp_path / "models"
    catalog = write_catalog(tmp_path)
    assert run(hub, models, catalog, "--profile", "tiny") == 0
    assert run(hub, models, catalog, "--verify") == 0
    assert "All 3 model(s) match" in capsys.readouterr().out

    unet = models / "sdxl/tiny-sdxl/unet/diffusion_pytorch_model.safetensors"
    data = bytearray(unet.read_bytes())
    data[1000] ^= 0xFF  # one flipped byte, same size
    unet.write_bytes(bytes(data))
    assert run(hub, models, catalog, "--verify") == 1
    out = capsys.readouterr()
    assert "FAILED tiny-sdxl" in out.out
    assert "unet/diffusion_pytorch_model.safetensors: sha256 mismatch" in out.out
    assert "--verify --fix" in out.err
    assert "ok     tiny-llm" in out.out

    gets_before = len(hub.gets())
    assert run(hub, models, catalog, "--verify", "--fix") == 0
    assert unet.read_bytes() == UNET
    refetched = [g[1] for g in hub.gets()[gets_before:]]
    assert refetched and all("tiny-sdxl" in p or p == f"/cdn/{sha256(UNET)}" for p in refetched)
    assert f"/cdn/{sha256(UNET)}" in refetched


def test_dry_run_fetches_nothing(hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    serve_all(hub)
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--profile", "tiny", "--dry-run") == 0
    assert hub.log == []  # not even HEAD
    assert not models.exists()
    out = capsys.readouterr().out
    assert "tiny-llm" in out and "tiny-sdxl" in out and "tiny-vits" in out and "MIT" in out
    assert f"{hub.url}/acme/tiny-GGUF/resolve/main/tiny-Q4_K_M.gguf" in out


def test_not_enough_disk_refuses_before_fetching(hub: FakeHub, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    serve_all(hub)
    real = dl.shutil.disk_usage
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda p: real(p)._replace(free=1000))
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--profile", "tiny") == 2
    assert "not enough free disk" in capsys.readouterr().err
    assert hub.gets() == [] and not (models / "manifest.json").exists()


def test_missing_file_on_the_server_names_the_fix(hub: FakeHub, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models"  # nothing served: every HEAD is a 404
    assert run(hub, models, write_catalog(tmp_path), "--llm", "--profile", "tiny") == 1
    assert "not found (404)" in capsys.readouterr().err


def test_builtin_catalog_urls_and_pins_are_used(hub: FakeHub, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The real lite LLM entry: its URL is the unsloth repo at a pinned revision, and its pinned
    sha256 refuses a file that differs, before downloading it."""
    fake = b"not the real llama"
    hub.add("unsloth/Llama-3.2-3B-Instruct-GGUF", "Llama-3.2-3B-Instruct-Q4_K_M.gguf", fake,
            revision="e7d0997e49c9cb00d88b4c1a6a16aa894b0bbc31")
    models = tmp_path / "models"
    argv = ["--profile", "lite", "--llm", "--models-dir", str(models), "--base-url", hub.url,
            "--retry-wait", "0"]
    with no_network():
        assert dl.main(argv) == 1
    assert "changed upstream" in capsys.readouterr().err
    heads = [r for r in hub.log if r[0] == "HEAD"]
    assert heads and heads[0][1] == (
        "/unsloth/Llama-3.2-3B-Instruct-GGUF/resolve/e7d0997e49c9cb00d88b4c1a6a16aa894b0bbc31/"
        "Llama-3.2-3B-Instruct-Q4_K_M.gguf")
    assert hub.gets() == []


def test_the_script_runs_standalone_with_the_standard_library(tmp_path: Path) -> None:
    """-I: isolated mode (no cwd on sys.path, no PYTHON* env) — the script needs nothing installed."""
    proc = subprocess.run([sys.executable, "-I", str(SCRIPT), "--dry-run", "--profile", "standard",
                           "--models-dir", str(tmp_path / "m")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "sdxl-base-1.0" in proc.stdout and "llama-3.1-8b-instruct-q4_k_m" in proc.stdout
    assert "vctk-vits" in proc.stdout and "xtts" not in proc.stdout
    assert not (tmp_path / "m").exists()
