"""IP-Adapter SDXL from local files: where the adapter lives, how strongly a shot leans on a
character's portrait, and the masks that put two characters side by side.

Layout (what scripts/download_models.py installs; a creator may drop the same files in by hand)::

    models/ip_adapter/<name>/ip-adapter-plus-face_sdxl_vit-h.safetensors   h94/IP-Adapter sdxl_models/
    models/ip_adapter/<name>/image_encoder/config.json                    h94/IP-Adapter models/image_encoder/
    models/ip_adapter/<name>/image_encoder/model.safetensors              (CLIP ViT-H/14, ~2.5 GB)

diffusers loads it with ``pipe.load_ip_adapter(folder, subfolder="", weight_name=...,
image_encoder_folder="image_encoder", local_files_only=True)``. The adapter is the Plus-Face one
(a Resampler over the image encoder's penultimate hidden states, 16 tokens per image): made for
faces, it keeps a character's face from scene to scene while the prompt sets the rest.
torch is not imported at module level."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

ADAPTER_DIR: Final = "ip_adapter"
DEFAULT_NAME: Final = "ip-adapter-plus-face-sdxl-vit-h"
WEIGHT_NAME: Final = "ip-adapter-plus-face_sdxl_vit-h.safetensors"
ENCODER_DIR: Final = "image_encoder"
MISSING_NOTE: Final = (
    "IP-Adapter weights not found in models/ip_adapter/: characters are kept alike by their "
    "descriptions in the prompt only (run scripts/download_models.py --ip-adapter)"
)

#: The adapter's scale by shot: a close-up is mostly face, a wide shot mostly scenery (where a
#: strong face adapter fights the prompt's composition).
SHOT_SCALES: Final = {"close-up": 0.7, "medium": 0.55, "wide": 0.35}
_CLOSE: Final = re.compile(
    r"\b(extreme close|close[- ]?ups?|closeup|headshot|portrait|face|faces|eyes|tight shot|"
    r"head and shoulders|bust shot)\b",
    re.IGNORECASE,
)
_WIDE: Final = re.compile(
    r"\b(wide[- ]?(angle|shot)?|establishing|aerial|bird'?s[- ]eye|long shot|full[- ]body|"
    r"landscape|panorama|panoramic|crowd|distant|far away|in the distance|vista|skyline)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AdapterFiles:
    """An installed IP-Adapter: its folder, the weights file in it, and the image encoder folder."""

    folder: Path
    weight_name: str = WEIGHT_NAME
    encoder_dir: str = ENCODER_DIR

    @property
    def weights(self) -> Path:
        return self.folder / self.weight_name

    def describe(self) -> str:
        return f"IP-Adapter {self.folder.name} ({self.weight_name})"


def adapter_weights(folder: Path) -> str | None:
    """The adapter's weights file in ``folder``: the Plus-Face file when there, else the only
    .safetensors (a creator may drop in another SDXL IP-Adapter); None when there is none or several."""
    f = Path(folder)
    if (f / WEIGHT_NAME).is_file():
        return WEIGHT_NAME
    found = sorted(p.name for p in f.glob("*.safetensors") if p.is_file())
    return found[0] if len(found) == 1 else None


def _complete(folder: Path) -> str | None:
    """The weights file name of a complete adapter folder (that file non-empty, an image encoder's
    config and weights beside it), else None."""
    f = Path(folder)
    if not f.is_dir():
        return None
    name = adapter_weights(f)
    if name is None or (f / name).stat().st_size <= 0:
        return None
    enc = f / ENCODER_DIR
    if (enc / "config.json").is_file() and (any(enc.glob("*.safetensors")) or any(enc.glob("*.bin"))):
        return name
    return None


def adapter_present(folder: Path) -> bool:
    """A weights file and an image encoder (config + weights) are in ``folder``."""
    return _complete(folder) is not None


def find_adapter(models_dir: Path, name: str | None = None) -> AdapterFiles | None:
    """The IP-Adapter under ``models_dir/ip_adapter/``: the folder called ``name`` (default: the
    Plus-Face one), else the first complete one there; None when none is installed."""
    root = Path(models_dir) / ADAPTER_DIR
    if not root.is_dir():
        return None
    if name is not None:
        return adapter_files(root / name)
    default = adapter_files(root / DEFAULT_NAME)
    if default is not None:
        return default
    return next((files for p in sorted(root.iterdir()) if (files := adapter_files(p)) is not None), None)


def adapter_files(folder: Path) -> AdapterFiles | None:
    """The AdapterFiles of an installed adapter folder, or None when it is incomplete."""
    weights = _complete(folder)
    return AdapterFiles(Path(folder), weights) if weights is not None else None


def adapter_vram_bytes(files: AdapterFiles) -> int:
    """GPU bytes the adapter and its image encoder add to SDXL, both held in fp16 (h94 ships the
    adapter in fp16 and the ViT-H encoder in float32: ~0.6 of the files), plus room for the
    encoder's activations. engine.models.vram_estimate counts the same."""
    on_disk = files.weights.stat().st_size + sum(
        f.stat().st_size for f in (files.folder / files.encoder_dir).iterdir() if f.is_file()
    )
    return int(on_disk * 0.6) + (1 << 28)


