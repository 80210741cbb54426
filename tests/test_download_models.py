"""scripts/download_models.py over real HTTP, against a hub look-alike on 127.0.0.1.

The hub files are fetched by huggingface_hub, pointed at the fake hub through --base-url or
HF_ENDPOINT. The fake hub answers what huggingface_hub asks, the way the real hub does:
``HEAD|GET /<repo>/resolve/<rev>/<file>``; an LFS file answers 302 to a CDN on another origin with
``X-Linked-Etag`` (sha256), ``X-Linked-Size`` and ``X-Repo-Commit``; a small file answers 200 with
``ETag`` = its git blob id; a missing repo 401 ``X-Error-Code: RepoNotFound``, a missing file 404
``EntryNotFound``, a gated repo 401 (no token) or 403 (a token without access) ``GatedRepo``.
GitHub release assets redirect to the CDN. The CDN honours Range and can cut a file half-way.
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

COMMIT = "c0ffee" + "0" * 34
GOOD_TOKEN = "hf_test_good_token"


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def git_sha1(b: bytes) -> str:
    return hashlib.sha1(f"blob {len(b)}\0".encode() + b).hexdigest()


Request = tuple[str, str, str, str | None, str | None]  # (server, method, path, Range, Authorization)


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
    #: (server, method, path, Range, Authorization) of every request, hub and CDN
    log: list[Request] = field(default_factory=list)
    cut_first_get: set[str] = field(default_factory=set)  # cdn keys cut half-way once
    fail_gets: set[str] = field(default_factory=set)  # cdn keys answered 500 (until removed)
    gated: set[str] = field(default_factory=set)  # repos that need GOOD_TOKEN
    ignore_range: bool = False
    url: str = ""
    cdn_url: str = ""

    def add(self, repo: str, remote: str, data: bytes, *, lfs: bool = True, revision: str = "main",
            **kw: Any) -> str:
        path = f"/{repo}/resolve/{revision}/{remote}"
        self.files[path] = Served(data, lfs, **kw)
        self.cdn[sha256(data)] = data
        return path

    def add_github(self, repo: str, remote: str, data: bytes) -> None:
        self.files[f"/{repo}/{remote}"] = Served(data, True)
        self.cdn[sha256(data)] = data

    def requests(self, method: str = "", path_part: str = "") -> list[Request]:
        return [r for r in self.log if (not method or r[1] == method) and path_part in r[2]]

    def gets(self, path_part: str = "") -> list[Request]:
        return self.requests("GET", path_part)

    def known_repo(self, path: str) -> bool:
        return any(p.startswith(path.split("/resolve/")[0] + "/resolve/") for p in self.files)


def _handler(hub: FakeHub, name: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return None

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def do_GET(self) -> None:
            self._serve(head=False)

        def _empty(self, status: int, **headers: str) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k.replace("_", "-"), v)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _serve(self, head: bool) -> None:
            rng = self.headers.get("Range")
            auth = self.headers.get("Authorization")
            hub.log.append((name, "HEAD" if head else "GET", self.path, rng, auth))
            if name == "cdn":
                return self._bytes(self.path[len("/cdn/"):], head, rng)
            repo = "/".join(self.path.split("/")[1:3])
            if repo in hub.gated:
                if auth != f"Bearer {GOOD_TOKEN}":
                    return self._empty(403 if auth else 401, X_Error_Code="GatedRepo", X_Repo_Commit=COMMIT,
                                       X_Error_Message=f"Access to model {repo} is restricted.")
            served = hub.files.get(self.path)
            if served is None:
                if "/resolve/" in self.path and hub.known_repo(self.path):
                    return self._empty(404, X_Error_Code="EntryNotFound", X_Repo_Commit=COMMIT)
                return self._empty(401 if "/resolve/" in self.path else 404, X_Error_Code="RepoNotFound")
            if served.lfs:
                headers = {"Location": f"{hub.cdn_url}/cdn/{sha256(served.data)}"}
                if "/resolve/" in self.path:
                    headers.update(X_Linked_Etag=f'"{served.advertised_sha256 or sha256(served.data)}"',
                                   X_Linked_Size=str(len(served.data)), X_Repo_Commit=COMMIT)
                return self._empty(302, **headers)
            etag = served.advertised_git or git_sha1(served.data)
            return self._bytes(sha256(served.data), head, rng, ETag=f'"{etag}"', X_Repo_Commit=COMMIT)

        def _bytes(self, key: str, head: bool, rng: str | None, **headers: str) -> None:
            data = hub.cdn[key]
            if not head and key in hub.fail_gets:
                return self._empty(500)
            start = 0
            if rng and not hub.ignore_range:
                start = int(rng.split("=")[1].split("-")[0])
                if start >= len(data):
                    return self._empty(416, Content_Range=f"bytes */{len(data)}")
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            for k, v in headers.items():
                self.send_header(k.replace("_", "-"), v)
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
def hub(hf_env: None) -> Iterator[FakeHub]:
    """The hub and its CDN: two servers, so the CDN is another origin as on the real hub."""
    h = FakeHub()
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _handler(h, n)) for n in ("hub", "cdn")]
    h.url, h.cdn_url = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    for s in servers:
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield h
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.fixture
def hf_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """huggingface_hub online, on plain HTTP, with no token and no user cache of the machine.
    It reads these once, when imported: where an earlier test imported it, its constants follow."""
    home = tmp_path / "hf-home"
    env = {"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1",
           "HF_HOME": str(home), "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(k, raising=False)
    import huggingface_hub.constants as c

    for attr, value in (("HF_HUB_OFFLINE", False), ("HF_HUB_DISABLE_XET", True),
                        ("HF_TOKEN_PATH", str(home / "token")),
                        ("HF_STORED_TOKENS_PATH", str(home / "tokens")),
                        ("HF_HUB_CACHE", str(home / "hub"))):
        if hasattr(c, attr):
            monkeypatch.setattr(c, attr, value)


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


def _no_leftovers(models: Path) -> None:
    """No partial or staged file anywhere: not ours (.part), not huggingface_hub's (.incomplete)."""
    assert not [p for p in models.rglob("*") if p.name.endswith((".part", ".incomplete"))]
    assert not list(models.glob(".downloads/hf/*/*.gguf"))


