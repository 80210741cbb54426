#!/usr/bin/env python3
"""Whole-job benchmark: prints ONE table from one run of the seed's example request (5 minutes,
10 scenes, 1080p30 at ``standard``) end to end through engine.pipeline.run, on whatever backends
are installed (``--backends embedded``: the draft writer, draft art and the Piper voice).

  per stage       when each stage started and ended (seconds from the click) and its own time;
                  the video stage starts at once and waits for scenes 1-2; "frames reported
                  encoding" is its first progress report above 0 %
  added up        the stages' own times added up (the video stage's includes its wait for scenes)
  relay run       with --relay: the same job again with the stages one after another
                  (STORYREEL_OVERLAP=0), and what the overlap saved against it
  wall            click to MP4
  per minute      wall time per minute of video
  ffmpeg alone    ffmpeg encoding the same number of frames at the same size and settings from
                  raw frames already in memory (4 runs of 150 real frames of this job, from
                  across it, looped): the encoder-bound limit; wall / ffmpeg alone is the target
  CPU             user + system seconds of the job (this process and every process it started)
                  and of ffmpeg alone; the job's CPU over the machine's cores is the least wall
                  time the job can take here, however well its stages overlap

Usage: python scripts/bench_job.py [--minutes 5] [--scenes 10] [--quality standard]
       [--backends auto|embedded] [--workdir DIR] [--skip-ffmpeg] [--relay]
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.pipeline import Backends, Result  # noqa: E402
from engine.spec import Character, HookIntensity, ImageMode, JobSpec, Pacing, Quality  # noqa: E402

STAGES = ("script", "images", "narration", "video")
#: Real frames of the job for "ffmpeg alone": SEGMENTS runs of SEGMENT_FRAMES from across the
#: video, dumped once (in memory) and looped. A short loop of near-still frames encodes far
#: faster than the real video (90 frames: ~1.6x); 4 x 150 frames encode like the whole.
SEGMENTS, SEGMENT_FRAMES = 4, 150


def example_spec(minutes: float, scenes: int, quality: str) -> JobSpec:
    """The seed's example request (tests/conftest.py) at the issue's length."""
    return JobSpec(topic="The Vanishing Lighthouse", story_type="scary_horror", image_style="cinematic",
                   image_mode=ImageMode.AI_ONLY, voice_id="male_narrator_deep", duration_minutes=minutes,
                   hook_intensity=HookIntensity.EXTREME, pacing=Pacing.DYNAMIC, num_scenes=scenes,
                   characters=(Character("Sarah", "25 years old, brown hair, terrified expression"),),
                   stock_keywords=("lighthouse", "ocean", "storm"), quality=Quality(quality), seed=7)


class Clock:
    """The reporter: stage start (first report) and end times, seconds from the click."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.first_frames: float | None = None
        self.lock = threading.Lock()

    def progress(self, stage: str, percent: float, message: str) -> None:
        now = time.monotonic() - self.t0
        with self.lock:
            for name in STAGES:  # every stage named in the substatus has started
                if name not in self.started and (name == stage or _mentions(name, message)):
                    self.started[name] = now
            if self.first_frames is None and re.search(r"Rendering video [1-9]", message):
                self.first_frames = now

    def note(self, line: str) -> None:
        return None

    def stage_done(self, stage: str, seconds: float) -> None:
        with self.lock:
            self.ended[stage] = time.monotonic() - self.t0
            self.seconds[stage] = seconds
            self.started.setdefault(stage, self.ended[stage] - seconds)


def _mentions(stage: str, message: str) -> bool:
    words = {"images": "Creating scene", "narration": "Narrating", "video": "Rendering video"}
    return stage in words and words[stage] in message