def adapter_near_model(model_path: Path) -> AdapterFiles | None:
    """The adapter installed beside an SDXL model at models/sdxl/<name> (or models/sdxl/x.safetensors)."""
    return find_adapter(Path(model_path).resolve().parent.parent)


def shot_of(text: str) -> str:
    """close-up | medium | wide, from the scene's own words (its image prompt)."""
    if _CLOSE.search(text):
        return "close-up"
    if _WIDE.search(text):
        return "wide"
    return "medium"


@dataclass(frozen=True)
class Reference:
    """What one scene is conditioned on: one portrait per character (left to right when two),
    at ``scale``. ``keys`` name the cached embeddings (a character and its portrait's digest)."""

    keys: tuple[str, ...]
    portraits: tuple[Path, ...]
    names: tuple[str, ...]
    shot: str
    scale: float

    @property
    def masked(self) -> bool:
        return len(self.portraits) > 1

    def describe(self) -> str:
        who = " (left) and ".join(self.names) + (" (right)" if self.masked else "")
        how = ", one mask each" if self.masked else ""
        return f"IP-Adapter on {who}, {self.shot} scale {self.scale:.2f}{how}"


def load_adapter(pipe: Any, files: AdapterFiles) -> str:
    """``pipe.load_ip_adapter`` from local files only (its image encoder and a CLIPImageProcessor
    sized for it come with it): "" when loaded, else why not (the pipeline is left without it, and
    SDXL runs prompt-only). Out of memory and CUDA errors propagate, for SDXLSource to handle."""
    import torch
    from safetensors import SafetensorError

    from engine.models.cuda_errors import cuda_failure

    try:
        pipe.load_ip_adapter(
            str(files.folder),
            subfolder="",
            weight_name=files.weight_name,
            image_encoder_folder=files.encoder_dir,
            local_files_only=True,
        )
    except (OSError, ValueError, KeyError, RuntimeError, TypeError, AttributeError, SafetensorError) as exc:
        if isinstance(exc, torch.cuda.OutOfMemoryError) or (
            isinstance(exc, RuntimeError) and cuda_failure(exc, "SDXL") is not None
        ):
            raise
        why = (
            f"{files.describe()} could not be loaded ({exc.__class__.__name__}: {str(exc)[:200]}): "
            "characters are kept alike by their descriptions in the prompt only; re-download it with "
            "scripts/download_models.py --ip-adapter"
        )
        log.warning("%s", why)
        if getattr(pipe, "image_encoder", None) is not None or getattr(pipe.unet, "encoder_hid_proj", None):
            pipe.unload_ip_adapter()  # half loaded: back to the plain pipeline
        return why
    return ""


def uses_hidden_states(pipe: Any) -> bool:
    """Whether the adapter reads the image encoder's hidden states (Plus adapters) rather than its
    pooled embedding: diffusers' own test in prepare_ip_adapter_image_embeds."""
    from diffusers.models.embeddings import ImageProjection

    return not isinstance(pipe.unet.encoder_hid_proj.image_projection_layers[0], ImageProjection)


