"""Random-weight SDXL pipelines built offline, for tests and benchmarks (never for videos).

``tiny``: UNet block_out_channels=(32, 64), 32-dim CLIP text encoders, a BPE vocabulary trained here
on a few phrases, a tiny VAE (~11 MB saved; 2 steps at 64x64 take about a second on a CPU).
``full``: the published SDXL base architecture (UNet ~2.57 B parameters, VAE, CLIP ViT-L and OpenCLIP
bigG text encoders) with random weights, for GPU timing at 1344x768. Both save with save_pretrained
so they load through the same SDXLSource code as real weights."""

from __future__ import annotations

import json
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Final

_CORPUS: Final = (
    "a cinematic film still of a detective in the rain at night, dramatic lighting, shallow depth of field "
    "a watercolor painting of a castle on a hill, soft light, anime key visual, oil painting, pixel art "
    "photorealistic photograph of a forest, noir city street, dark fantasy dragon, 3d render of a robot "
    "lowres, blurry, watermark, text, bad anatomy, deformed hands, the old house, the girl and the boy"
)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def write_bpe_vocab(out_dir: Path, merges: int = 200) -> tuple[Path, Path]:
    """Train a small byte-level BPE on a fixed corpus and write CLIP-style vocab.json/merges.txt.
    The special tokens come last, so ``<|endoftext|>`` has the highest id (as in CLIP)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    vocab = chars + [c + "</w>" for c in chars]
    words = Counter(tuple(w[:-1]) + (w[-1] + "</w>",) for w in _CORPUS.replace(",", " ").split())
    merge_list: list[tuple[str, str]] = []
    for _ in range(merges):
        pairs: Counter[tuple[str, str]] = Counter()
        for word, freq in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += freq
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merge_list.append(best)
        vocab.append(best[0] + best[1])
        merged: Counter[tuple[str, ...]] = Counter()
        for word, freq in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += freq
        words = merged
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    vocab_file, merges_file = out_dir / "vocab.json", out_dir / "merges.txt"
    vocab_file.write_text(
        json.dumps({tok: i for i, tok in enumerate(dict.fromkeys(vocab))}), encoding="utf-8"
    )
    merges_file.write_text(
        "#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merge_list) + "\n", encoding="utf-8"
    )
    return vocab_file, merges_file


def clip_tokenizer(vocab_file: Path, merges_file: Path, pad_token: str = "<|endoftext|>") -> Any:
    """A CLIPTokenizer over our files: transformers 4 takes file paths, 5 takes the vocab and merges."""
    import inspect

    from transformers import CLIPTokenizer

    if "vocab_file" in inspect.signature(CLIPTokenizer.__init__).parameters:
        return CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=77, pad_token=pad_token)
    vocab = json.loads(vocab_file.read_text(encoding="utf-8"))
    lines = merges_file.read_text(encoding="utf-8").splitlines()[1:]
    merges = [tuple(line.split(" ")) for line in lines if line]  # the tokenizers backend wants pairs
    return CLIPTokenizer(
        vocab=vocab, merges=merges, model_max_length=77, pad_token=pad_token  # type: ignore[arg-type]
    )


def tiny_configs(vocab_size: int, bos: int, eos: int, pad: int) -> dict[str, dict[str, Any]]:
    text = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=5,
        max_position_embeddings=77,
        hidden_act="gelu",
        projection_dim=32,
        layer_norm_eps=1e-5,
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=pad,
    )
    return {
        "unet": dict(
            block_out_channels=(32, 64),
            layers_per_block=2,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            transformer_layers_per_block=(1, 2),
            projection_class_embeddings_input_dim=80,  # 6 time ids x 8 + 32 pooled text
            cross_attention_dim=64,  # 32 + 32 from the two text encoders
        ),
        "vae": dict(
            block_out_channels=(32, 64),
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            sample_size=128,
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
        ),
        "text_encoder": text,
        "text_encoder_2": dict(text),
    }


def full_configs(
    vocab_size: int = 49408, bos: int = 49406, eos: int = 49407, pad: int = 49407
) -> dict[str, dict[str, Any]]:
    """The published SDXL base 1.0 architecture (unet/config.json, vae/config.json, text encoders)."""
    return {
        "unet": dict(
            sample_size=128,
            in_channels=4,
            out_channels=4,
            layers_per_block=2,
            block_out_channels=(320, 640, 1280),
            transformer_layers_per_block=(1, 2, 10),
            attention_head_dim=(5, 10, 20),
            cross_attention_dim=2048,
            use_linear_projection=True,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            addition_embed_type="text_time",
            addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816,
            norm_num_groups=32,
        ),
        "vae": dict(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            sample_size=1024,
            layers_per_block=2,
            block_out_channels=(128, 256, 512, 512),
            scaling_factor=0.13025,
            force_upcast=True,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
        ),
        "text_encoder": dict(  # CLIP ViT-L/14
            vocab_size=vocab_size,
            hidden_size=768,
            intermediate_size=3072,
            num_attention_heads=12,
            num_hidden_layers=12,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
            projection_dim=768,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=pad,
        ),
        "text_encoder_2": dict(  # OpenCLIP bigG/14
            vocab_size=vocab_size,
            hidden_size=1280,
            intermediate_size=5120,
            num_attention_heads=20,
            num_hidden_layers=32,
            max_position_embeddings=77,
            hidden_act="gelu",
            projection_dim=1280,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=pad,
        ),
    }


SCHEDULER_CONFIG: Final = dict(
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    num_train_timesteps=1000,
    steps_offset=1,
    timestep_spacing="leading",
)


def build_components(
    configs: dict[str, dict[str, Any]], *, device: str = "cpu", seed: int = 0
) -> dict[str, Any]:
    """UNet, VAE and both text encoders with random weights, built directly on ``device``
    ("meta" builds only the shapes, for checking a configuration without memory)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    with torch.device(device) if device != "cpu" else nullcontext():
        return {
            "unet": UNet2DConditionModel(**configs["unet"]),
            "vae": AutoencoderKL(**configs["vae"]),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**configs["text_encoder"])),
            "text_encoder_2": CLIPTextModelWithProjection(CLIPTextConfig(**configs["text_encoder_2"])),
        }