def test_profile_fetches_every_model_and_writes_the_manifest(hub: FakeHub, tmp_path: Path) -> None:
    serve_all(hub)
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--profile", "tiny") == 0

    assert (models / "llm/tiny-Q4_K_M.gguf").read_bytes() == GGUF
    assert (models / "sdxl/tiny-sdxl/unet/diffusion_pytorch_model.safetensors").read_bytes() == UNET
    assert (models / "sdxl/tiny-sdxl/vae/diffusion_pytorch_model.safetensors").read_bytes() == VAE
    assert (models / "sdxl/tiny-sdxl/model_index.json").read_bytes() == MODEL_INDEX
    assert not (models / "sdxl/tiny-sdxl/unet/diffusion_pytorch_model.fp16.safetensors").exists()
    vits = models / "tts/tiny-vits"
    assert sorted(p.name for p in vits.iterdir()) == ["config.json", "model_file.pth", "speaker_ids.json"]
    cfg = json.loads((vits / "config.json").read_text())
    assert cfg["speakers_file"] == str((vits / "speaker_ids.json").resolve())
    assert cfg["model_args"]["speakers_file"] == cfg["speakers_file"]
    _no_leftovers(models)
    # the staging folders (huggingface_hub's local_dir and its .cache/huggingface) and the archive are gone
    assert not (models / ".downloads").exists()
    # every byte came through the CDN the hub redirected to, not through a hidden user cache
    cdn_paths = {r[2] for r in hub.gets() if r[0] == "cdn"}
    assert cdn_paths >= {f"/cdn/{sha256(b)}" for b in (GGUF, UNET, VAE, ZIP)}
    assert not (tmp_path / "hf-home" / "hub").exists()

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

    # a second run asks nothing of the network
    before = len(hub.log)
    assert run(hub, models, write_catalog(tmp_path), "--profile", "tiny") == 0
    assert len(hub.log) == before


