"""HTTP with the standard library: probe a file's size and checksum, fetch it resumably.

- ``probe`` sends HEAD without following redirects, the way huggingface_hub does: for LFS files
  the hub answers with a redirect carrying ``X-Linked-Etag`` (the file's sha256) and
  ``X-Linked-Size``; small git files answer 200 with ``ETag`` = git blob sha1. Other hosts
  (GitHub release assets) are followed to the end for their Content-Length.
- ``fetch`` writes ``<dest>.part``, resumes it with ``Range: bytes=N-`` after a cut connection
  (within a run and across runs), checks size and checksum, then ``os.replace``s it into place.
  A file whose checksum does not match is deleted and refused.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from engine.tempnames import resume_part_path

log = logging.getLogger(__name__)

USER_AGENT = "storyreel-download-models/0.1 (+urllib)"
CHUNK = 1 << 20
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")


class FetchError(Exception):
    """A file could not be fetched; the message says which and what to do."""


class ChecksumMismatch(FetchError):
    """The bytes did not match the expected checksum; the partial file was deleted."""


@dataclass(frozen=True)
class RemoteMeta:
    url: str
    size: int | None
    sha256: str | None  # the hub's LFS sha256 (X-Linked-Etag), when it gives one
    git_sha1: str | None  # the hub's git blob id (ETag of a non-LFS file)


@dataclass(frozen=True)
class Fetched:
    path: Path
    size: int
    sha256: str
    resumed_from: int  # bytes already on disk when this run started (0 = fresh)
    attempts: int


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


def _clean_etag(value: str | None) -> str:
    if not value:
        return ""
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"').lower()


def probe(url: str, *, timeout: float = 30.0, max_hops: int = 6) -> RemoteMeta:
    opener = urllib.request.build_opener(_NoRedirect())
    current = url
    for hop in range(max_hops):
        req = urllib.request.Request(current, method="HEAD", headers={"User-Agent": USER_AGENT,
                                                                      "Accept-Encoding": "identity"})
        try:
            resp = opener.open(req, timeout=timeout)
            headers, status = resp.headers, resp.status
            resp.close()
        except urllib.error.HTTPError as exc:
            headers, status = exc.headers, exc.code
            exc.close()
            if hop and status in (403, 405):
                # a CDN URL signed for GET only (some release-asset stores): size unknown, GET will tell
                return RemoteMeta(url, None, None, None)
            if status not in (301, 302, 303, 307, 308):
                raise _http_error(url, status) from None
        except (urllib.error.URLError, OSError) as exc:
            raise FetchError(f"cannot reach {url}: {_reason(exc)} — check the connection or --base-url"
                             ) from None
        linked = _clean_etag(headers.get("X-Linked-Etag"))
        linked_size = headers.get("X-Linked-Size")
        if linked and _HEX64.match(linked):
            return RemoteMeta(url, int(linked_size) if linked_size else None, linked, None)
        if 200 <= status < 300:
            etag = _clean_etag(headers.get("ETag"))
            length = headers.get("Content-Length")
            return RemoteMeta(url, int(length) if length else None, etag if _HEX64.match(etag) else None,
                              etag if _HEX40.match(etag) else None)
        location = headers.get("Location")
        if not location:
            raise FetchError(f"{url}: redirect without a Location header")
        current = urllib.parse.urljoin(current, location)
    raise FetchError(f"{url}: too many redirects")


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "reason", None) or exc)


def _http_error(url: str, status: int) -> FetchError:
    if status == 404:
        return FetchError(f"{url}: not found (404) — the catalog entry may be out of date; "
                          "check the repo on the hub or pass your own with --catalog")
    if status in (401, 403):
        return FetchError(f"{url}: access denied ({status}) — the repo may be gated or private")
    return FetchError(f"{url}: HTTP {status}")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK * 4):
            h.update(chunk)
    return h.hexdigest()


def git_blob_sha1(path: Path) -> str:
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK * 4):
            h.update(chunk)
    return h.hexdigest()


class Progress:
    """One status line per file on a terminal, a line per 25 % elsewhere."""

    def __init__(self, label: str, total: int | None, stream: TextIO | None = None) -> None:
        self.label, self.total = label, total
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.t0 = self.last = time.monotonic()
        self.start_bytes: int | None = None
        self.quarter = -1

    def update(self, done: int, final: bool = False) -> None:
        if self.start_bytes is None:
            self.start_bytes = done
        now = time.monotonic()
        pct = int(done * 100 / self.total) if self.total else 0
        if self.tty:
            if not final and now - self.last < 0.5:
                return
            rate = (done - self.start_bytes) / max(now - self.t0, 1e-6)
            end = "\n" if final else ""
            self.stream.write(f"\r  {self.label}: {human(done)} / {human(self.total)} ({pct}%)"
                              f" {human(int(rate))}/s   {end}")
        elif (final and self.quarter < 4) or (self.total and pct // 25 > self.quarter):
            self.quarter = 4 if final else pct // 25
            self.stream.write(f"  {self.label}: {human(done)} / {human(self.total)} ({pct}%)\n")
        self.last = now
        self.stream.flush()


def human(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1000
    return f"{size:.2f} GB"


def fetch(url: str, dest: Path, *, size: int | None = None, sha256: str | None = None,
          git_sha1: str | None = None, retries: int = 5, retry_wait: float = 2.0, timeout: float = 60.0,
          label: str = "", on_progress: Callable[[int, int | None], None] | None = None,
          stream: TextIO | None = None) -> Fetched:
    """Download ``url`` to ``dest`` via ``.dest.part``; resume; verify; move into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = resume_part_path(dest)
    started_with = part.stat().st_size if part.exists() else 0
    label = label or dest.name
    progress = Progress(label, size, stream)
    attempts = 0
    while True:
        attempts += 1
        try:
            total = _get_once(url, part, size, timeout, progress, on_progress)
        except FetchError:
            raise
        except (urllib.error.URLError, http.client.HTTPException, OSError, _Short) as exc:
            if attempts > retries:
                raise FetchError(f"{url}: gave up after {attempts} attempts ({_reason(exc)}); "
                                 f"run the command again to resume from {human(_size(part))}") from None
            log.warning("%s: %s; resuming (attempt %d of %d)", label, _reason(exc), attempts + 1,
                        retries + 1)
            if retry_wait:
                time.sleep(retry_wait * attempts)
            continue
        if size is None:
            size = total
        break
    got = _size(part)
    progress.update(got, final=True)
    if size is not None and got != size:
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(f"{label}: got {got} bytes, expected {size}; the partial file was deleted")
    digest = sha256_of(part)
    if sha256 and digest != sha256:
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(f"{label}: sha256 {digest} does not match the expected {sha256}; "
                               "the download was deleted and nothing was installed")
    if git_sha1:
        blob = git_blob_sha1(part)
        if blob != git_sha1:
            part.unlink(missing_ok=True)
            raise ChecksumMismatch(f"{label}: git blob id {blob} does not match the hub's {git_sha1}; "
                                   "the download was deleted and nothing was installed")
    os.replace(part, dest)
    return Fetched(dest, got, digest, started_with, attempts)


