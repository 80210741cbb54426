#!/usr/bin/env python3
"""Fetch the models StoryReel runs on, once, into models/ — then work offline forever.

This is the only StoryReel code that touches the network. Files on the Hugging Face hub are fetched
with huggingface_hub (installed with StoryReel; it honours HF_ENDPOINT and HF_TOKEN / `hf auth
login`); --list, --dry-run and --verify need only the standard library.

    python scripts/download_models.py --list                  # catalog and profiles
    python scripts/download_models.py --profile lite --dry-run
    python scripts/download_models.py --profile standard      # 12-16 GB cards
    python scripts/download_models.py --sdxl                  # one component (of --profile)
    python scripts/download_models.py --verify [--fix]        # re-hash what models/manifest.json lists

Profiles: lite (8 GB cards), standard (12-16 GB), quality (standard + XTTS v2); "auto" (the
default) reads the card's memory with nvidia-smi. Only the needed files are fetched (fp16
safetensors, no other variants); a cut connection is resumed (HTTP Range); every file is checked
against a sha256 (pinned in the catalog, or the hub's own LFS sha256) before it is moved into
place, and models/manifest.json records name, kind, path, size, sha256, licence and settings.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # engine.tempnames (standard library only)

from fetchlib import catalog as cat  # noqa: E402
from fetchlib import install as inst  # noqa: E402
from fetchlib import manifest  # noqa: E402
from fetchlib.transfer import FetchError, human  # noqa: E402

log = logging.getLogger("download_models")
REPO_ROOT = Path(__file__).resolve().parent.parent


def detect_vram_gib() -> float | None:
    """Total memory of the largest NVIDIA card, from nvidia-smi; None when there is none."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=15, check=True).stdout
        return max(float(x) for x in out.split()) / 1024.0
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def auto_profile(vram_gib: float | None) -> tuple[str, str]:
    if vram_gib is None:
        return "lite", "no NVIDIA card found (nvidia-smi missing or silent)"
    if vram_gib < 11:
        return "lite", f"{vram_gib:.0f} GiB card"
    if vram_gib < 20:
        return "standard", f"{vram_gib:.0f} GiB card"
    return "quality", f"{vram_gib:.0f} GiB card"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="download_models.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="auto",
                   help="lite | standard | quality | auto (default: by the card's memory)")
    for comp in cat.COMPONENTS:
        p.add_argument(f"--{comp.replace('_', '-')}", action="store_true", dest=comp,
                       help=f"fetch only the {comp} model of the profile")
    p.add_argument("--model", action="append", default=[], metavar="NAME",
                   help="fetch this catalog entry (repeatable)")
    p.add_argument("--voices", default="", metavar="LANGS",
                   help="fetch the voices of these languages, e.g. es,fr,de (XTTS v2 where none of its own)")
    p.add_argument("--list", action="store_true", help="show the catalog and profiles, fetch nothing")
    p.add_argument("--dry-run", action="store_true", help="show what would be fetched; no network at all")
    p.add_argument("--verify", action="store_true", help="re-hash every file models/manifest.json lists")
    p.add_argument("--fix", action="store_true", help="with --verify: fetch bad or missing files again")
    p.add_argument("--force", action="store_true", help="fetch and re-check even when already installed")
    p.add_argument("--models-dir", type=Path, default=REPO_ROOT / "models")
    p.add_argument("--base-url", default=os.environ.get("HF_ENDPOINT", "https://huggingface.co"),
                   help="the Hugging Face hub or a mirror (default: $HF_ENDPOINT or https://huggingface.co)")
    p.add_argument("--github-url", default="https://github.com", help="where GitHub release assets come from")
    p.add_argument("--catalog", type=Path, help="a JSON file adding models/profiles to the built-in catalog")
    p.add_argument("--retries", type=int, default=5,
                   help="for files off the hub (huggingface_hub retries hub transfers itself)")
    p.add_argument("--retry-wait", type=float, default=2.0, help="seconds; grows with each retry")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for the hub's metadata and for other hosts (hub transfers: "
                        "$HF_HUB_DOWNLOAD_TIMEOUT)")
    return p.parse_args(argv)


def _print_list(c: cat.Catalog, models_dir: Path) -> None:
    print("Profiles:")
    for name, comps in c.profiles.items():
        total = sum(c.entry(n).approx_size for n in comps.values())
        print(f"  {name:<9} ~{human(total):>9}  {c.profile_notes.get(name, '')}")
        for comp, n in comps.items():
            print(f"            {comp:<5} {n}")
    print("\nModels:")
    for e in c.entries.values():
        record = manifest.find(models_dir, e.name)
        state = "installed" if record and manifest.files_present(models_dir, record) else ""
        print(f"  {e.name:<30} {e.kind:<4} ~{human(e.approx_size):>9}  {e.licence}  {state}")
        print(f"      {e.title}; {len(e.files)} file(s) -> models/{e.path}")