def test_a_github_asset_is_fetched_by_our_own_path(hub: FakeHub, tmp_path: Path) -> None:
    serve_all(hub)
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--tts", "--profile", "tiny") == 0
    assert (models / "tts/tiny-vits/model_file.pth").is_file()
    assert [m.name for m in find_installed(models)] == ["tiny-vits"]
    assert [r[1:3] for r in hub.log] == [("GET", f"/coqui-ai/TTS/{ZIP_REMOTE}"),  # no HEAD, no hub library
                                         ("GET", f"/cdn/{sha256(ZIP)}")]


def test_resumes_after_the_connection_is_cut(hub: FakeHub, tmp_path: Path) -> None:
    """huggingface_hub resumes with Range from the last chunk it wrote (it writes 10 MiB chunks, so
    the file is bigger than one)."""
    serve_all(hub)
    big = bytes(range(256)) * (96 * 1024)  # 24 MiB
    hub.add("acme/tiny-GGUF", "tiny-Q4_K_M.gguf", big)
    hub.cut_first_get.add(sha256(big))
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--llm", "--profile", "tiny") == 0
    assert sha256((models / "llm/tiny-Q4_K_M.gguf").read_bytes()) == sha256(big)
    cdn_gets = hub.gets(f"/cdn/{sha256(big)}")
    assert len(cdn_gets) == 2 and cdn_gets[0][3] is None
    resumed_at = int((cdn_gets[1][3] or "bytes=0-")[len("bytes="):-1])
    assert 0 < resumed_at <= len(big) // 2  # picked up near where the cut left it, not from zero
    _no_leftovers(models)


def test_a_cut_on_a_server_that_ignores_range_still_gives_a_correct_file(hub: FakeHub,
                                                                         tmp_path: Path) -> None:
    serve_all(hub)
    hub.cut_first_get.add(sha256(GGUF))
    hub.ignore_range = True
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--llm", "--profile", "tiny") == 0
    assert (models / "llm/tiny-Q4_K_M.gguf").read_bytes() == GGUF
    assert len(hub.gets(f"/cdn/{sha256(GGUF)}")) == 2


