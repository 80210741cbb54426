"""Plan, fetch, unpack, record and verify models. Standard library only, except that hub files are
fetched through fetchlib.hub (huggingface_hub, imported when a hub file is probed or fetched)."""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from engine.tempnames import atomic_folder, resume_part_path
from fetchlib import hub, manifest
from fetchlib.catalog import ModelEntry, RemoteFile
from fetchlib.transfer import ChecksumMismatch, FetchError, fetch_url, git_blob_sha1, human, sha256_of

log = logging.getLogger(__name__)

#: kept free on the disk beyond what the downloads need
DISK_MARGIN = 256 * 1000 * 1000
DOWNLOADS = ".downloads"


@dataclass(frozen=True)
class Hosts:
    hub_url: str = "https://huggingface.co"
    github_url: str = "https://github.com"


@dataclass(frozen=True)
class Options:
    retries: int = 5
    retry_wait: float = 2.0
    timeout: float = 60.0
    force: bool = False


@dataclass(frozen=True)
class PlannedFile:
    file: RemoteFile
    url: str
    dest: Path
    size: int | None
    sha256: str | None
    sha256_source: str  # catalog | hub | computed
    git_sha1: str | None
    have: int  # bytes already on disk (a complete file, or a .part to resume)


@dataclass(frozen=True)
class PlannedModel:
    entry: ModelEntry
    files: tuple[PlannedFile, ...]
    installed: bool  # the manifest lists it and every file is in place

    @property
    def size(self) -> int:
        return sum(f.size if f.size is not None else f.file.size for f in self.files)

    @property
    def to_fetch(self) -> int:
        if self.installed:
            return 0
        return sum(max(0, (f.size if f.size is not None else f.file.size) - f.have) for f in self.files)

    @property
    def disk_needed(self) -> int:
        # an archive needs room for itself and what it unpacks to
        extra = sum(f.size or f.file.size for f in self.files if f.file.unpack) if not self.installed else 0
        return self.to_fetch + extra


def model_root(models_dir: Path, entry: ModelEntry) -> Path:
    return models_dir / entry.path


def _dest(models_dir: Path, entry: ModelEntry, f: RemoteFile) -> Path:
    if f.unpack:
        return models_dir / DOWNLOADS / f"{entry.name}{PurePosixPath(f.remote).suffix or '.zip'}"
    root = model_root(models_dir, entry)
    return root / f.local if f.local else root


def _on_disk(dest: Path, resumable: bool) -> int:
    if dest.is_file():
        return dest.stat().st_size
    part = resume_part_path(dest)
    return part.stat().st_size if resumable and part.is_file() else 0


def plan(entry: ModelEntry, models_dir: Path, hosts: Hosts, *, offline: bool, force: bool = False,
         timeout: float = 30.0) -> PlannedModel:
    """What fetching ``entry`` involves. ``offline`` (dry run) uses catalog sizes only; otherwise each
    hub file's exact size and checksum are read from the hub (huggingface_hub's HEAD). A file that
    lives elsewhere keeps its catalog size until it arrives."""
    record = manifest.find(models_dir, entry.name)
    installed = bool(record) and not force and manifest.files_present(models_dir, record or {})
    files = []
    for f in entry.files:
        url = f.url(hosts.hub_url, hosts.github_url)
        dest = _dest(models_dir, entry, f)
        size, sha, blob = (f.size if f.sha256 else None), f.sha256, None
        # offline (dry run) we can only say where the checksum will come from
        source = "catalog" if f.sha256 else ("hub" if f.host == "hf" else "computed")
        if not offline and not installed and f.host == "hf":
            meta = hub.probe(f, hosts.hub_url, timeout)
            if f.sha256 and meta.sha256 and meta.sha256 != f.sha256:
                raise ChecksumMismatch(
                    f"{entry.name}: the hub now reports sha256 {meta.sha256} for {f.remote}, but the catalog "
                    f"pins {f.sha256}; the file changed upstream — refusing it (update the catalog entry "
                    "or pass your own with --catalog)")
            if f.sha256 and meta.size is not None and meta.size != f.size:
                raise ChecksumMismatch(f"{entry.name}: {f.remote} is {meta.size} bytes on the hub, "
                                       f"the catalog pins {f.size}; refusing it")
            size = meta.size if meta.size is not None else size
            sha = sha or meta.sha256
            blob = meta.git_sha1
            if not sha and not blob:
                source = "computed"
        have = 0 if installed else _on_disk(dest, resumable=f.host != "hf")
        files.append(PlannedFile(f, url, dest, size, sha, source, blob, have))
    return PlannedModel(entry, tuple(files), installed)


