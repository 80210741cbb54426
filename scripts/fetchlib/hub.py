"""Files on the Hugging Face hub, through huggingface_hub — the only StoryReel module that imports it.

huggingface_hub speaks the hub's protocol for us: the endpoint (``--base-url``, default
``$HF_ENDPOINT``), the token (``HF_TOKEN`` or a stored ``hf auth login``), redirects to the CDN,
Xet storage, retries, and resuming with ``Range`` when a connection is cut during a run (a run
that fails for good leaves no partial file: the next run starts that file again). It is imported
lazily, so ``--list``, ``--dry-run`` and ``--verify`` need only the standard library.

Files are staged with ``hf_hub_download(local_dir=...)`` under ``models/.downloads/hf/`` (which
keeps its metadata in ``.cache/huggingface/`` there), never in the hidden user cache; the caller
checks each file's sha256 and moves it into the model folder under its catalog name.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

from fetchlib.catalog import RemoteFile
from fetchlib.transfer import FetchError

_LOGIN = "set HF_TOKEN to a read token or run `hf auth login` (`huggingface-cli login` before v1.0)"


@dataclass(frozen=True)
class HubMeta:
    size: int | None
    sha256: str | None  # an LFS file's sha256 (the hub's ETag for it)
    git_sha1: str | None  # a small file's git blob id (its ETag)
    commit: str | None


def _hf() -> ModuleType:
    try:
        import huggingface_hub
    except ImportError:
        raise FetchError("huggingface_hub is not installed: `pip install -e .` (or `pip install "
                         "huggingface_hub`) in the environment that runs this script") from None
    if huggingface_hub.constants.is_offline_mode():
        raise FetchError("huggingface_hub is in offline mode (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set "
                         "in this shell): run the download with HF_HUB_OFFLINE=0")
    # No telemetry: besides its own reports, huggingface_hub (2.x) fetches an "agent harness"
    # registry from its default endpoint to build its User-Agent, whatever endpoint a call names.
    # The downloader talks to the hub or mirror it was given, about the files it fetches, only.
    huggingface_hub.constants.HF_HUB_DISABLE_TELEMETRY = True
    return huggingface_hub


def _token(hf: ModuleType) -> str | bool:
    """HF_TOKEN or a stored login, sent explicitly (StoryReel's offline env forbids implicit tokens)."""
    token = hf.get_token()
    return token if token else False


def probe(f: RemoteFile, endpoint: str, timeout: float) -> HubMeta:
    """Size and checksum the hub publishes for ``f`` (one HEAD, by huggingface_hub)."""
    hf = _hf()
    url = hf.hf_hub_url(f.repo, f.remote, revision=f.revision, endpoint=endpoint)
    try:
        meta = hf.get_hf_file_metadata(url, token=_token(hf), timeout=timeout, endpoint=endpoint)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one sentence (or re-raises)
        _explain(hf, exc, f, endpoint)
    etag = (meta.etag or "").lower()
    return HubMeta(meta.size, etag if len(etag) == 64 else None, etag if len(etag) == 40 else None,
                   meta.commit_hash)


def staging_dir(downloads: Path, f: RemoteFile) -> Path:
    return downloads / "hf" / f"{f.repo.replace('/', '--')}--{f.revision}"


def download(f: RemoteFile, downloads: Path, endpoint: str, timeout: float) -> Path:
    """Fetch ``f`` into its staging folder; returns the file there (its checksum is the caller's)."""
    hf = _hf()
    local_dir = staging_dir(downloads, f)
    # huggingface_hub names each transfer's temporary file uniquely and never reuses one: what a
    # killed run left is only taking space
    for stale in (local_dir / ".cache" / "huggingface" / "download").rglob("*.incomplete"):
        stale.unlink(missing_ok=True)
    try:
        got = hf.hf_hub_download(f.repo, f.remote, revision=f.revision, local_dir=local_dir,
                                 endpoint=endpoint, token=_token(hf), etag_timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        _explain(hf, exc, f, endpoint)
    return Path(got)


def tidy(downloads: Path, files: tuple[RemoteFile, ...]) -> None:
    """Remove the staging folders of ``files`` (their files have been moved out) and empty parents."""
    for f in files:
        shutil.rmtree(staging_dir(downloads, f), ignore_errors=True)
    for d in (downloads / "hf", downloads):
        try:
            d.rmdir()
        except OSError:
            pass


def _explain(hf: ModuleType, exc: BaseException, f: RemoteFile, endpoint: str) -> NoReturn:
    """One sentence for the creator, raised as FetchError; errors that are not about the hub re-raise."""
    errors: Any = hf.errors
    repo_url = f"{endpoint.rstrip('/')}/{f.repo}"
    where = f"{f.repo}/{f.remote}@{f.revision}"
    if isinstance(exc, errors.GatedRepoError):
        if _token(hf):
            raise FetchError(f"{f.repo} is a gated repo and the Hugging Face token in use (HF_TOKEN or "
                             f"`hf auth login`) has no access to it: accept its terms at {repo_url} with "
                             "that account, then run this again") from None
        raise FetchError(f"{f.repo} is a gated repo: accept its terms at {repo_url}, then {_LOGIN} "
                         "and run this again") from None
    if isinstance(exc, errors.RepositoryNotFoundError):
        raise FetchError(f"{f.repo} was not found on {endpoint}, or it is private (for a private repo "
                         f"{_LOGIN}); the catalog entry may be out of date — pass your own with --catalog"
                         ) from None
    if isinstance(exc, (errors.RevisionNotFoundError, errors.RemoteEntryNotFoundError)):
        raise FetchError(f"{where}: not found (404) — the catalog entry may be out of date; check the repo "
                         f"at {repo_url} or pass your own entry with --catalog") from None
    if isinstance(exc, errors.OfflineModeIsEnabled):
        raise FetchError("huggingface_hub is in offline mode: run the download with HF_HUB_OFFLINE=0"
                         ) from None
    if isinstance(exc, errors.HfHubHTTPError):
        response = getattr(exc, "response", None)
        status = response.status_code if response is not None else "?"
        raise FetchError(f"{where}: the hub answered HTTP {status}; try again later") from None
    # huggingface_hub's own HTTP client (httpx, or httpx2 since v2) raises its transport errors as they are
    transport = type(exc).__module__.split(".")[0].startswith(("httpx", "httpcore"))
    if transport or isinstance(exc, (errors.LocalEntryNotFoundError, OSError)):
        cause = exc.__cause__ or exc
        raise FetchError(f"{where}: cannot download from {endpoint} ({type(cause).__name__}: {cause}) — "
                         "check the connection, HF_ENDPOINT or --base-url, and run this again") from None
    raise exc