def cpu_seconds() -> float:
    """User + system CPU of this process and of its finished (waited-for) descendants."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def ffmpeg_alone(timeline_json: Path, frames: int, scratch: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds for ffmpeg alone to encode ``frames`` frames with the timeline's
    settings, from a raw file of SEGMENTS x SEGMENT_FRAMES real frames of the job (spread over
    it) looped."""
    from engine.compose import ffmpeg as ff
    from engine.compose.encoder import encoder_argv
    from engine.compose.frames import NV12, FrameComposer, frame_bytes
    from engine.compose.render import _codecs
    from engine.compose.timeline import Timeline

    t = Timeline.from_json(timeline_json)
    exe = ff.find_ffmpeg()
    codec = _codecs(t.video.codec, exe)[0]
    import numpy as np

    from engine.compose.shared_stills import shm_dir

    raw = Path(tempfile.mkstemp(prefix="bench-job-frames-", dir=shm_dir())[1])
    buf = np.empty(frame_bytes(t.width, t.height), np.uint8)
    composer = FrameComposer(t)
    step = max(SEGMENT_FRAMES, t.frame_count // SEGMENTS)
    try:
        with open(raw, "wb") as fh:
            for first in range(0, t.frame_count - SEGMENT_FRAMES + 1, step)[:SEGMENTS] or [0]:
                for n in range(first, min(t.frame_count, first + SEGMENT_FRAMES)):
                    composer.render(n, NV12.wrap(buf, t.width, t.height))
                    fh.write(buf.tobytes())
    finally:
        composer.close()
    argv = encoder_argv(exe, width=t.width, height=t.height, fps=t.fps,
                        codec_args=ff.video_codec_args(codec, t.video.crf, t.video.preset),
                        out=scratch / "alone.mp4")
    argv[argv.index("pipe:0")] = str(raw)
    i = argv.index("-f")  # loop the raw input: insert before its -f rawvideo
    argv[i:i] = ["-stream_loop", "-1"]
    j = argv.index("-map")
    argv[j:j] = ["-frames:v", str(frames)]
    try:
        subprocess.run(["cat", str(raw)], stdout=subprocess.DEVNULL, check=True)  # in memory: warm
        started, cpu = time.monotonic(), cpu_seconds()
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
        return (time.monotonic() - started, cpu_seconds() - cpu,
                f"{codec} {t.video.preset} crf {t.video.crf} {t.width}x{t.height}")
    finally:
        raw.unlink(missing_ok=True)


def run_job(spec: JobSpec, work: Path, backends: Backends,
            relay: bool) -> tuple[Clock, Result, float, float]:
    """One run of the job in a fresh folder; ``relay``: the stages one after another. Returns
    the clock, the result, wall and CPU seconds."""
    from engine.overlap import ENV_OVERLAP
    from engine.pipeline import run

    shutil.rmtree(work, ignore_errors=True)
    before = os.environ.get(ENV_OVERLAP)
    os.environ[ENV_OVERLAP] = "0" if relay else "1"
    try:
        cpu = cpu_seconds()
        clock = Clock()
        result = run(spec, work / "job", backends=backends, videos_dir=work / "videos", reporter=clock,
                     cancel=threading.Event())
        return clock, result, time.monotonic() - clock.t0, cpu_seconds() - cpu
    finally:
        if before is None:
            os.environ.pop(ENV_OVERLAP, None)
        else:
            os.environ[ENV_OVERLAP] = before


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--scenes", type=int, default=10)
    ap.add_argument("--quality", default="standard", choices=[q.value for q in Quality])
    ap.add_argument("--backends", default="auto", choices=("auto", "embedded"))
    ap.add_argument("--workdir", type=Path, default=None, help="keep the job's files here")
    ap.add_argument("--skip-ffmpeg", action="store_true")
    ap.add_argument("--relay", action="store_true",
                    help="also run the job with the stages one after another (STORYREEL_OVERLAP=0)")
    args = ap.parse_args()

    from engine.backends import choose_backends

    models = ROOT / "models"
    embedded = args.backends == "embedded"
    choice = choose_backends(models_dir=models, stock_dir=models / "stock", manual_roots=(),
                             script="draft" if embedded else "auto", images="draft" if embedded else "auto",
                             narration="embedded" if embedded else "auto", check=False)
    spec = example_spec(args.minutes, args.scenes, args.quality)
    tmp = Path(tempfile.mkdtemp(prefix="bench-job-"))
    work = args.workdir or tmp
    try:
        clock, result, wall, cpu = run_job(spec, work / "overlapped", choice.backends, relay=False)
        relay_wall = run_job(spec, work / "relay", choice.backends, relay=True)[2] if args.relay else None
        frames = round(result.duration * spec.fps)
        alone, alone_cpu, how = (None, 0.0, "") if args.skip_ffmpeg else ffmpeg_alone(
            work / "overlapped" / "job" / "timeline.json", frames, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    added = sum(clock.seconds.values())
    print(f"\nbench_job: {args.minutes:g} min, {args.scenes} scenes, quality {args.quality}, "
          f"backends: {', '.join(f'{s.stage}={s.backend}' for s in choice.stages)}; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"{'row':<36}{'start s':>9}{'end s':>9}{'seconds':>10}")
    for s in STAGES:
        print(f"{'stage ' + s:<36}{clock.started.get(s, 0):>9.1f}{clock.ended.get(s, 0):>9.1f}"
              f"{clock.seconds.get(s, 0):>10.1f}")
    if clock.first_frames is not None:
        print(f"{'video: frames reported encoding':<36}{clock.first_frames:>9.1f}")
    print(f"{'stage seconds added up':<36}{'':>18}{added:>10.1f}")
    if relay_wall is not None:
        print(f"{'relay run (one stage after another)':<36}{'':>18}{relay_wall:>10.1f}")
        print(f"{'saved by overlap (relay - wall)':<36}{'':>18}{relay_wall - wall:>10.1f}")
    print(f"{'total wall':<36}{'':>18}{wall:>10.1f}")
    print(f"{'wall per minute of video':<36}{'':>18}{wall / (result.duration / 60):>10.1f}")
    from engine.compose.cpu import usable_cores

    cores = usable_cores()
    print(f"{'job CPU s (all its processes)':<36}{'':>18}{cpu:>10.1f}")
    print(f"{f'least wall this CPU allows ({cores} cores)':<36}{'':>18}{cpu / cores:>10.1f}")
    if alone is not None:
        print(f"{'ffmpeg alone, ' + str(frames) + ' frames':<36}{'':>18}{alone:>10.1f}   ({how})")
        print(f"{'ffmpeg alone CPU s':<36}{'':>18}{alone_cpu:>10.1f}")
        print(f"{'wall / ffmpeg alone':<36}{'':>18}{wall / alone:>9.2f}x")
        print(f"{'job CPU / ffmpeg alone CPU':<36}{'':>18}{cpu / max(alone_cpu, 1e-9):>9.2f}x")
    print(f"video: {result.video} ({result.duration:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