class _Short(Exception):
    """The connection closed before the announced number of bytes arrived."""


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except FileNotFoundError:
        return 0


def _get_once(url: str, part: Path, size: int | None, timeout: float, progress: Progress,
              on_progress: Callable[[int, int | None], None] | None) -> int | None:
    """One GET (resuming if ``part`` has bytes). Returns the total size if known. Raises _Short or an
    OSError subclass when the connection breaks, so the caller retries."""
    offset = _size(part)
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    if size is not None and offset == size and size > 0:
        return size
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            # our .part is as long as (or longer than) the file: start again to be sure
            part.unlink(missing_ok=True)
            raise _Short("server refused the resume range (416); starting over") from None
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Short(f"HTTP {exc.code}") from None
        raise _http_error(url, exc.code) from None
    with resp:
        total: int | None
        if offset and resp.status == 206:
            m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != offset:
                part.unlink(missing_ok=True)
                raise _Short("server resumed at the wrong offset; starting over")
            total = int(m.group(3)) if m.group(3) != "*" else None
            mode = "ab"
        else:
            if offset:
                log.info("%s: server ignored the Range request; downloading from the start", part.name)
            offset, mode = 0, "wb"
            length = resp.headers.get("Content-Length")
            total = int(length) if length else None
        done = offset
        with open(part, mode) as f:
            while chunk := resp.read(CHUNK):
                f.write(chunk)
                done += len(chunk)
                progress.update(done)
                if on_progress:
                    on_progress(done, total)
    if total is not None and done < total:
        raise _Short(f"connection closed after {human(done)} of {human(total)}")
    return total
