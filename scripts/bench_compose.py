#!/usr/bin/env python3
"""Compositor benchmark: prints ONE table from one run.

  ours            engine.compose render of a 1080p30 timeline (8 scenes, zooms/pans, 0.6 s
                  crossfades, word-highlight captions, narration + music mix), libx264 veryfast
  frames only     the same render without voice or music (a silent AAC track): the compositor's
                  own cost, without the soundtrack's mixing, loudness passes and AAC encoding
  ffmpeg alone    the same frames, dumped to a raw NV12 file beforehand, encoded by ffmpeg alone
                  with the same settings (the encoder-bound limit)
  MoviePy 2       the same kind of zooms and crossfades with MoviePy 2 on a shorter clip,
                  extrapolated per second of video (marked in the table)
  memory          peak RSS (Python + ffmpeg, sampled) for a 1-minute and a 10-minute 1080p render
  frames only, N workers
                  composing every frame of the same (silent) timeline with N worker processes
                  and no encoder: frame production's own throughput, and how it scales with N

Usage: python scripts/bench_compose.py [--seconds 60] [--repeat 2] [--long-minutes 10]
       [--long-preset ultrafast] [--moviepy-seconds 10] [--skip-moviepy] [--skip-long] [--workdir DIR]
       [--workers 1,2] [--frames-only]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

W, H, FPS = 1920, 1080, 30
SCENES = 8
MOTIONS = ["zoom_in", "pan_right", "zoom_out", "pan_left", "zoom_in", "pan_up", "zoom_out", "pan_down"]


# -- synthetic assets -----------------------------------------------------------------------------

def make_image(path: Path, seed: int, w: int = 1344, h: int = 768) -> None:
    """A photo-like SDXL-sized picture: smooth colour fields, shapes, fine texture and text."""
    import cv2
    import numpy as np
    from PIL import Image

    r = np.random.default_rng(seed)
    base = cv2.resize(r.integers(0, 255, (h // 96, w // 96, 3)).astype(np.uint8), (w, h),
                      interpolation=cv2.INTER_CUBIC)
    tex = cv2.GaussianBlur(r.integers(0, 255, (h, w, 3)).astype(np.uint8), (0, 0), 0.8)
    im = cv2.addWeighted(base, 0.8, tex, 0.2, 0)
    for _ in range(40):
        c = tuple(int(v) for v in r.integers(0, 255, 3))
        cv2.circle(im, (int(r.integers(0, w)), int(r.integers(0, h))), int(r.integers(8, 90)), c, -1,
                   lineType=cv2.LINE_AA)
    for k in range(6):
        cv2.putText(im, f"Scene {seed} detail {k}", (int(r.integers(0, w - 400)), int(r.integers(40, h))),
                    cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2, cv2.LINE_AA)
    Image.fromarray(im).save(path)


def write_wav(path: Path, samples, rate: int, channels: int = 1) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def make_assets(d: Path, seconds: float) -> dict:
    """Images, a speech-like narration WAV, a music loop, and word timings for captions."""
    import numpy as np

    d.mkdir(parents=True, exist_ok=True)
    for i in range(SCENES):
        p = d / f"scene_{i + 1:02d}.png"
        if not p.exists():
            make_image(p, i)
    rng = np.random.default_rng(7)
    sr = 22050
    t = np.arange(int((seconds - 0.5) * sr)) / sr
    syll = (np.sin(2 * np.pi * 2.5 * t) > -0.2).astype(np.float32)
    voice = syll * (0.35 * np.sin(2 * np.pi * (140 + 30 * np.sin(2 * np.pi * 0.7 * t)) * t)
                    + 0.08 * rng.standard_normal(len(t)))
    write_wav(d / "narration.wav", voice, sr)
    mt = np.arange(int(8 * 44100)) / 44100
    chord = sum(0.12 * np.sin(2 * np.pi * f * mt) for f in (220.0, 277.2, 329.6))
    write_wav(d / "music.wav", np.stack([chord, chord], 1).ravel(), 44100, 2)
    words, tt, k = [], 0.3, 0
    vocab = "the keeper heard a slow knock beneath old boards and waited for the tide to turn".split()
    while tt < seconds - 1.0:
        wd = vocab[k % len(vocab)] + ("." if k % 11 == 10 else "")
        words.append({"text": wd, "start": round(tt, 3), "end": round(tt + 0.3, 3)})
        tt += 0.4
        k += 1
    return {"words": words}


def make_timeline(d: Path, seconds: float, preset: str, words: list, *, sound: bool = True) -> Path:
    from engine.compose.captions import chunk_captions
    from engine.compose.timeline import (Caption, CaptionWord, Timeline, TimelineScene,  # noqa: F401
                                         VideoSettings)

    n = SCENES
    dur = seconds / n
    caps = chunk_captions([CaptionWord(w["text"], w["start"], w["end"]) for w in words])
    tl = Timeline(width=W, height=H, fps=FPS,
                  scenes=tuple(TimelineScene(d / f"scene_{i % SCENES + 1:02d}.png", dur, MOTIONS[i % 8])
                               for i in range(n)),
                  transition=0.6, narration=d / "narration.wav" if sound else None,
                  music=d / "music.wav" if sound else None, captions=caps,
                  video=VideoSettings("libx264", 20, preset))
    path = d / f"timeline_{int(seconds)}s_{preset}{'' if sound else '_silent'}.json"
    tl.to_json(path)
    return path


# -- measurement helpers ------------------------------------------------------------------------

def _tree_rss(pid: int) -> tuple[int, int]:
    """(RSS of pid, RSS of its descendants) in bytes, from /proc."""
    def rss(p: int) -> int:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def kids(p: int) -> list[int]:
        out = []
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                try:
                    out += [int(c) for c in (task / "children").read_text().split()]
                except OSError:
                    pass
        except OSError:
            pass
        return out

    own = rss(pid)
    child, stack = 0, kids(pid)
    while stack:
        c = stack.pop()
        child += rss(c)
        stack += kids(c)
    return own, child


def run_measured(argv: list[str]) -> dict:
    """Run a command; wall time, CPU time (user+sys, incl. ffmpeg), peak Python RSS, peak child
    (ffmpeg) RSS, peak total RSS."""
    c0 = _child_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peaks = {"own": 0, "child": 0, "total": 0}
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            own, child = _tree_rss(proc.pid)
            peaks["own"] = max(peaks["own"], own)
            peaks["child"] = max(peaks["child"], child)
            peaks["total"] = max(peaks["total"], own + child)
            stop.wait(0.1)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(argv)}\n{err.decode()[-3000:]}")
    return {"wall": wall, "cpu": _child_cpu() - c0, **peaks}


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def dump_frames(timeline_path: Path, raw: Path) -> int:
    """Write the exact frames our renderer produces to a raw NV12 file (not timed)."""
    import numpy as np

    from engine.compose.frames import NV12, FrameComposer, frame_bytes
    from engine.compose.timeline import Timeline

    tl = Timeline.from_json(timeline_path)
    comp = FrameComposer(tl)
    buf = np.empty(frame_bytes(tl.width, tl.height), np.uint8)
    try:
        with open(raw, "wb") as f:
            for n in range(tl.frame_count):
                comp.render(n, NV12.wrap(buf, tl.width, tl.height))
                f.write(buf.data)
    finally:
        comp.close()
    return tl.frame_count


def frames_only(timeline_path: Path, workers: int) -> float:
    """Wall seconds to compose every frame of the timeline with ``workers`` worker processes
    (engine.compose.workers.FramePool) and no encoder: frame production's own throughput. Worker
    start-up (a fresh interpreter each) and the scene pictures (prepared once per scene by the
    producer and shared by the workers, ~0.12 s each) are outside the timing."""
    from engine.compose.timeline import Timeline
    from engine.compose.workers import FramePool

    tl = Timeline.from_json(timeline_path)
    pool = FramePool(tl.width, tl.height, workers, slots=2 * workers + 2)
    try:
        pool.start(tl, final=True)
        pool.prepare_all()
        free = list(range(len(pool.buffers)))
        slot_of: dict[int, int] = {}
        t0 = time.perf_counter()
        for n in range(tl.frame_count):
            if not free:
                free.append(slot_of.pop(pool.wait()))
            slot_of[n] = free.pop()
            pool.request(n, slot_of[n])
        while pool.pending:
            pool.wait()
        return time.perf_counter() - t0
    finally:
        pool.close()


def ffmpeg_alone(raw: Path, out: Path, preset: str) -> tuple[float, float]:
    from engine.compose.ffmpeg import find_ffmpeg

    exe = find_ffmpeg()
    subprocess.run(["cat", str(raw)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    argv = [str(exe), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-f", "rawvideo",
            "-pix_fmt", "nv12", "-s", f"{W}x{H}", "-framerate", str(FPS), "-i", str(raw),
            "-vf", "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709",
            "-c:v", "libx264", "-preset", preset, "-crf", "20", "-movflags", "+faststart", "-f", "mp4", "-y",
            str(out)]
    c0 = _child_cpu()
    t0 = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - t0, _child_cpu() - c0


MOVIEPY_SCRIPT = r'''
import sys, time
from moviepy import ImageClip, CompositeVideoClip, vfx
imgs, seconds, out = sys.argv[1].split(","), float(sys.argv[2]), sys.argv[3]
W, H, X = 1920, 1080, 0.6
n = len(imgs); d = seconds / n
clips = []
for i, p in enumerate(imgs):
    start = max(0.0, i * d - X / 2); end = min(seconds, (i + 1) * d + X / 2); dur = end - start
    c = ImageClip(p).resized(height=int(H * 1.1))
    if i % 2 == 0:   # zoom in, like ours
        c = c.resized(lambda t, dur=dur: 1.0 + 0.1 * t / dur)
        c = c.with_position("center")
    else:            # pan right
        c = c.with_position(lambda t, dur=dur, w=c.w: (-(w - W) * t / dur, "center"))
    c = c.with_start(start).with_duration(dur)
    if i > 0:
        c = c.with_effects([vfx.CrossFadeIn(X)])
    clips.append(c)
video = CompositeVideoClip(clips, size=(W, H)).with_duration(seconds)
video = video.with_effects([vfx.FadeIn(0.5), vfx.FadeOut(0.5)])
t0 = time.perf_counter()
video.write_videofile(out, fps=30, codec="libx264", preset="veryfast", ffmpeg_params=["-crf", "20"],
                      audio=False, logger=None)
print(time.perf_counter() - t0)
'''


def moviepy_run(d: Path, seconds: float) -> float:
    imgs = ",".join(str(d / f"scene_{i + 1:02d}.png") for i in range(2))
    proc = subprocess.run([sys.executable, "-c", MOVIEPY_SCRIPT, imgs, str(seconds), str(d / "moviepy.mp4")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"MoviePy run failed:\n{proc.stderr[-3000:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def render_cmd(timeline: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "engine.compose", str(timeline), "-o", str(out), "-q"]


def _mib(b: float) -> str:
    return f"{b / 2**20:.0f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=2,
                    help="alternate ours / ffmpeg-alone this many times; the best of each is compared")
    ap.add_argument("--long-minutes", type=float, default=10.0)
    ap.add_argument("--long-preset", default="ultrafast")
    ap.add_argument("--moviepy-seconds", type=float, default=10.0)
    ap.add_argument("--skip-moviepy", action="store_true")
    ap.add_argument("--skip-long", action="store_true")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--workers", default="1,2",
                    help="frames-only rows: worker process counts to time (comma-separated)")
    ap.add_argument("--frames-only", action="store_true",
                    help="only the frames-only rows (no encoder, no MoviePy, no long renders)")
    args = ap.parse_args()
    os.chdir(ROOT)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_compose_"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, ...]] = []
    loads = [os.getloadavg()[0]]
    print(f"# workdir {work}; cores {os.cpu_count()}; load {loads[0]:.2f}", file=sys.stderr)

    sec = args.seconds
    meta = make_assets(work, sec)
    tl = make_timeline(work, sec, "veryfast", meta["words"])
    tl_silent = make_timeline(work, sec, "veryfast", meta["words"], sound=False)
    counts = [int(c) for c in args.workers.split(",") if c.strip()]
    best: dict[int, float] = {}
    for _ in range(max(1, args.repeat)):
        for c in counts:
            best[c] = min(best.get(c, float("inf")), frames_only(tl_silent, c))
        loads.append(os.getloadavg()[0])
    n_frames = round(sec * FPS)
    for c in counts:
        scale = f"{best[counts[0]] / best[c]:.2f}x vs {counts[0]}" if c != counts[0] else "-"
        rows.append((f"frames only, {c} worker process(es): {n_frames} frames 1080p, no encoder, pictures "
                     f"prepared (best of {max(1, args.repeat)}) [scaling {scale}]",
                     f"{best[c]:.1f}", f"{best[c] / sec:.2f}", f"{n_frames / best[c]:.0f} frames/s",
                     "-", "-", "-"))
    if args.frames_only:
        args.skip_moviepy = args.skip_long = True
    raw = work / "frames.nv12"
    frames = dump_frames(tl, raw) if not args.frames_only else 0
    runs, silents, alones = [], [], []
    for _ in range(max(1, args.repeat) if not args.frames_only else 0):
        runs.append(run_measured(render_cmd(tl, work / "ours.mp4")))
        alones.append(ffmpeg_alone(raw, work / "alone.mp4", "veryfast"))
        silents.append(run_measured(render_cmd(tl_silent, work / "silent.mp4")))
        loads.append(os.getloadavg()[0])
    raw.unlink(missing_ok=True)
    if not runs:
        return _table(rows, args, loads, {})
    ours = min(runs, key=lambda r: r["wall"])
    alone, alone_cpu = min(alones)
    walls = ", ".join(f"{r['wall']:.1f}" for r in runs)
    alone_walls = ", ".join(f"{a[0]:.1f}" for a in alones)
    rows.append((f"ours: full render {sec:.0f}s 1080p30, 8 scenes, captions, voice+music mix (runs {walls})",
                 f"{ours['wall']:.1f}", f"{ours['wall'] / sec:.2f}", f"{ours['wall'] / alone:.3f}x",
                 f"{ours['cpu']:.1f}", f"{ours['cpu'] / alone_cpu:.3f}x", _mib(ours["total"])))
    silent = min(silents, key=lambda r: r["wall"])
    silent_walls = ", ".join(f"{r['wall']:.1f}" for r in silents)
    rows.append((f"ours, frames only: same video, no voice or music (silent AAC) (runs {silent_walls})",
                 f"{silent['wall']:.1f}", f"{silent['wall'] / sec:.2f}", f"{silent['wall'] / alone:.3f}x",
                 f"{silent['cpu']:.1f}", f"{silent['cpu'] / alone_cpu:.3f}x", _mib(silent["total"])))
    rows.append((f"ffmpeg alone: same {frames} frames, libx264 veryfast crf 20 (runs {alone_walls})",
                 f"{alone:.1f}", f"{alone / sec:.2f}", "1.000x", f"{alone_cpu:.1f}", "1.000x", "-"))
    if not args.skip_moviepy:
        c0 = _child_cpu()
        mp = moviepy_run(work, args.moviepy_seconds)
        mp_cpu = (_child_cpu() - c0) / args.moviepy_seconds * sec
        per = mp / args.moviepy_seconds
        rows.append((f"MoviePy 2: {args.moviepy_seconds:.0f}s clip, extrapolated to {sec:.0f}s (*)",
                     f"{per * sec:.1f}", f"{per:.2f}",
                     f"{per * sec / alone:.2f}x (ours {per * sec / ours['wall']:.1f}x faster)",
                     f"{mp_cpu:.1f}", f"{mp_cpu / alone_cpu:.2f}x", "-"))
    if not args.skip_long:
        for minutes in (1.0, args.long_minutes):
            s = minutes * 60
            meta_l = make_assets(work / f"long{minutes:g}", s)
            tl_l = make_timeline(work / f"long{minutes:g}", s, args.long_preset, meta_l["words"])
            m = run_measured(render_cmd(tl_l, work / f"long{minutes:g}.mp4"))
            loads.append(os.getloadavg()[0])
            rows.append((f"ours: {minutes:g} min 1080p30, preset {args.long_preset} (memory check)",
                         f"{m['wall']:.1f}", f"{m['wall'] / s:.2f}", "-", f"{m['cpu']:.1f}", "-",
                         f"{_mib(m['total'])} (python {_mib(m['own'])} + ffmpeg {_mib(m['child'])})"))
    return _table(rows, args, loads, {"ours": runs, "silent": silents, "alone": alones})


def _table(rows: list[tuple[str, ...]], args: argparse.Namespace, loads: list[float], raw: dict) -> int:
    head = ("run", "wall s", "wall s / video s", "wall vs ffmpeg alone", "CPU s", "CPU vs ffmpeg alone",
            "peak RSS MiB")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(r)) + " |"  # noqa: E731
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    if not args.skip_moviepy:
        print(f"(*) MoviePy 2 timed on a {args.moviepy_seconds:g}s clip (2 scenes: zoom, pan; crossfade;"
              " fades) and scaled per second of video.")
    print("Best of the alternating runs compared; CPU = user+sys of the process and its ffmpeg children.")
    print("Load average during the run: " + ", ".join(f"{x:.1f}" for x in loads)
          + " (2 cores; other work on the machine skews wall times)")
    print(json.dumps(raw), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
