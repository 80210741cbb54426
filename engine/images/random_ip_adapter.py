"""A random-weight IP-Adapter Plus(-Face) for an SDXL UNet, built offline, for tests and benchmarks
(never for videos): the adapter file in the original IP-Adapter layout (``image_proj.*``: the
Resampler, ``ip_adapter.*``: to_k_ip / to_v_ip per cross-attention layer) that diffusers'
``load_ip_adapter`` reads, and a CLIP vision encoder saved beside it in ``image_encoder/``.

``tiny``: a 32-wide, 2-layer vision encoder on 32x32 images and a 4-token Resampler, for the tiny
SDXL of engine.images.random_sdxl. ``full``: ViT-H/14 (the h94/IP-Adapter ``models/image_encoder``
shape) and the Plus-Face SDXL Resampler (16 tokens, 20 heads, 1280 wide), for GPU timing. Built the
way diffusers' own tests build adapter weights (create_ip_adapter_plus_state_dict): real diffusers
modules with random initial weights, their state dict renamed to the original layout."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

from engine.images.ip_adapter import ENCODER_DIR, WEIGHT_NAME

#: CLIPVisionConfig for each size.
VISION: Final[dict[str, dict[str, Any]]] = {
    "tiny": dict(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
        projection_dim=32,
        hidden_act="gelu",
    ),
    "full": dict(  # laion CLIP-ViT-H-14, as h94/IP-Adapter models/image_encoder/config.json
        hidden_size=1280,
        intermediate_size=5120,
        num_hidden_layers=32,
        num_attention_heads=16,
        image_size=224,
        patch_size=14,
        projection_dim=1024,
        hidden_act="gelu",
        layer_norm_eps=1e-5,
    ),
}
#: IPAdapterPlusImageProjection (Resampler) for each size; heads are 64 wide, as diffusers assumes.
RESAMPLER: Final[dict[str, dict[str, int]]] = {
    "tiny": dict(hidden_dims=64, heads=1, num_queries=4),
    "full": dict(hidden_dims=1280, heads=20, num_queries=16),
}


def _to_original(key: str) -> str:
    """A diffusers IPAdapterPlusImageProjection key in the original Resampler's layout (the inverse of
    diffusers' _convert_ip_adapter_image_proj_to_diffusers for IP-Adapter Plus)."""
    key = re.sub(r"^layers\.(\d+)\.ln0\.", r"layers.\1.0.norm1.", key)
    key = re.sub(r"^layers\.(\d+)\.ln1\.", r"layers.\1.0.norm2.", key)
    key = re.sub(r"^layers\.(\d+)\.attn\.to_out\.0\.", r"layers.\1.0.to_out.", key)
    key = re.sub(r"^layers\.(\d+)\.attn\.", r"layers.\1.0.", key)
    key = re.sub(r"^layers\.(\d+)\.ff\.0\.", r"layers.\1.1.0.", key)
    key = re.sub(r"^layers\.(\d+)\.ff\.1\.net\.0\.proj\.", r"layers.\1.1.1.", key)
    return re.sub(r"^layers\.(\d+)\.ff\.1\.net\.2\.", r"layers.\1.1.3.", key)


def image_proj_state_dict(embed_dims: int, output_dims: int, size: str = "tiny") -> dict[str, Any]:
    """The Resampler's weights in the original layout (to_k and to_v fused into to_kv)."""
    import torch
    from diffusers.models.embeddings import IPAdapterPlusImageProjection

    proj = IPAdapterPlusImageProjection(embed_dims=embed_dims, output_dims=output_dims, **RESAMPLER[size])
    sd = proj.state_dict()
    out: dict[str, Any] = {}
    for key, value in sd.items():
        if ".attn.to_v." in key:
            continue
        if ".attn.to_k." in key:
            fused = torch.cat([value, sd[key.replace(".to_k.", ".to_v.")]], dim=0)
            out[_to_original(key).replace(".to_k.", ".to_kv.")] = fused
        else:
            out[_to_original(key)] = value
    return out


def attn_state_dict(unet: Any) -> dict[str, Any]:
    """to_k_ip / to_v_ip for every cross-attention processor of ``unet``, numbered as the original
    adapter numbers them (1, 3, 5, ...: every attention layer counts, self-attention ones skipped)."""
    import torch

    config = unet.config
    out: dict[str, Any] = {}
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            hidden = config.block_out_channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(config.block_out_channels))[int(name.split(".")[1])]
        else:
            hidden = config.block_out_channels[int(name.split(".")[1])]
        for part in ("to_k_ip", "to_v_ip"):
            layer = torch.nn.Linear(config.cross_attention_dim, hidden, bias=False)
            out[f"{key_id}.{part}.weight"] = layer.weight.detach().clone()
        key_id += 2
    return out


def build_random_ip_adapter(
    out_dir: Path, unet_dir: Path, *, size: str = "tiny", seed: int = 0, device: str = "cpu"
) -> Path:
    """Save a random IP-Adapter Plus for the UNet in ``unet_dir`` (an SDXL folder's ``unet/``) at
    ``out_dir`` (models/ip_adapter/<name>/ layout). Only the UNet's config is read ("meta" weights)."""
    import torch
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = UNet2DConditionModel.load_config(unet_dir)
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(config)
    torch.manual_seed(seed)
    vision = VISION[size]
    tensors = {f"ip_adapter.{k}": v for k, v in attn_state_dict(unet).items()}
    proj = image_proj_state_dict(int(vision["hidden_size"]), int(unet.config.cross_attention_dim), size)
    tensors.update({f"image_proj.{k}": v for k, v in proj.items()})
    # in fp16, as h94 ships it (847,517,512 bytes for 424 M parameters); the encoder stays float32
    save_file({k: v.to(torch.float16).contiguous() for k, v in tensors.items()}, str(out_dir / WEIGHT_NAME))
    with torch.device(device):
        encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**vision))
    encoder.save_pretrained(out_dir / ENCODER_DIR, safe_serialization=True)
    return out_dir
