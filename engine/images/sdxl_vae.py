"""Which VAE an SDXL folder decodes with, and its tile size when decoding in tiles.

The fp16-fix VAE (madebyollin/sdxl-vae-fp16-fix) decodes in fp16 without overflowing; the stock SDXL
VAE needs float32 (diffusers upcasts it when its config says ``force_upcast``, the default). The
downloader (scripts/fetchlib/catalog.py) installs the fix as the model's own ``vae/``; there its
config's ``force_upcast: false`` marks it, and so does the model's record in models/manifest.json
(its ``source`` lists the madebyollin/sdxl-vae-fp16-fix repository, which the catalog only ever
installs as ``vae/``). Older layouts put it in a folder named for it, inside or beside the model.
torch is not imported here."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Final

from engine.images.placement import vae_tile_size

#: Folders holding an fp16-safe VAE, inside or beside the model.
FIXED_VAE_DIRS: Final = ("vae_fp16_fix", "sdxl-vae-fp16-fix")
_FIX_NAMES: Final = ("fp16-fix", "fp16_fix")
_FIX_REPO: Final = "madebyollin/sdxl-vae-fp16-fix"
_MANIFEST: Final = "manifest.json"
#: What diffusers' AutoencoderKL reads for its tiled decode (diffusers 0.2x-0.3x).
_TILE_ATTRS: Final = ("tile_sample_min_size", "tile_latent_min_size", "tile_overlap_factor")

log = logging.getLogger(__name__)


def _vae_config(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_fp16_fix_vae(folder: Path) -> bool:
    """Whether the VAE in ``folder`` decodes safely in fp16: its own config says so
    (``force_upcast: false``, as madebyollin/sdxl-vae-fp16-fix's does), or it sits in a folder named
    for the fix, or its config's ``_name_or_path`` names it."""
    config = _vae_config(folder)
    if not config:
        return False
    if config.get("force_upcast") is False or folder.name in FIXED_VAE_DIRS:
        return True
    origin = str(config.get("_name_or_path", "")).lower()
    return any(n in origin for n in _FIX_NAMES)


def installed_with_fix_vae(model_folder: Path) -> bool:
    """Whether models/manifest.json (two or three folders up: models/sdxl/<name>/) records this
    folder as installed by the downloader with the fp16-fix VAE."""
    try:
        target = model_folder.resolve()
    except OSError:
        return False
    for models_dir in list(target.parents)[:3]:
        try:
            data = json.loads((models_dir / _MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        records = data.get("models") if isinstance(data, dict) else None
        for r in records if isinstance(records, list) else ():
            if not isinstance(r, dict) or _FIX_REPO not in str(r.get("source", "")):
                continue
            if (models_dir / str(r.get("path", ""))).resolve() == target:
                return True
    return False


def find_vae(model_path: Path) -> tuple[Path | None, bool]:
    """(a VAE folder to load instead of the model's own, or None; whether the VAE used is the
    fp16-fix one). The model's own vae/ first (where the downloader installs the fix), then a fix
    VAE folder inside or beside the model; else the model's own VAE, which diffusers upcasts to
    float32 for decoding as its config asks."""
    own = model_path / "vae"
    if model_path.is_dir() and _vae_config(own):
        if is_fp16_fix_vae(own) or installed_with_fix_vae(model_path):
            return None, True
    base = model_path if model_path.is_dir() else model_path.parent
    for root in (base, base.parent):
        for name in FIXED_VAE_DIRS:
            if (root / name / "config.json").is_file():
                return root / name, True
    return None, False


def tile_vae(vae: Any, width: int, height: int) -> None:
    """Tiles no smaller than the image's short side for diffusers' AutoencoderKL tiled decode (its
    default is the config's sample_size: 512 px for the fp16-fix VAE, which cuts a 1344x768 image into
    six tiles with visible seams)."""
    if not all(hasattr(vae, a) for a in _TILE_ATTRS):
        log.warning("%s has no %s: VAE tiles keep diffusers' default size", type(vae).__name__, _TILE_ATTRS)
        return
    scale = 2 ** (len(vae.config.block_out_channels) - 1)
    sample, latent = vae_tile_size(width, height, scale, float(vae.tile_overlap_factor))
    vae.tile_sample_min_size = sample
    vae.tile_latent_min_size = latent