def blank_embeds(pipe: Any, cfg: bool) -> Any:
    """Zero image embeddings shaped like a portrait's, for scenes without a character (the adapter's
    scale is 0 for them, so diffusers skips the image attention; the UNet still wants its input)."""
    import torch

    config = pipe.image_encoder.config
    if uses_hidden_states(pipe):
        tokens = (config.image_size // config.patch_size) ** 2 + 1
        shape: tuple[int, ...] = (1, 1, tokens, config.hidden_size)
    else:
        shape = (1, 1, config.projection_dim)
    one = torch.zeros(shape, dtype=pipe.image_encoder.dtype)
    return torch.cat([one, one]) if cfg else one


def portrait_embeds(pipe: Any, image: "Image.Image", cfg: bool) -> Any:
    """One portrait's image embeddings (negative first when ``cfg``), on the CPU for the cache."""
    import torch

    with torch.inference_mode():
        out = pipe.prepare_ip_adapter_image_embeds(
            ip_adapter_image=[image],
            ip_adapter_image_embeds=None,
            device=pipe._execution_device,
            num_images_per_prompt=1,
            do_classifier_free_guidance=cfg,
        )
    return out[0].detach().to("cpu")


def side_by_side_masks(width: int, height: int, count: int) -> Any:
    """``count`` masks (1, count, h, w) that give each character a vertical band, left to right,
    overlapping a little in the middle; diffusers' IPAdapterMaskProcessor binarises them."""
    import numpy as np
    from diffusers.image_processor import IPAdapterMaskProcessor
    from PIL import Image

    bands = []
    overlap = 0.05
    for i in range(count):
        left = max(0.0, i / count - overlap)
        right = min(1.0, (i + 1) / count + overlap)
        m = np.zeros((height, width), np.uint8)
        m[:, int(left * width): int(round(right * width))] = 255
        bands.append(Image.fromarray(m, "L"))
    masks = IPAdapterMaskProcessor().preprocess(bands, height=height, width=width)
    return masks.reshape(1, masks.shape[0], masks.shape[2], masks.shape[3])


@dataclass
class PortraitEmbeddings:
    """Each portrait's image embeddings (on the CPU), computed once and kept until ``clear``
    (the end of the images stage), and the pipeline arguments one image needs."""

    cache: dict[str, Any] = field(default_factory=dict)
    blank: Any = None
    computed: int = 0

    def clear(self) -> None:
        self.cache.clear()
        self.blank = None

    def get(self, pipe: Any, key: str, portrait: Path, cfg: bool) -> Any:
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        from PIL import Image

        with Image.open(portrait) as im:
            image = im.convert("RGB")
        started = time.monotonic()
        embeds = portrait_embeds(pipe, image, cfg)
        self.cache[key] = embeds
        self.computed += 1
        log.info("IP-Adapter embeddings for %s: %.2f s", key, time.monotonic() - started)
        return embeds

    def inputs(
        self, pipe: Any, reference: Reference | None, width: int, height: int, cfg: bool
    ) -> dict[str, Any]:
        """The pipeline's IP-Adapter arguments for one image: the characters' embeddings (one
        mask each when two or more) at the reference's scale, or blank ones at scale 0."""
        import torch

        if reference is None:
            if self.blank is None:
                self.blank = blank_embeds(pipe, cfg)
            pipe.set_ip_adapter_scale(0.0)
            return {"ip_adapter_image_embeds": [self.blank]}
        embeds = [self.get(pipe, k, p, cfg) for k, p in zip(reference.keys, reference.portraits)]
        if not reference.masked:
            pipe.set_ip_adapter_scale(reference.scale)
            return {"ip_adapter_image_embeds": [embeds[0]]}
        pipe.set_ip_adapter_scale([[reference.scale] * len(embeds)])
        masks = side_by_side_masks(width, height, len(embeds))
        return {
            "ip_adapter_image_embeds": [torch.cat(embeds, dim=1)],
            "cross_attention_kwargs": {"ip_adapter_masks": [masks]},
        }