def parameter_counts(components: dict[str, Any]) -> dict[str, int]:
    return {name: sum(p.numel() for p in module.parameters()) for name, module in components.items()}


def build_random_sdxl(
    out_dir: Path, *, full: bool = False, device: str = "cpu", fp16: bool = False, seed: int = 0
) -> Path:
    """Save a random-weight SDXL diffusers folder at ``out_dir`` (tiny unless ``full``)."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline

    out_dir = Path(out_dir)
    vocab_file, merges_file = write_bpe_vocab(out_dir / "_bpe")
    tokenizer = clip_tokenizer(vocab_file, merges_file)
    tokenizer_2 = clip_tokenizer(vocab_file, merges_file, pad_token="!")
    ids = (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.eos_token_id)
    if full:
        configs = full_configs(max(49408, len(tokenizer)), *ids)
    else:
        configs = tiny_configs(len(tokenizer), *ids)
    parts = build_components(configs, device=device, seed=seed)
    if fp16:
        parts = {k: v.to(torch.float16) for k, v in parts.items()}
    pipe = StableDiffusionXLPipeline(
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        scheduler=EulerDiscreteScheduler(**SCHEDULER_CONFIG),
        force_zeros_for_empty_prompt=True,
        **parts,
    )
    pipe.save_pretrained(out_dir, safe_serialization=True)  # type: ignore[attr-defined]
    for f in (vocab_file, merges_file):
        f.unlink()
    (out_dir / "_bpe").rmdir()
    return out_dir
