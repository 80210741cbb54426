#!/usr/bin/env python3
"""Whole-job benchmark: prints ONE table from one run of the seed's example request (5 minutes,
10 scenes, 1080p30 at ``standard``) end to end through engine.pipeline.run, on whatever backends
are installed (``--backends embedded``: the draft writer, draft art and the Piper voice).

  per stage       when each stage started and ended (seconds from the click) and its own time;
                  the video stage starts at once and waits for scenes 1-2; "frames reported
                  encoding" is its first progress report above 0 %
  relay           the stages' times added up: what the job took when they ran one after another
  saved           relay minus wall: what the overlap saved
  wall            click to MP4
  per minute      wall time per minute of video
  ffmpeg alone    ffmpeg encoding the same number of frames at the same size and settings from
                  raw frames already in memory (4 runs of 150 real frames of this job, from
                  across it, looped): the encoder-bound limit; wall / ffmpeg alone is the target

Usage: python scripts/bench_job.py [--minutes 5] [--scenes 10] [--quality standard]
       [--backends auto|embedded] [--workdir DIR] [--skip-ffmpeg]
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def ffmpeg_alone(timeline_json: Path, frames: int, scratch: Path) -> tuple[float, str]:
    """Seconds for ffmpeg alone to encode ``frames`` frames with the timeline's settings, from a
    raw file of SEGMENTS x SEGMENT_FRAMES real frames of the job (spread over it) looped."""
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
        started = time.monotonic()
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
        return time.monotonic() - started, f"{codec} {t.video.preset} crf {t.video.crf} {t.width}x{t.height}"
    finally:
        raw.unlink(missing_ok=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--scenes", type=int, default=10)
    ap.add_argument("--quality", default="standard", choices=[q.value for q in Quality])
    ap.add_argument("--backends", default="auto", choices=("auto", "embedded"))
    ap.add_argument("--workdir", type=Path, default=None, help="keep the job's files here")
    ap.add_argument("--skip-ffmpeg", action="store_true")
    args = ap.parse_args()

    from engine.backends import choose_backends
    from engine.pipeline import run

    models = ROOT / "models"
    embedded = args.backends == "embedded"
    choice = choose_backends(models_dir=models, stock_dir=models / "stock", manual_roots=(),
                             script="draft" if embedded else "auto", images="draft" if embedded else "auto",
                             narration="embedded" if embedded else "auto", check=False)
    spec = example_spec(args.minutes, args.scenes, args.quality)
    tmp = Path(tempfile.mkdtemp(prefix="bench-job-"))
    work = args.workdir or tmp
    job = work / "job"
    shutil.rmtree(job, ignore_errors=True)
    clock = Clock()
    try:
        result = run(spec, job, backends=choice.backends, videos_dir=work / "videos", reporter=clock,
                     cancel=threading.Event())
        wall = time.monotonic() - clock.t0
        frames = round(result.duration * spec.fps)
        alone, how = (None, "") if args.skip_ffmpeg else ffmpeg_alone(job / "timeline.json", frames, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    relay = sum(clock.seconds.values())
    print(f"\nbench_job: {args.minutes:g} min, {args.scenes} scenes, quality {args.quality}, "
          f"backends: {', '.join(f'{s.stage}={s.backend}' for s in choice.stages)}")
    print(f"{'row':<34}{'start s':>9}{'end s':>9}{'seconds':>10}")
    for s in STAGES:
        print(f"{'stage ' + s:<34}{clock.started.get(s, 0):>9.1f}{clock.ended.get(s, 0):>9.1f}"
              f"{clock.seconds.get(s, 0):>10.1f}")
    if clock.first_frames is not None:
        print(f"{'video: frames reported encoding':<34}{clock.first_frames:>9.1f}")
    print(f"{'relay (stages added up)':<34}{'':>18}{relay:>10.1f}")
    print(f"{'saved by overlap':<34}{'':>18}{relay - wall:>10.1f}")
    print(f"{'total wall':<34}{'':>18}{wall:>10.1f}")
    print(f"{'wall per minute of video':<34}{'':>18}{wall / (result.duration / 60):>10.1f}")
    if alone is not None:
        print(f"{'ffmpeg alone, ' + str(frames) + ' frames':<34}{'':>18}{alone:>10.1f}   ({how})")
        print(f"{'wall / ffmpeg alone':<34}{'':>18}{wall / alone:>9.2f}x")
    print(f"video: {result.video} ({result.duration:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
