#!/usr/bin/env python3
"""Benchmark the images stage: seconds per image and peak memory.

  python scripts/bench_images.py                 tiny random SDXL on the CPU (64x64, 2 steps) + draft art
  python scripts/bench_images.py --full --check  full-size SDXL architecture on the meta device: parameter
                                                 counts and a UNet shape check at 1344x768 (no GPU needed)
  python scripts/bench_images.py --full          full-size SDXL, random weights, fp16 on CUDA, 1344x768,
                                                 30 steps (Euler) and 4 steps (Lightning scheduler), with
                                                 everything on the GPU and with model CPU offload;
                                                 the VAE decodes in fp16 as the downloader's fp16-fix
                                                 VAE does (--stock-vae: upcast to float32 as the stock
                                                 SDXL VAE does)
  python scripts/bench_images.py --full --ip-adapter   the same, plus rows with a random full-size
                                                 IP-Adapter Plus-Face (ViT-H/14 encoder, 16-token
                                                 Resampler) conditioning every image on a portrait

The tiny benchmark also times a job whose scenes show a character, with a tiny random IP-Adapter
(the portrait, its embeddings once, the adapter on every character scene).

Random weights make noise, not pictures; the timings are what matter. Nothing is downloaded."""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.contracts import Scene, Script  # noqa: E402
from engine.images.prompts import ScenePrompt  # noqa: E402
from engine.progress import StageProgress  # noqa: E402
from engine.spec import ImageMode, JobSpec  # noqa: E402

#: Published parameter counts of SDXL base 1.0 (diffusers components).
PUBLISHED = {
    "unet": 2_567_463_684,
    "vae": 83_653_863,
    "text_encoder": 123_060_480,
    "text_encoder_2": 694_659_840,
}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def script(n: int, character: str | None = None) -> Script:
    who = (character,) if character else ()
    return Script(
        "bench",
        tuple(Scene(f"Scene {i}.", f"a lighthouse on a cliff at night, view {i}", who) for i in range(n)),
    )


def bench_tiny_adapter(args: argparse.Namespace, tmp: Path, model: Path) -> None:
    """A job whose every scene shows one character, with a tiny random IP-Adapter."""
    from engine.images.ip_adapter import DEFAULT_NAME, find_adapter
    from engine.images.random_ip_adapter import build_random_ip_adapter
    from engine.images.router import ImageRouter
    from engine.images.sdxl import SDXLSource
    from engine.spec import Character

    build_random_ip_adapter(tmp / "ip_adapter" / DEFAULT_NAME, model / "unet")
    w, h = args.size
    src = SDXLSource(model, device="cpu", steps=args.steps, size=(w, h), keep_loaded=True,
                     ip_adapter=find_adapter(tmp))
    progress = StageProgress("images")
    router = ImageRouter(sdxl=src, stock_dir=tmp / "none", allowed_roots=(tmp,))
    spec = JobSpec(topic="bench", seed=1, characters=(Character("Ada", "a woman in a red coat"),))
    started = time.perf_counter()
    router.images(script(args.scenes, "Ada"), spec, tmp / "job-ipa", progress=progress)
    per = (time.perf_counter() - started) / args.scenes
    src.release()
    print(
        f"tiny SDXL + IP-Adapter CPU {w}x{h}, {args.steps} steps: {per:.3f} s/image over {args.scenes} "
        f"character scenes (incl. the load, one portrait and its embeddings, computed "
        f"{src.embeds_computed}x); peak RSS {peak_rss_mib():.0f} MiB"
    )


def bench_tiny(args: argparse.Namespace) -> None:
    import torch

    from engine.images.random_sdxl import build_random_sdxl
    from engine.images.router import ImageRouter
    from engine.images.sdxl import SDXLSource

    if args.threads:
        torch.set_num_threads(args.threads)
    w, h = args.size
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        model = build_random_sdxl(Path(tmp) / "tiny")
        print(
            f"tiny SDXL built and saved in {time.perf_counter() - started:.1f} s "
            f"(torch threads: {torch.get_num_threads()})"
        )
        src = SDXLSource(model, device="cpu", steps=args.steps, size=(w, h), keep_loaded=True)
        progress = StageProgress("images")
        started = time.perf_counter()
        src.load(progress)
        print(f"load: {time.perf_counter() - started:.2f} s")
        src.generate(ScenePrompt(0, "warm-up", "", 1), size=(w, h), progress=progress)
        router = ImageRouter(sdxl=src, stock_dir=Path(tmp) / "none", allowed_roots=(Path(tmp),))
        started = time.perf_counter()
        router.images(
            script(args.scenes), JobSpec(topic="bench", seed=1), Path(tmp) / "job", progress=progress
        )
        per = (time.perf_counter() - started) / args.scenes
        src.release()
        print(
            f"tiny SDXL CPU {w}x{h}, {args.steps} steps: {per:.3f} s/image over {args.scenes} images; "
            f"peak RSS {peak_rss_mib():.0f} MiB"
        )
        bench_tiny_adapter(args, Path(tmp), model)


