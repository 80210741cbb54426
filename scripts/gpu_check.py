#!/usr/bin/env python3
"""GPU check for a creator's NVIDIA workstation: what our heavy paths cost there, in ONE table.

  sdxl     the full-size SDXL base architecture with random weights, fp16, 1344x768: 4 steps (our
           Lightning preset: trailing Euler, no CFG) and 30 steps (Euler, CFG 6), each with the
           whole pipeline on the GPU and with model CPU offload; seconds per image and peak VRAM
           (the VAE decodes in fp16, as it does with the fp16-fix VAE the downloader installs)
  vits     the full-size VITS architecture (as in the VCTK model) with random weights, through our
           Coqui engine on CUDA: real-time factor (compute seconds per second of audio)
  compose  our compositor rendering a 1080p30 video (stills with motion, crossfades, captions,
           narration) end to end: with the encoder it picks itself (h264_nvenc when the NVENC probe
           passes), with libx264, and with NVENC refused (CUDA hidden from ffmpeg: the render must
           fall back to libx264); and ffmpeg alone encoding prepared frames with each encoder (fps)

"peak VRAM" is the most torch allocated during the timed runs (nvidia-smi shows more: the CUDA
context and torch's cache; the JSON also has the reserved peak). Data-centre cards without an NVENC
engine (A100, H100, H200) show the NVENC rows as "refused": there the fallback is what runs.

On the GPU machine (no network needed; a few minutes on an H200, 8 at most):

    python scripts/gpu_check.py --json gpu_check.json

Packages: torch, numpy and opencv (already there), plus diffusers, transformers and accelerate
(sdxl); coqui-tts with the torchaudio and torchcodec releases that match torch (vits: coqui-tts
refuses to import without torchcodec on torch >= 2.9, though nothing here decodes audio with it);
Pillow, and imageio-ffmpeg or an ffmpeg with h264_nvenc on PATH (compose). Nothing else of
StoryReel's (no aiohttp, llama-cpp-python, piper): our own code is read from this checkout, not
installed. A section whose packages are missing shows as "missing" and the others still run. To
bring the wheels along, on a networked machine with the same Python version:

    pip download -d wheels diffusers transformers accelerate coqui-tts imageio-ffmpeg Pillow \\
        "torch==<its torch>" "torchaudio==<its torch>" "torchcodec==<the release for its torch>"
    # there: pip install --no-index --find-links wheels diffusers coqui-tts imageio-ffmpeg \\
    #     torchaudio torchcodec

On any machine without a GPU, ``--smoke`` runs the same code with tiny sizes on the CPU (under a
minute; the test suite runs it). Random weights make noise, not pictures or speech: only the
timings and memory mean anything. Exit status 0 when every check ran, 1 when one failed or its
packages are missing, 2 when there is no CUDA device (without --smoke)."""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import warnings
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Final, Iterator, Literal, Sequence

ROOT: Final = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GIB: Final = float(1 << 30)
SECTIONS: Final = ("sdxl", "vits", "compose")
#: import name -> distribution name, for "missing" rows and the versions in the JSON.
PACKAGES: Final = {
    "torch": "torch", "numpy": "numpy", "cv2": "opencv-python", "diffusers": "diffusers",
    "transformers": "transformers", "accelerate": "accelerate", "TTS": "coqui-tts",
    "torchaudio": "torchaudio", "torchcodec": "torchcodec", "PIL": "Pillow",
    "imageio_ffmpeg": "imageio-ffmpeg",
}
NEEDS: Final = {
    "sdxl": ("torch", "diffusers", "transformers", "accelerate"),
    "vits": ("torch", "TTS", "torchaudio", "torchcodec"),
    "compose": ("numpy", "cv2", "PIL"),
}
NARRATION_TEXT: Final = (
    "The lighthouse keeper climbed the stairs for the last time that winter. Far below, the sea "
    "threw itself against the rocks, and the lamp answered with its slow white sweep. Nobody in the "
    "village remembered a night so dark, or a storm that lasted so long. At midnight the light "
    "flickered, steadied, and then went out.")


@dataclass(frozen=True)
class Sizes:
    """What one mode measures: the GPU check proper, or the CPU smoke run of the same code."""

    mode: Literal["gpu", "smoke"]
    device: str
    sdxl: Literal["tiny", "full"]
    image: tuple[int, int]  # (width, height)
    images: int  # timed images per configuration (after one warm-up)
    vits: Literal["tiny", "full"]
    video: tuple[int, int]
    fps: float
    seconds: float