def _run_verify(args: argparse.Namespace, c: cat.Catalog, hosts: inst.Hosts, opts: inst.Options) -> int:
    try:
        checked, problems = inst.verify(args.models_dir)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not checked:
        print(f"No models recorded in {manifest.path_in(args.models_dir)}; nothing to verify.")
        return 0
    bad = sorted({p.model for p in problems})
    for name in checked:
        print(f"  {'FAILED' if name in bad else 'ok':<6} {name}")
    for p in problems:
        print(f"         {p.path}: {p.what}")
    if not problems:
        print(f"All {len(checked)} model(s) match their checksums.")
        return 0
    if not args.fix:
        print(f"\n{len(problems)} file(s) failed. To fetch them again: "
              f"python scripts/download_models.py --verify --fix", file=sys.stderr)
        return 1
    failed = 0
    for name in bad:
        if name not in c.entries:
            print(f"  cannot fix {name}: not in the catalog (fetch it the way it was installed)",
                  file=sys.stderr)
            failed += 1
            continue
        for p in problems:
            if p.model == name and (args.models_dir / p.path).is_file():
                (args.models_dir / p.path).unlink()
        failed += _fetch_all([c.entry(name)], args, hosts, opts, force=True)
    _, still = inst.verify(args.models_dir)
    return 1 if failed or still else 0


def _fetch_all(entries: Sequence[cat.ModelEntry], args: argparse.Namespace, hosts: inst.Hosts,
               opts: inst.Options, *, force: bool = False) -> int:
    try:
        plans = [inst.plan(e, args.models_dir, hosts, offline=args.dry_run, force=force or args.force,
                           timeout=min(opts.timeout, 30.0)) for e in entries]
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Models dir: {args.models_dir}")
    for pm in plans:
        for line in inst.describe(pm, files=args.dry_run):
            print(line)
    need = sum(pm.disk_needed for pm in plans)
    probe_dir = args.models_dir if args.models_dir.exists() else _existing_parent(args.models_dir)
    free = shutil.disk_usage(probe_dir).free
    print(f"To download: {human(sum(pm.to_fetch for pm in plans))}; disk needed: {human(need)}; "
          f"free: {human(free)}" + (" (sizes from the catalog; no network used)" if args.dry_run else ""))
    if args.dry_run:
        return 0
    if need and free < need + inst.DISK_MARGIN:
        print(f"error: not enough free disk under {probe_dir}: need {human(need + inst.DISK_MARGIN)} "
              f"(with a {human(inst.DISK_MARGIN)} margin), have {human(free)}. Free some space or pass "
              "--models-dir on a bigger disk.", file=sys.stderr)
        return 2
    failed = 0
    for pm in plans:
        if pm.installed:
            continue
        try:
            record = inst.install(pm, args.models_dir, hosts, opts)
            print(f"  installed {record['name']} -> models/{record['path']} ({human(record['size_bytes'])})")
        except FetchError as exc:
            print(f"error: {pm.entry.name}: {exc}", file=sys.stderr)
            failed += 1
        except OSError as exc:
            print(f"error: {pm.entry.name}: {exc}", file=sys.stderr)
            failed += 1
    if not failed:
        print(f"Done. Manifest: {manifest.path_in(args.models_dir)}")
    return 1 if failed else 0


def _existing_parent(p: Path) -> Path:
    p = p.resolve()
    while not p.exists():
        p = p.parent
    return p


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    args.models_dir = args.models_dir.resolve()
    try:
        c = cat.builtin()
        if args.catalog:
            c = cat.extend(c, args.catalog)
    except cat.CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    hosts = inst.Hosts(args.base_url, args.github_url)
    opts = inst.Options(args.retries, args.retry_wait, args.timeout, args.force)
    if args.list:
        _print_list(c, args.models_dir)
        return 0
    if args.verify:
        return _run_verify(args, c, hosts, opts)
    profile = args.profile
    if profile == "auto":
        profile, why = auto_profile(detect_vram_gib())
        print(f"Profile: {profile} ({why}; choose another with --profile)")
    comps = tuple(comp for comp in cat.COMPONENTS if getattr(args, comp))
    try:
        entries = [c.entry(n) for n in args.model] if args.model else []
        entries += [e for e in cat.voices_for(c, args.voices) if e not in entries] if args.voices else []
        if comps or not entries:
            entries += [e for e in c.select(profile, comps) if e not in entries]
    except cat.CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _fetch_all(entries, args, hosts, opts)


if __name__ == "__main__":
    sys.exit(main())