def test_a_failed_run_leaves_nothing_half_done_and_the_next_run_completes(
        hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    serve_all(hub)
    hub.fail_gets.add(sha256(GGUF))
    models = tmp_path / "models"
    catalog = write_catalog(tmp_path)
    assert run(hub, models, catalog, "--llm", "--profile", "tiny") == 1
    assert "HTTP 500" in capsys.readouterr().err
    _no_leftovers(models)
    assert find_installed(models) == ()

    hub.fail_gets.clear()
    assert run(hub, models, catalog, "--llm", "--profile", "tiny") == 0
    assert sha256((models / "llm/tiny-Q4_K_M.gguf").read_bytes()) == sha256(GGUF)
    assert [m.name for m in find_installed(models)] == ["tiny-llm"]


def test_resumes_a_part_file_of_a_github_asset_left_by_an_earlier_run(hub: FakeHub, tmp_path: Path) -> None:
    serve_all(hub)
    models = tmp_path / "models"
    part = models / ".downloads/.tiny-vits.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(ZIP[:12345])
    assert run(hub, models, write_catalog(tmp_path), "--tts", "--profile", "tiny") == 0
    assert (models / "tts/tiny-vits/model_file.pth").read_bytes() == b"vits" * 10_000
    assert [g[3] for g in hub.gets("/cdn/")] == ["bytes=12345-"]
    assert not part.exists()


def test_a_github_server_that_ignores_range_still_gives_a_correct_file(hub: FakeHub, tmp_path: Path) -> None:
    serve_all(hub)
    hub.ignore_range = True
    models = tmp_path / "models"
    part = models / ".downloads/.tiny-vits.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 999)  # stale junk: must be overwritten, not appended to
    assert run(hub, models, write_catalog(tmp_path), "--tts", "--profile", "tiny") == 0
    record = json.loads((models / "manifest.json").read_text())["models"][0]
    assert record["archive"]["sha256"] == sha256(ZIP)


def test_checksum_mismatch_is_refused(hub: FakeHub, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    serve_all(hub)
    # the hub's own sha256 says one thing, the bytes say another (a corrupted transfer or a bad mirror)
    hub.add("acme/tiny-GGUF", "tiny-Q4_K_M.gguf", GGUF, advertised_sha256=sha256(b"something else"))
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--llm", "--profile", "tiny") == 1
    err = capsys.readouterr().err
    assert f"sha256 {sha256(GGUF)} does not match the expected {sha256(b'something else')}" in err
    assert "the download was deleted and nothing was installed" in err
    assert hub.gets(f"/cdn/{sha256(GGUF)}")  # it was downloaded, then refused
    assert not list(models.rglob("tiny-Q4_K_M.gguf"))  # neither installed nor left staged
    _no_leftovers(models)
    assert not (models / "manifest.json").exists()
    assert find_installed(models) == ()

    hub.add("acme/tiny-GGUF", "tiny-Q4_K_M.gguf", GGUF)  # the mirror is fixed: the next run fetches it again
    assert run(hub, models, write_catalog(tmp_path), "--llm", "--profile", "tiny") == 0
    assert (models / "llm/tiny-Q4_K_M.gguf").read_bytes() == GGUF
    assert len(hub.gets(f"/cdn/{sha256(GGUF)}")) == 2


def test_a_small_file_is_checked_against_its_git_blob_id(hub: FakeHub, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    serve_all(hub)
    hub.add("acme/tiny-sdxl", "model_index.json", MODEL_INDEX, lfs=False, advertised_git="0" * 40)
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--sdxl", "--profile", "tiny") == 1
    assert "git blob id" in capsys.readouterr().err
    assert not list(models.rglob("model_index.json"))
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


def test_gated_repo_without_a_token_says_how_to_log_in(hub: FakeHub, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    serve_all(hub)
    hub.gated.add("acme/tiny-GGUF")
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--llm", "--profile", "tiny") == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: acme/tiny-GGUF is a gated repo: accept its terms at {hub.url}/acme/tiny-GGUF, then set "
        "HF_TOKEN to a read token or run `hf auth login` (`huggingface-cli login` before v1.0) and run "
        "this again"]
    assert "Traceback" not in err
    assert [r[4] for r in hub.requests("HEAD")] == [None] and hub.gets() == []


def test_gated_repo_with_hf_token(hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    serve_all(hub)
    hub.gated.add("acme/tiny-GGUF")
    models = tmp_path / "models"
    monkeypatch.setenv("HF_TOKEN", "hf_someone_elses")
    assert run(hub, models, write_catalog(tmp_path), "--llm", "--profile", "tiny") == 1
    assert "has no access to it: accept its terms at" in capsys.readouterr().err

    monkeypatch.setenv("HF_TOKEN", GOOD_TOKEN)
    assert run(hub, models, write_catalog(tmp_path), "--llm", "--profile", "tiny") == 0
    assert (models / "llm/tiny-Q4_K_M.gguf").read_bytes() == GGUF
    assert {r[4] for r in hub.log if r[0] == "hub"} == {"Bearer hf_someone_elses", f"Bearer {GOOD_TOKEN}"}
    assert {r[4] for r in hub.log if r[0] == "cdn"} == {None}  # the token never leaves the hub


def test_hf_endpoint_is_honoured(hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serve_all(hub)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    models = tmp_path / "models"
    argv = ["--catalog", str(write_catalog(tmp_path)), "--models-dir", str(models),
            "--llm", "--profile", "tiny"]
    with no_network():
        assert dl.main(argv) == 0
    assert (models / "llm/tiny-Q4_K_M.gguf").read_bytes() == GGUF
    assert hub.requests("HEAD", "/acme/tiny-GGUF/resolve/main/tiny-Q4_K_M.gguf")


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
    assert [g[2] for g in hub.gets()[gets_before:]] == [f"/cdn/{sha256(UNET)}"]  # only the bad file


def test_dry_run_makes_no_request(hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    serve_all(hub)
    models = tmp_path / "models"
    assert run(hub, models, write_catalog(tmp_path), "--profile", "tiny", "--dry-run") == 0
    assert hub.log == []  # not even HEAD, on the hub or the CDN
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


def test_a_missing_file_or_repo_names_the_fix(hub: FakeHub, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models"
    catalog = write_catalog(tmp_path)
    hub.add("acme/tiny-GGUF", "README.md", b"a repo without the file", lfs=False)
    assert run(hub, models, catalog, "--llm", "--profile", "tiny") == 1
    err = capsys.readouterr().err
    assert "error: acme/tiny-GGUF/tiny-Q4_K_M.gguf@main: not found (404)" in err and "--catalog" in err

    hub.files.clear()  # no such repo at all (or a private one): the hub answers 401 RepoNotFound
    assert run(hub, models, catalog, "--llm", "--profile", "tiny") == 1
    err = capsys.readouterr().err
    assert "acme/tiny-GGUF was not found on" in err and "HF_TOKEN" in err
    assert hub.gets() == []


def test_offline_mode_left_on_in_the_shell_is_named(hub: FakeHub, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """StoryReel's own processes run with HF_HUB_OFFLINE=1; a shell that exported it says so."""
    import huggingface_hub.constants as c

    serve_all(hub)
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)  # what HF_HUB_OFFLINE=1 at import time gives
    assert run(hub, tmp_path / "models", write_catalog(tmp_path), "--llm", "--profile", "tiny") == 1
    err = capsys.readouterr().err
    assert "huggingface_hub is in offline mode" in err and "HF_HUB_OFFLINE=0" in err
    assert hub.log == []


def test_an_unreachable_hub_says_so(hf_env: None, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port on 127.0.0.1 that nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    argv = ["--catalog", str(write_catalog(tmp_path)), "--models-dir", str(tmp_path / "models"),
            "--base-url", url, "--llm", "--profile", "tiny"]
    with no_network():
        assert dl.main(argv) == 1
    err = capsys.readouterr().err
    assert f"acme/tiny-GGUF/tiny-Q4_K_M.gguf@main: cannot download from {url} (ConnectError" in err
    assert "check the connection, HF_ENDPOINT or --base-url" in err and "Traceback" not in err


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
    heads = hub.requests("HEAD")
    assert heads and heads[0][2] == (
        "/unsloth/Llama-3.2-3B-Instruct-GGUF/resolve/e7d0997e49c9cb00d88b4c1a6a16aa894b0bbc31/"
        "Llama-3.2-3B-Instruct-Q4_K_M.gguf")
    assert hub.gets() == []


def test_the_script_runs_standalone_with_the_standard_library(tmp_path: Path) -> None:
    """-I: isolated mode (no cwd on sys.path, no PYTHON* env) — a dry run needs nothing installed."""
    proc = subprocess.run([sys.executable, "-I", str(SCRIPT), "--dry-run", "--profile", "standard",
                           "--models-dir", str(tmp_path / "m")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "sdxl-base-1.0" in proc.stdout and "llama-3.1-8b-instruct-q4_k_m" in proc.stdout
    assert "vctk-vits" in proc.stdout and "xtts" not in proc.stdout
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("args", [["--dry-run", "--profile", "quality"], ["--list"], ["--verify"]])
def test_list_dry_run_and_verify_do_not_import_huggingface_hub(tmp_path: Path, args: list[str]) -> None:
    code = ("import runpy, sys\n"
            f"sys.argv = ['download_models.py', '--models-dir', {str(tmp_path / 'm')!r}, *{args!r}]\n"
            "try:\n"
            f"    runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
            "except SystemExit as exc:\n"
            "    assert not exc.code, exc.code\n"
            "print('imported:', sorted(m for m in sys.modules\n"
            "                          if m.startswith(('huggingface_hub', 'httpx'))))\n")
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "imported: []"


def test_huggingface_hub_is_imported_only_by_the_downloader() -> None:
    root = SCRIPT.parent.parent
    importers = sorted(str(p.relative_to(root)) for folder in ("engine", "server", "scripts")
                       for p in (root / folder).rglob("*.py")
                       if any(line.lstrip().startswith(("import huggingface_hub", "from huggingface_hub"))
                              for line in p.read_text(encoding="utf-8").splitlines()))
    assert importers == ["scripts/fetchlib/hub.py"]
