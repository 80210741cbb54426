"""Checksums, sizes, errors, and the one small HTTP path of our own: files that live off the hub.

Files on the Hugging Face hub go through huggingface_hub (fetchlib/hub.py). A file elsewhere (a
GitHub release asset) is fetched here with the standard library: ``<dest>.part``, resumed with
``Range: bytes=N-`` after a cut connection (within a run and across runs), then moved into place.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from engine.tempnames import resume_part_path

log = logging.getLogger(__name__)

USER_AGENT = "storyreel-download-models/0.2 (+urllib)"
CHUNK = 1 << 20


class FetchError(Exception):
    """A file could not be fetched; the message says which and what to do."""


class ChecksumMismatch(FetchError):
    """The bytes did not match the expected checksum; the download was deleted."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    size: int
    resumed_from: int  # bytes already on disk when this run started (0 = fresh)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK * 4):
            h.update(chunk)
    return h.hexdigest()


def git_blob_sha1(path: Path) -> str:
    """The hub's ETag of a small (non-LFS) file: the git blob id of its bytes."""
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK * 4):
            h.update(chunk)
    return h.hexdigest()


def human(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1000
    return f"{size:.2f} GB"


class _Short(Exception):
    """The connection closed (or the server failed) before the whole file arrived: try again."""


def fetch_url(url: str, dest: Path, *, retries: int = 5, retry_wait: float = 2.0, timeout: float = 60.0,
              label: str = "") -> Fetched:
    """Download ``url`` (redirects followed) to ``dest`` via ``.dest.part``, resuming what is there."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = resume_part_path(dest)
    started_with = _size(part)
    label = label or dest.name
    for attempt in range(1, retries + 2):
        try:
            _get_once(url, part, timeout)
            break
        except (urllib.error.URLError, http.client.HTTPException, OSError, _Short) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                raise _http_error(url, exc.code) from None
            if attempt > retries:
                raise FetchError(f"{url}: gave up after {attempt} attempts ({_reason(exc)}); "
                                 f"run the command again to resume from {human(_size(part))}") from None
            log.warning("%s: %s; resuming (attempt %d of %d)", label, _reason(exc), attempt + 1, retries + 1)
            time.sleep(retry_wait * attempt)
    os.replace(part, dest)
    size = dest.stat().st_size
    log.info("  %s: %s%s", label, human(size),
             f" (resumed from {human(started_with)})" if started_with else "")
    return Fetched(dest, size, started_with)


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "reason", None) or exc)


def _http_error(url: str, status: int) -> FetchError:
    if status == 404:
        return FetchError(f"{url}: not found (404) — the catalog entry may be out of date; "
                          "pass your own with --catalog")
    return FetchError(f"{url}: HTTP {status}")


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except FileNotFoundError:
        return 0


def _get_once(url: str, part: Path, timeout: float) -> None:
    """One GET, resuming if ``part`` has bytes. Raises _Short or an OSError when the transfer breaks."""
    offset = _size(part)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:  # our .part is as long as (or longer than) the file: start again
            part.unlink(missing_ok=True)
            raise _Short("server refused the resume range (416); starting over") from None
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Short(f"HTTP {exc.code}") from None
        raise
    with resp:
        mode = "wb"
        if offset and resp.status == 206:
            m = re.match(r"bytes (\d+)-", resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != offset:
                part.unlink(missing_ok=True)
                raise _Short("server resumed at the wrong offset; starting over")
            mode = "ab"
        elif offset:
            log.info("%s: the server ignored the Range request; downloading from the start", part.name)
            offset = 0
        length = resp.headers.get("Content-Length")
        expected = offset + int(length) if length else None
        done = offset
        with open(part, mode) as f:
            while chunk := resp.read(CHUNK):
                f.write(chunk)
                done += len(chunk)
    if expected is not None and done < expected:
        raise _Short(f"connection closed after {human(done)} of {human(expected)}")