def bench_draft(args: argparse.Namespace) -> None:
    from engine.images.router import ImageRouter

    with tempfile.TemporaryDirectory() as tmp:
        router = ImageRouter(sdxl=None, stock_dir=Path(tmp) / "none", allowed_roots=(Path(tmp),))
        started = time.perf_counter()
        router.images(
            script(10),
            JobSpec(topic="bench", seed=1, image_mode=ImageMode.AI_ONLY),
            Path(tmp) / "job",
            progress=StageProgress("images"),
        )
        per = (time.perf_counter() - started) / 10
    print(
        f"draft art 1344x768 (incl. PNG write): {per:.3f} s/image over 10 images; "
        f"peak RSS {peak_rss_mib():.0f} MiB"
    )


def check_full() -> None:
    """Build the full architecture on the meta device and run the UNet's shapes at 1344x768."""
    import torch

    from engine.images.random_sdxl import build_components, full_configs, parameter_counts

    parts = build_components(full_configs(), device="meta")
    counts = parameter_counts(parts)
    for name, n in counts.items():
        ok = "matches published" if n == PUBLISHED[name] else f"published {PUBLISHED[name]:,}"
        print(f"{name:15s} {n:>14,} parameters ({ok})")
    print(
        f"{'total':15s} {sum(counts.values()):>14,} parameters, "
        f"{sum(counts.values()) * 2 / 2**30:.2f} GiB in fp16"
    )
    unet = parts["unet"]
    with torch.no_grad():
        latents = torch.empty(2, 4, 768 // 8, 1344 // 8, device="meta")
        text = torch.empty(2, 77, 2048, device="meta")
        added = {
            "text_embeds": torch.empty(2, 1280, device="meta"),
            "time_ids": torch.empty(2, 6, device="meta"),
        }
        out = unet(
            latents,
            torch.tensor([999, 999], device="meta"),
            encoder_hidden_states=text,
            added_cond_kwargs=added,
        ).sample
    print(f"UNet at 1344x768 (CFG batch 2): latents {tuple(latents.shape)} -> {tuple(out.shape)}")
    vae = parts["vae"]
    with torch.no_grad():
        img = vae.decode(torch.empty(1, 4, 96, 168, device="meta")).sample
    print(f"VAE decode: (1, 4, 96, 168) -> {tuple(img.shape)}")
    check_full_adapter(unet)


def check_full_adapter(unet: Any) -> None:
    """The random full-size IP-Adapter Plus-Face's tensors against the full UNet, on the meta device:
    h94's file has 140 to_k_ip/to_v_ip tensors (70 cross-attention layers) and 424 M parameters
    (423,748,864 x 2 bytes + its safetensors header = its 847,517,512 bytes)."""
    import torch

    from engine.images.random_ip_adapter import VISION, attn_state_dict, image_proj_state_dict

    with torch.device("meta"):
        attn = attn_state_dict(unet)
        width = int(VISION["full"]["hidden_size"])
        proj = image_proj_state_dict(width, unet.config.cross_attention_dim, "full")
    n = sum(v.numel() for v in (*attn.values(), *proj.values()))
    print(f"IP-Adapter Plus-Face: {len(attn)} to_k_ip/to_v_ip tensors, Resampler latents "
          f"{tuple(proj['latents'].shape)} -> {tuple(proj['proj_out.weight'].shape)}; {n:,} parameters "
          f"({n * 2 / 2**20:.0f} MiB in fp16, as h94 ships it: 847,517,512 bytes)")


def bench_full(args: argparse.Namespace) -> None:
    import torch

    from engine.images.random_sdxl import build_random_sdxl
    from engine.images.sdxl import SDXLSource

    if not torch.cuda.is_available():
        sys.exit("--full needs a CUDA GPU; use --full --check to check the architecture without one")
    size = (1344, 768)
    root = Path(args.workdir or tempfile.mkdtemp(prefix="sdxl-full-"))
    model = root / "sdxl-random"
    if not (model / "model_index.json").is_file():
        started = time.perf_counter()
        build_random_sdxl(model, full=True, device="cuda", fp16=True)
        torch.cuda.empty_cache()
        print(
            f"full-size random SDXL built and saved (fp16) in {time.perf_counter() - started:.0f} s "
            f"at {model}"
        )
    vae_config = model / "vae" / "config.json"
    config = json.loads(vae_config.read_text(encoding="utf-8"))
    config["force_upcast"] = bool(args.stock_vae)  # the fp16-fix VAE's config says false
    vae_config.write_text(json.dumps(config, indent=2), encoding="utf-8")
    print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    adapter, reference = full_adapter(root, model) if args.ip_adapter else (None, None)
    runs = [(off, steps, sched) for off in args.offload for steps, sched in ((30, None), (4, "lightning"))]
    for offload, steps, scheduler in runs:
        src = SDXLSource(
            model, device="cuda", steps=steps, scheduler=scheduler, offload=offload, keep_loaded=True,
            ip_adapter=adapter,
        )
        progress = StageProgress("images")
        started = time.perf_counter()
        src.load(progress)
        load_s = time.perf_counter() - started
        src.generate(
            ScenePrompt(0, "warm-up", "blurry", 0), size=size, progress=progress
        )  # kernels, allocator
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        for i in range(args.images):
            src.generate(
                ScenePrompt(i, f"a lighthouse at night {i}", "blurry, lowres", i + 1),
                size=size,
                progress=progress,
                reference=reference,
            )
        torch.cuda.synchronize()
        per = (time.perf_counter() - started) / args.images
        peak = torch.cuda.max_memory_allocated() / 2**30
        print(
            f"SDXL fp16 1344x768, {steps:2d} steps ({scheduler or 'euler'}), offload={offload:10s}: "
            f"{per:6.2f} s/image, peak GPU {peak:5.2f} GiB, load {load_s:5.1f} s, "
            f"{src.describe()}; "
            f"peak RSS {peak_rss_mib():.0f} MiB"
        )
        src.release()


def full_adapter(root: Path, model: Path) -> tuple[Any, Any]:
    """A random full-size IP-Adapter Plus-Face beside the random SDXL, and a portrait to condition on."""
    import numpy as np
    from PIL import Image

    from engine.images.ip_adapter import DEFAULT_NAME, SHOT_SCALES, Reference, find_adapter
    from engine.images.random_ip_adapter import build_random_ip_adapter

    folder = root / "ip_adapter" / DEFAULT_NAME
    if find_adapter(root) is None:
        started = time.perf_counter()
        build_random_ip_adapter(folder, model / "unet", size="full", device="cuda")
        print(f"full-size random IP-Adapter Plus-Face + ViT-H built in {time.perf_counter() - started:.0f} s")
    portrait = root / "portrait.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (1024, 1024, 3), dtype=np.uint8), "RGB").save(portrait)
    ref = Reference(("bench",), (portrait,), ("Bench",), "medium", SHOT_SCALES["medium"])
    return find_adapter(root), ref


def parse_size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="full-size SDXL architecture (GPU), random weights")
    ap.add_argument(
        "--check", action="store_true", help="with --full: meta-device shape/parameter check only"
    )
    ap.add_argument(
        "--offload", nargs="+", default=["none", "model"], choices=["none", "model", "sequential"]
    )
    ap.add_argument("--images", type=int, default=3, help="timed images per configuration (--full)")
    ap.add_argument("--workdir", help="where to keep the full-size random model between runs (--full)")
    ap.add_argument(
        "--stock-vae", action="store_true", help="with --full: decode in float32 like the stock SDXL VAE"
    )
    ap.add_argument("--ip-adapter", action="store_true",
                    help="with --full: a random full-size IP-Adapter Plus-Face on every image")
    ap.add_argument("--scenes", type=int, default=4, help="images for the tiny benchmark")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--size", type=parse_size, default=(64, 64), help="tiny benchmark size, WxH")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--no-draft", action="store_true", help="skip the draft-art timing")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.full and args.check:
        check_full()
    elif args.full:
        bench_full(args)
    else:
        bench_tiny(args)
        if not args.no_draft:
            bench_draft(args)


if __name__ == "__main__":
    main()