def describe(pm: PlannedModel, *, files: bool) -> list[str]:
    e = pm.entry
    state = "installed" if pm.installed else (f"fetch {human(pm.to_fetch)}" if pm.to_fetch else "complete")
    lines = [f"  {e.kind:<4} {e.name:<30} {human(pm.size):>9}  {state:<16} {e.licence}"]
    if e.non_commercial:
        lines.append(f"       NOTE: {e.licence} — read {e.licence_url} before use")
    if files:
        for pf in pm.files:
            check = {"catalog": "sha256 pinned in catalog", "hub": "checked against the hub's checksum",
                     "computed": "no published checksum: hashed on arrival"}[pf.sha256_source]
            lines.append(f"       {human(pf.size or pf.file.size):>9}  {pf.url}  ({check})")
    return lines


def _safe_extract(archive: Path, into: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        for n in names:
            p = PurePosixPath(n)
            if p.is_absolute() or ".." in p.parts:
                raise FetchError(f"{archive.name}: unsafe path {n!r} in the archive; refusing it")
        tops = {PurePosixPath(n).parts[0] for n in names}
        strip = len(tops) == 1 and all(len(PurePosixPath(n).parts) > 1 for n in names)
        for n in names:
            rel = PurePosixPath(*PurePosixPath(n).parts[1:]) if strip else PurePosixPath(n)
            target = into / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(n) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def _coqui_paths(root: Path) -> None:
    """What Coqui's ModelManager does after unpacking: point config keys at files in this folder."""
    cfg_path = root / "config.json"
    if not cfg_path.is_file():
        return
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    changed = False
    for fname, keys in (("speaker_ids.json", ("speakers_file",)), ("speakers.json", ("d_vector_file",)),
                        ("speakers.pth", ("d_vector_file",)), ("scale_stats.npy", ("audio.stats_path",))):
        if not (root / fname).is_file():
            continue
        for key in keys:
            for dotted in (key, f"model_args.{key}"):
                *parents, leaf = dotted.split(".")
                node: Any = cfg
                for part in parents:
                    node = node.get(part) if isinstance(node, dict) else None
                if isinstance(node, dict) and leaf in node:
                    node[leaf] = str((root / fname).resolve())
                    changed = True
    if changed:
        cfg_path.write_text(json.dumps(cfg, indent=2), encoding="utf-8")


def _check(path: Path, pf: PlannedFile) -> tuple[str | None, str]:
    """(why ``path`` is not the file ``pf`` expects or None, its sha256)."""
    size, digest = path.stat().st_size, sha256_of(path)
    if pf.size is not None and size != pf.size:
        return f"got {size} bytes, expected {pf.size}", digest
    if pf.sha256 and digest != pf.sha256:
        return f"sha256 {digest} does not match the expected {pf.sha256}", digest
    if pf.git_sha1 and (blob := git_blob_sha1(path)) != pf.git_sha1:
        return f"git blob id {blob} does not match the hub's {pf.git_sha1}", digest
    return None, digest


def _fetch_file(pf: PlannedFile, models_dir: Path, hosts: Hosts, opts: Options,
                label: str) -> tuple[int, str]:
    """(size, sha256) of ``pf.dest`` after making sure it is present and matches."""
    if pf.dest.is_file():
        problem, digest = _check(pf.dest, pf)
        if problem is None:
            return pf.dest.stat().st_size, digest
        log.warning("%s: %s; fetching it again", pf.dest, problem)
        pf.dest.unlink()
    downloads = models_dir / DOWNLOADS
    if pf.file.host == "hf":
        got = hub.download(pf.file, downloads, hosts.hub_url, opts.timeout)
    else:
        got = fetch_url(pf.url, pf.dest, retries=opts.retries, retry_wait=opts.retry_wait,
                        timeout=opts.timeout, label=label).path
    problem, digest = _check(got, pf)
    if problem:
        got.unlink(missing_ok=True)  # (huggingface_hub's note of a file that is gone is ignored)
        raise ChecksumMismatch(f"{label}: {problem}; the download was deleted and nothing was installed")
    if got != pf.dest:
        pf.dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(got, pf.dest)
        resume_part_path(pf.dest).unlink(missing_ok=True)  # what the urllib downloader before 0.2 left
    return pf.dest.stat().st_size, digest


def install(pm: PlannedModel, models_dir: Path, hosts: Hosts, opts: Options) -> dict[str, Any]:
    """Fetch what is missing, unpack, verify, and record the model in the manifest. Returns the record."""
    e = pm.entry
    if pm.installed and not opts.force:
        existing = manifest.find(models_dir, e.name)
        if existing is not None:
            return existing
    root = model_root(models_dir, e)
    records: list[dict[str, Any]] = []
    archive: dict[str, Any] | None = None
    for pf in pm.files:
        size, digest = _fetch_file(pf, models_dir, hosts, opts, pf.dest.relative_to(models_dir).as_posix())
        if pf.file.unpack:
            with atomic_folder(root) as tmp:
                _safe_extract(pf.dest, tmp)
            archive = {"url": pf.url, "size": size, "sha256": digest, "sha256_source": pf.sha256_source}
            pf.dest.unlink()
        else:
            records.append({"path": pf.dest.relative_to(models_dir).as_posix(), "size": size,
                            "sha256": digest, "sha256_source": pf.sha256_source})
    hub.tidy(models_dir / DOWNLOADS, tuple(f for f in e.files if f.host == "hf"))
    if e.post == "coqui_paths":
        _coqui_paths(root)
    if archive is not None:
        records += [{"path": p.relative_to(models_dir).as_posix(), "size": p.stat().st_size,
                     "sha256": sha256_of(p), "sha256_source": "computed"}
                    for p in sorted(root.rglob("*")) if p.is_file()]
    main_rel = (root / e.main_file) if e.main_file else root
    main = next((r["sha256"] for r in records if models_dir / r["path"] == main_rel), None)
    record: dict[str, Any] = {
        "name": e.name, "kind": e.kind, "title": e.title, "path": e.path,
        "size_bytes": sum(r["size"] for r in records), "sha256": main, "licence": e.licence,
        "licence_url": e.licence_url, "source": _source(e), "non_commercial": e.non_commercial,
        "settings": _plain(e.settings),
        "installed_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "files": records,
    }
    if archive is not None:
        record["archive"] = archive
    manifest.upsert(models_dir, record)
    return record


def _plain(value: Any) -> Any:
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _source(e: ModelEntry) -> str:
    repos = sorted({(f.host, f.repo) for f in e.files})
    return ", ".join(f"https://github.com/{r}" if h == "github" else f"https://huggingface.co/{r}"
                     for h, r in repos)


@dataclass(frozen=True)
class Problem:
    model: str
    path: str
    what: str


def verify(models_dir: Path) -> tuple[list[str], list[Problem]]:
    """Hash every file the manifest lists. Returns (names checked, problems)."""
    data = manifest.load(models_dir)
    checked, problems = [], []
    for m in data["models"]:
        checked.append(m["name"])
        for f in m.get("files", ()):
            p = models_dir / f["path"]
            if not p.is_file():
                problems.append(Problem(m["name"], f["path"], "missing"))
            elif p.stat().st_size != f["size"]:
                problems.append(Problem(m["name"], f["path"], f"size {p.stat().st_size} != {f['size']}"))
            elif f.get("sha256") and sha256_of(p) != f["sha256"]:
                problems.append(Problem(m["name"], f["path"], "sha256 mismatch (corrupted or changed)"))
    return checked, problems