GPU: Final = Sizes("gpu", "cuda", "full", (1344, 768), 2, "full", (1920, 1080), 30.0, 20.0)
SMOKE: Final = Sizes("smoke", "cpu", "tiny", (64, 64), 1, "tiny", (320, 180), 30.0, 2.0)

Status = Literal["ok", "refused", "skipped", "missing", "failed"]


@dataclass
class Row:
    section: str
    check: str
    status: Status = "ok"
    value: float | None = None
    unit: str = ""  # "s/image" | "RTF" | "fps"
    peak_vram_gib: float | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def result(self) -> str:
        if self.value is None:
            return self.status
        shown = {"s/image": f"{self.value:.2f} s/image", "RTF": f"RTF {self.value:.3f}",
                 "fps": f"{self.value:.1f} fps"}.get(self.unit, f"{self.value:g} {self.unit}".strip())
        return shown if self.status == "ok" else f"{shown} ({self.status})"


# -- helpers ----------------------------------------------------------------------------------------


def missing_packages(names: Sequence[str]) -> list[str]:
    """Distribution names of the modules in ``names`` that cannot be imported here."""
    return [PACKAGES.get(n, n) for n in names if importlib.util.find_spec(n) is None]


def version_of(module: str) -> str | None:
    dist = PACKAGES.get(module, module)
    for name in (dist, dist + "-headless", module):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def short_error(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    text = text if len(text) <= limit else text[:limit] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def cuda_sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> tuple[float | None, float | None]:
    """(peak allocated, peak reserved) by torch on the device since reset_peak, in GiB."""
    if not device.startswith("cuda"):
        return None, None
    import torch

    return torch.cuda.max_memory_allocated() / GIB, torch.cuda.max_memory_reserved() / GIB


def free_memory(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def markdown_table(rows: Sequence[Row]) -> str:
    def cell(text: str) -> str:
        return " ".join(text.split()).replace("|", "\\|")

    lines = ["| check | result | peak VRAM | notes |", "|---|---|---|---|"]
    for r in rows:
        vram = "" if r.peak_vram_gib is None else f"{r.peak_vram_gib:.2f} GiB"
        lines.append(f"| {cell(r.check)} | {cell(r.result())} | {vram} | {cell(r.notes)} |")
    return "\n".join(lines)


@contextlib.contextmanager
def captured_log(name: str) -> Iterator[list[str]]:
    """The messages logger ``name`` logs at INFO and above while the block runs (kept here, not
    printed)."""
    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger(name)
    handler, level, propagate = Keep(logging.INFO), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


@contextlib.contextmanager
def cuda_hidden_from_children() -> Iterator[None]:
    """Processes started inside the block see no CUDA device (so NVENC cannot open one); this
    process keeps the CUDA context it already has."""
    old = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = old


# -- environment ------------------------------------------------------------------------------------


def environment(sizes: Sizes) -> dict[str, Any]:
    env: dict[str, Any] = {"mode": sizes.mode, "python": platform.python_version(),
                           "platform": platform.platform(), "cpu_count": os.cpu_count(),
                           "versions": {m: version_of(m) for m in PACKAGES}}
    if importlib.util.find_spec("torch") is None:
        return env
    import torch

    env["torch_cuda"] = torch.version.cuda
    env["cuda_available"] = torch.cuda.is_available()
    if sizes.device.startswith("cuda") and torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability()
        arches = torch.cuda.get_arch_list()
        free, total = torch.cuda.mem_get_info()
        env.update(gpu=torch.cuda.get_device_name(), capability=f"{major}.{minor}", torch_arch_list=arches,
                   kernels_for_this_gpu=has_kernels(arches, major, minor),
                   vram_total_gib=round(total / GIB, 2), vram_free_gib=round(free / GIB, 2),
                   driver=nvidia_driver())
    return env


def has_kernels(arches: Sequence[str], major: int, minor: int) -> bool:
    """Whether torch's compiled architectures run on compute capability major.minor: its own
    sm_XY, or PTX (compute_XY) for an older one that the driver can compile forward."""
    want = major * 10 + minor
    for arch in arches:
        m = re.fullmatch(r"(sm|compute)_(\d+)[a-z]?", arch)
        if m and (int(m.group(2)) == want or (m.group(1) == "compute" and int(m.group(2)) <= want)):
            return True
    return False


def nvidia_driver() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def headline(env: dict[str, Any]) -> str:
    v = env["versions"]
    where = "CPU"
    if "gpu" in env:
        kernels = "" if env["kernels_for_this_gpu"] else ", NO kernels for it in this torch"
        where = (f"{env['gpu']} (compute {env['capability']}{kernels}, {env['vram_total_gib']} GiB, "
                 f"driver {env.get('driver') or '?'})")
    return (f"GPU check ({env['mode']}): {where}; Python {env['python']}, torch {v.get('torch')} "
            f"(CUDA {env.get('torch_cuda')}), diffusers {v.get('diffusers')}, coqui-tts {v.get('TTS')}, "
            f"{os.cpu_count()} CPUs")


# -- SDXL -------------------------------------------------------------------------------------------


def sdxl_section(sizes: Sizes, rows: list[Row], facts: dict[str, Any]) -> None:
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline

    from engine.images import random_sdxl as rs
    from engine.images.placement import DEFAULT_GUIDANCE, DEFAULT_STEPS, SCHEDULERS

    device = sizes.device
    cuda = device.startswith("cuda")
    dtype = torch.float16 if cuda else torch.float32  # as the product: fp16 on CUDA only
    w, h = sizes.image
    with tempfile.TemporaryDirectory() as tmp:
        vocab, merges = rs.write_bpe_vocab(Path(tmp))
        tokenizer = rs.clip_tokenizer(vocab, merges)
        tokenizer_2 = rs.clip_tokenizer(vocab, merges, pad_token="!")
    ids = (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.eos_token_id)
    if sizes.sdxl == "full":
        configs = rs.full_configs(max(49408, len(tokenizer)), *ids)
    else:
        configs = rs.tiny_configs(len(tokenizer), *ids)
    configs["vae"] = {**configs["vae"], "force_upcast": False}  # the fp16-fix VAE decodes in fp16
    # Random init in fp32 needs ~14 GiB for the full model: on the GPU when that fits (seconds),
    # else on the CPU (a minute), then cast to fp16.
    build_on = "cpu"
    if cuda and torch.cuda.mem_get_info()[0] >= 20 * GIB:
        build_on = device
    started = time.perf_counter()
    parts = rs.build_components(configs, device=build_on, seed=0)
    parts = {k: v.to(dtype=dtype).eval() for k, v in parts.items()}
    pipe: Any = StableDiffusionXLPipeline(tokenizer=tokenizer, tokenizer_2=tokenizer_2,
                                          scheduler=EulerDiscreteScheduler(**rs.SCHEDULER_CONFIG),
                                          force_zeros_for_empty_prompt=True, **parts)
    pipe.set_progress_bar_config(disable=True)
    counts = rs.parameter_counts(parts)
    del parts
    facts["sdxl"] = {"parameters": counts, "build_s": round(time.perf_counter() - started, 2),
                     "built_on": build_on, "dtype": str(dtype).replace("torch.", ""), "size": [w, h]}
    lightning = SCHEDULERS["lightning"]
    import diffusers

    schedulers = {
        "lightning": getattr(diffusers, lightning.class_name).from_config(
            pipe.scheduler.config, **dict(lightning.options)),
        "euler": pipe.scheduler,
    }
    runs = ((f"{lightning.steps} steps, Lightning (trailing Euler, no CFG)", "lightning", lightning.steps,
             lightning.guidance),
            (f"{DEFAULT_STEPS} steps, Euler, CFG {DEFAULT_GUIDANCE:g}", "euler", DEFAULT_STEPS,
             DEFAULT_GUIDANCE))
    try:
        for placement in ("none", "model"):
            if cuda:
                where = "all on the GPU" if placement == "none" else "model CPU offload"
            else:  # the offload hooks still run, with the CPU as their execution device
                where = f"{device}" if placement == "none" else f"model offload hooks on the {device}"
            prefix = f"SDXL {sizes.sdxl} {'fp16' if cuda else 'fp32'} {w}x{h}"
            try:
                place(pipe, placement, device)
            except Exception as exc:  # an OOM moving it all onto a small card is a result, not a crash
                rows.append(Row("sdxl", f"{prefix}, {where}", "failed", notes=f"placing: {short_error(exc)}"))
                continue
            for label, scheduler, steps, guidance in runs:
                row = Row("sdxl", f"{prefix}, {label}, {where}", unit="s/image")
                pipe.scheduler = schedulers[scheduler]
                try:
                    per, peak, reserved = time_images(pipe, steps, guidance, (w, h), sizes.images, device)
                except Exception as exc:  # e.g. out of memory: the next configuration may still fit
                    row.status, row.notes = "failed", short_error(exc)
                else:
                    row.value, row.peak_vram_gib = per, peak
                    row.notes = f"{sizes.images} timed image(s) after a warm-up"
                    row.extra = {"steps": steps, "guidance": guidance, "placement": placement,
                                 "peak_reserved_gib": reserved}
                rows.append(row)
                free_memory(device)  # after the except block: a traceback no longer holds tensors
    finally:
        if hasattr(pipe, "remove_all_hooks"):
            pipe.remove_all_hooks()
        del pipe, schedulers
        free_memory(device)


def place(pipe: Any, placement: str, device: str) -> None:
    """As SDXLSource places it: everything on the device, or model CPU offload (CUDA)."""
    if placement == "none":
        pipe.to(device)
        return
    pipe.to("cpu")  # offload hooks move each model in when it runs and back out afterwards
    free_memory(device)
    pipe.enable_model_cpu_offload(device=device)  # an explicit "cpu" is allowed: the smoke run


def time_images(pipe: Any, steps: int, guidance: float, size: tuple[int, int], n: int,
                device: str) -> tuple[float, float | None, float | None]:
    """One warm-up image (kernels, cuBLAS handles, the allocator's pools), then ``n`` timed ones
    with the device synchronised at both ends; returns (seconds per image, peak GiB allocated,
    peak GiB reserved)."""
    import torch

    w, h = size
    use_cfg = guidance > 1.0

    def one(seed: int, steps_now: int) -> None:
        generator = torch.Generator(device="cpu").manual_seed(seed)
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # random weights: NaN pixels in the uint8 cast
            out = pipe(prompt=f"a lighthouse on a cliff at night, view {seed}",
                       negative_prompt="blurry, lowres" if use_cfg else None, width=w, height=h,
                       num_inference_steps=steps_now, guidance_scale=guidance, generator=generator,
                       output_type="pil")
        if out.images[0].size != (w, h):
            raise RuntimeError(f"SDXL made a {out.images[0].size} image, expected {(w, h)}")

    one(0, min(steps, 2))
    reset_peak(device)
    started = time.perf_counter()
    for i in range(n):
        one(i + 1, steps)
    cuda_sync(device)
    per = (time.perf_counter() - started) / n
    peak, reserved = peak_gib(device)
    return per, peak, reserved


# -- VITS -------------------------------------------------------------------------------------------


def vits_section(sizes: Sizes, rows: list[Row], facts: dict[str, Any]) -> None:
    from engine.narration.coqui_engine import CoquiEngine
    from engine.narration.random_vits import build_random_vits
    from engine.narration.sentences import prepare_text
    from engine.narration.voices import VOICES

    device = sizes.device
    voice = VOICES["male_narrator_deep"]
    row = Row("vits", f"VITS {sizes.vits} size (random weights), Coqui engine on {device}", unit="RTF")
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_random_vits(Path(tmp) / "vits", ("p225", voice.speaker), size=sizes.vits)
        started = time.perf_counter()
        engine = CoquiEngine(folder, voice, device=device)
        load_s = time.perf_counter() - started
        try:
            sentences = prepare_text(NARRATION_TEXT, max_chars=engine.max_chars)
            engine.synthesize(sentences[0].text, length_scale=1.0, noise=1.0)  # warm-up
            reset_peak(device)
            audio_s = compute_s = 0.0
            for sentence in sentences:
                started = time.perf_counter()
                speech = engine.synthesize(sentence.text, length_scale=1.0, noise=1.0)
                cuda_sync(device)
                compute_s += time.perf_counter() - started
                audio_s += len(speech.audio) / speech.sample_rate
            peak, reserved = peak_gib(device)
        finally:
            engine.close()
    if audio_s <= 0:
        raise RuntimeError("the model produced no audio")
    row.value, row.peak_vram_gib = compute_s / audio_s, peak
    row.notes = (f"{audio_s:.1f} s of audio from {len(sentences)} sentences in {compute_s:.2f} s; "
                 f"load {load_s:.1f} s")
    row.extra = {"audio_s": audio_s, "compute_s": compute_s, "load_s": load_s, "sentences": len(sentences),
                 "peak_reserved_gib": reserved}
    rows.append(row)
    facts["vits"] = {"size": sizes.vits, "device": device}


# -- compositor -------------------------------------------------------------------------------------


def write_assets(folder: Path, sizes: Sizes) -> Any:
    """SDXL-sized pictures, a speech-like narration WAV and word timings -> a Timeline (codec auto)."""
    import cv2
    import numpy as np

    from engine.compose.timeline import Caption, CaptionWord, Timeline, TimelineScene

    rng = np.random.default_rng(7)
    n_scenes = 4 if sizes.seconds >= 8 else 2
    scene_s = sizes.seconds / n_scenes
    iw, ih = (1344, 768) if sizes.mode == "gpu" else (2 * sizes.video[0], 2 * sizes.video[1])
    scenes = []
    for i in range(n_scenes):
        base = cv2.resize(rng.integers(0, 255, (max(2, ih // 96), max(2, iw // 96), 3), dtype=np.uint8),
                          (iw, ih), interpolation=cv2.INTER_CUBIC)
        noise = cv2.GaussianBlur(rng.integers(0, 255, (ih, iw, 3), dtype=np.uint8), (0, 0), 0.8)
        image = cv2.addWeighted(base, 0.8, noise, 0.2, 0)
        for _ in range(30):
            colour = tuple(int(c) for c in rng.integers(0, 255, 3))
            centre = (int(rng.integers(0, iw)), int(rng.integers(0, ih)))
            cv2.circle(image, centre, int(rng.integers(4, max(5, ih // 8))), colour, -1, cv2.LINE_AA)
        path = folder / f"scene_{i + 1:02d}.png"
        cv2.imwrite(str(path), image)
        scenes.append(TimelineScene(path, scene_s, "auto"))
    rate, speech_s = 24000, sizes.seconds - 0.4
    t = np.arange(int(rate * speech_s)) / rate
    syllables = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t) ** 2
    voice = (0.3 * np.sin(2 * np.pi * 140 * t) + 0.1 * np.sin(2 * np.pi * 280 * t)
             + 0.05 * rng.standard_normal(t.size)) * syllables
    narration = folder / "narration.wav"
    with wave.open(str(narration), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(voice, -1, 1) * 32767).astype("<i2").tobytes())
    words = [CaptionWord(f"word{k}", 0.1 + 0.4 * k, 0.1 + 0.4 * k + 0.35) for k in range(int(speech_s / 0.4))]
    captions = tuple(Caption(" ".join(w.text for w in chunk), chunk[0].start, chunk[-1].end, tuple(chunk))
                     for chunk in (words[k:k + 4] for k in range(0, len(words), 4)))
    return Timeline(width=sizes.video[0], height=sizes.video[1], fps=sizes.fps, scenes=tuple(scenes),
                    transition=min(0.6, scene_s / 3), narration=narration, captions=captions)


def codec_used(notes: Sequence[str]) -> str | None:
    """The encoder a render finished with, from its progress notes ("... with libx264")."""
    found = [m.group(1) for n in notes for m in [re.search(r"\bwith (\S+)$", n)] if m]
    return found[-1] if found else None


def render_row(timeline: Any, out: Path, exe: Path, check: str,
               expect: Callable[[str | None, list[str]], str | None]) -> Row:
    """Render ``timeline`` with our compositor; fps end to end (inputs checked, soundtrack mixed,
    frames encoded, muxed). ``expect(codec, notes)`` returns a problem or None."""
    from engine.compose import ffmpeg as ff
    from engine.compose.render import render
    from engine.progress import StageProgress

    notes: list[str] = []
    started = time.perf_counter()
    render(timeline, out, progress=StageProgress("video", detail=notes.append), ffmpeg=exe)
    elapsed = time.perf_counter() - started
    codec = codec_used(notes)
    video = ff.probe(out, exe).first("video")
    problems = []
    size = (timeline.width, timeline.height)
    if video is None or video.codec != "h264" or (video.width, video.height) != size:
        problems.append(f"output is not {timeline.width}x{timeline.height} H.264: {video}")
    problem = expect(codec, notes)
    if problem:
        problems.append(problem)
    fell_back = [n for n in notes if "instead" in n]
    row = Row("compose", check, "failed" if problems else "ok", timeline.frame_count / elapsed, "fps")
    row.notes = "; ".join(problems + [f"encoded with {codec}"] + fell_back
                          + [f"{timeline.frame_count} frames in {elapsed:.1f} s, end to end"])
    row.extra = {"codec": codec, "frames": timeline.frame_count, "seconds": elapsed, "notes": notes}
    out.unlink(missing_ok=True)
    return row


def nv12_frames(timeline: Any, count: int) -> list[Any]:
    """``count`` different NV12 frames made from the timeline's pictures (for ffmpeg alone)."""
    import cv2
    import numpy as np

    w, h = timeline.width, timeline.height
    frames = []
    for k in range(count):
        path = timeline.scenes[k % len(timeline.scenes)].image
        image: Any = cv2.imread(str(path))
        if image is None:
            raise RuntimeError(f"could not read {path}")
        width = image.shape[1]
        dx = k * width // (8 * count)  # a slow pan across 7/8 of the picture
        bgr = cv2.resize(image[:, dx:dx + width * 7 // 8], (w, h), interpolation=cv2.INTER_AREA)
        i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).reshape(-1)
        y, u, v = i420[:w * h], i420[w * h:w * h * 5 // 4], i420[w * h * 5 // 4:]
        uv = np.empty(u.size * 2, np.uint8)
        uv[0::2], uv[1::2] = u, v
        frames.append(np.concatenate([y, uv]))
    return frames


def encoder_only_row(exe: Path, codec: str, timeline: Any, frames: list[Any], out: Path) -> Row:
    from engine.compose import ffmpeg as ff
    from engine.compose.encoder import FrameWriter, encoder_argv
    from engine.compose.frames import frame_bytes

    w, h, n = timeline.width, timeline.height, timeline.frame_count
    settings = timeline.video
    argv = encoder_argv(exe, width=w, height=h, fps=timeline.fps,
                        codec_args=ff.video_codec_args(codec, settings.crf, settings.preset), out=out)
    writer = FrameWriter(argv, frame_bytes(w, h))
    started = time.perf_counter()
    writer.start()
    try:
        for i in range(n):
            buf = writer.acquire()
            buf[:] = frames[i % len(frames)]
            writer.submit(buf)
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    elapsed = time.perf_counter() - started
    out.unlink(missing_ok=True)
    codec_args = ff.video_codec_args(codec, settings.crf, settings.preset)
    preset = codec_args[codec_args.index("-preset") + 1]
    return Row("compose", f"ffmpeg alone, {w}x{h}@{timeline.fps:g} prepared NV12 frames -> {codec} {preset}",
               "ok", n / elapsed, "fps", notes=f"{n} frames in {elapsed:.1f} s (the encoder's own limit)")


def compose_section(sizes: Sizes, rows: list[Row], facts: dict[str, Any]) -> None:
    from dataclasses import replace

    from engine.compose import ffmpeg as ff

    exe = ff.find_ffmpeg()
    first = subprocess.run([str(exe), "-hide_banner", "-version"], capture_output=True, text=True,
                           check=False).stdout.splitlines()
    facts["ffmpeg"] = {"path": str(exe), "version": first[0] if first else "?"}
    w, h = sizes.video
    label = f"{w}x{h}@{sizes.fps:g}"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        timeline = write_assets(tmp, sizes)
        with captured_log("engine.compose.ffmpeg") as said:
            nvenc = ff.nvenc_works(exe)
        why = "; ".join(said)[:300]
        rows.append(Row("compose", "h264_nvenc probe (a tiny real encode)", "ok" if nvenc else "refused",
                        notes="NVENC encodes here" if nvenc else why or "refused"))
        facts["nvenc"] = nvenc

        def auto(codec: str | None, notes: list[str]) -> str | None:
            want = "h264_nvenc" if nvenc else "libx264"
            return None if codec == want else f"expected {want} (probe {'passed' if nvenc else 'refused'})"

        def x264(codec: str | None, notes: list[str]) -> str | None:
            return None if codec == "libx264" else "expected libx264"

        def fallback(codec: str | None, notes: list[str]) -> str | None:
            return None if codec == "libx264" else "NVENC was not refused with CUDA hidden: no fallback seen"

        out = tmp / "out.mp4"
        checks: list[tuple[str, Any, Callable[[str | None, list[str]], str | None], bool]] = [
            (f"compositor {label}, codec auto (h264_nvenc when the probe passes)", timeline, auto, False),
            (f"compositor {label}, libx264 {timeline.video.preset}",
             replace(timeline, video=replace(timeline.video, codec="libx264")), x264, False),
            (f"compositor {label}, NVENC refused (CUDA hidden from ffmpeg): falls back to libx264",
             timeline, fallback, True),
        ]
        for check, tl, expect, hide in checks:
            try:
                with cuda_hidden_from_children() if hide else contextlib.nullcontext():
                    rows.append(render_row(tl, out, exe, check, expect))
            except Exception as exc:
                rows.append(Row("compose", check, "failed", notes=short_error(exc)))
        frames = nv12_frames(timeline, 8)
        for codec in ("h264_nvenc", "libx264"):
            if codec == "h264_nvenc" and not nvenc:
                rows.append(Row("compose", f"ffmpeg alone, {label} prepared NV12 frames -> h264_nvenc",
                                "refused", notes="the NVENC probe failed: nothing to time"))
                continue
            try:
                rows.append(encoder_only_row(exe, codec, timeline, frames, tmp / f"alone_{codec}.mp4"))
            except Exception as exc:
                rows.append(Row("compose", f"ffmpeg alone, {label} -> {codec}", "failed",
                                notes=short_error(exc)))


# -- main -------------------------------------------------------------------------------------------

RUNNERS: Final[dict[str, Callable[[Sizes, list[Row], dict[str, Any]], None]]] = {
    "sdxl": sdxl_section, "vits": vits_section, "compose": compose_section}


def run_section(name: str, sizes: Sizes, rows: list[Row], facts: dict[str, Any]) -> None:
    missing = missing_packages(NEEDS[name])
    if missing:
        rows.append(Row(name, f"{name}: not run", "missing",
                        notes=f"not installed: {', '.join(missing)} — pip install {' '.join(missing)}"))
        return
    before = len(rows)
    started = time.perf_counter()
    try:
        RUNNERS[name](sizes, rows, facts)
    except Exception as exc:  # one section's failure must not hide the others' numbers
        logging.getLogger(__name__).debug("%s failed", name, exc_info=True)
        rows.append(Row(name, f"{name}: stopped", "failed", notes=short_error(exc)))
    finally:
        free_memory(sizes.device)
    facts.setdefault("section_seconds", {})[name] = round(time.perf_counter() - started, 1)
    if len(rows) == before:
        rows.append(Row(name, f"{name}: no result", "failed"))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (no GPU needed)")
    ap.add_argument("--json", type=Path, help="also write the rows and the environment as JSON here")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections to run (default: {','.join(SECTIONS)})")
    ap.add_argument("--images", type=int, help="timed SDXL images per configuration (default 2; smoke 1)")
    ap.add_argument("--seconds", type=float, help="length of the compositor's video (default 20; smoke 2)")
    ap.add_argument("--verbose", action="store_true", help="log our engine's messages")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    sizes = SMOKE if args.smoke else GPU
    if args.images is not None:
        sizes = Sizes(**{**asdict(sizes), "images": max(1, args.images)})
    if args.seconds is not None:
        sizes = Sizes(**{**asdict(sizes), "seconds": max(1.0, args.seconds)})
    if args.smoke and importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(1)  # the smoke run checks the code, not the speed: never oversubscribe
    if not args.smoke:
        import torch

        if not torch.cuda.is_available():
            print("No CUDA device is visible to torch (torch.cuda.is_available() is False). Run this on the "
                  "NVIDIA machine, or use --smoke for the CPU version.", file=sys.stderr)
            return 2
    started = time.perf_counter()
    env = environment(sizes)
    rows: list[Row] = []
    facts: dict[str, Any] = {}
    for name in only:
        run_section(name, sizes, rows, facts)
    elapsed = time.perf_counter() - started
    print(headline(env))
    print()
    print(markdown_table(rows))
    print()
    print(f"{len(rows)} checks in {elapsed:.0f} s")
    bad = [r for r in rows if r.status in ("failed", "missing")]
    if args.json:
        report = {"environment": env, "elapsed_s": round(elapsed, 1), "ok": not bad,
                  "rows": [asdict(r) | {"result": r.result()} for r in rows], "facts": facts}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
