#!/usr/bin/env python3
"""Re-render benchmark (issue 14): a storyboard of the example request (1 minute, 6 scenes) is
drafted and rendered; one scene's narration is edited; it is rendered again. Prints ONE table:
each stage's own time in the first and second render, "work outside video encoding" (script +
images + narration: what content keys let the second render skip) and its ratio, the video
stage and the wall time. Runs through the same code a server's worker runs (engine/storyboard.py,
engine.pipeline.run with the storyboard's pool), on whatever backends are installed
(``--backends embedded``: the draft writer, draft art and the Piper voice).

The stages run one after another (STORYREEL_OVERLAP=0) so that each stage's time is its own work,
not shared with the compositor encoding beside it (``--overlap`` keeps the product's overlap);
the whole is repeated ``--rounds`` times on fresh storyboards and the median of each cell shown
(a shared machine is noisy).

Usage: python scripts/bench_rerender.py [--minutes 1] [--scenes 6] [--scene 3] [--quality standard]
       [--backends auto|embedded] [--rounds 3] [--overlap] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import artifacts  # noqa: E402
from engine.pipeline import Backends, run  # noqa: E402
from engine.spec import Character, HookIntensity, ImageMode, JobSpec, OwnScript, Pacing, Quality  # noqa: E402

STAGES = ("script", "images", "narration", "video")
EDIT = "Far below the gallery, a bell rang twice, and then the sea itself seemed to hold its breath."


class Times:
    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self.notes: list[str] = []

    def progress(self, stage: str, percent: float, message: str) -> None:
        pass

    def note(self, line: str) -> None:
        self.notes.append(line)

    def stage_done(self, stage: str, seconds: float) -> None:
        self.stages[stage] = seconds


def backends_for(kind: str, tmp: Path) -> Backends:
    from engine.backends import choose_backends

    if kind == "embedded":
        models = tmp / "no-models"
        return choose_backends(models_dir=models, stock_dir=models / "stock", manual_roots=(), check=False,
                               script="draft", images="draft", narration="embedded").backends
    models = ROOT / "models"
    choice = choose_backends(models_dir=models, stock_dir=models / "stock", manual_roots=(), check=False)
    return choice.backends


def render(spec: JobSpec, workdir: Path, videos: Path, pool: Path, backends: Backends) -> tuple[Times, float]:
    """One render of the storyboard, as the worker runs it (pool in, artifacts filed back)."""
    times = Times()
    workdir.mkdir(parents=True)
    artifacts.set_pools(workdir, [pool])
    started = time.perf_counter()
    run(spec, workdir, backends=backends, videos_dir=videos, reporter=times, cancel=threading.Event())
    wall = time.perf_counter() - started
    artifacts.publish(workdir, pool)
    return times, wall


@dataclass(frozen=True)
class Round:
    first: Times
    first_wall: float
    second: Times
    second_wall: float
    draft: float  # seconds to draft the storyboard (script and pictures)


def outside(t: Times) -> float:
    """Work outside video encoding: the script, images and narration stages."""
    return sum(t.stages.get(s, 0.0) for s in STAGES[:3])


def one_round(args: argparse.Namespace, tmp: Path, backends: Backends) -> Round:
    """Draft, render, edit one scene's narration, render again."""
    from engine import storyboard as sb

    spec = JobSpec(topic="The Vanishing Lighthouse", story_type="scary_horror", image_mode=ImageMode.AI_ONLY,
                   duration_minutes=args.minutes, hook_intensity=HookIntensity.EXTREME, pacing=Pacing.DYNAMIC,
                   num_scenes=args.scenes, quality=Quality(args.quality), seed=7,
                   characters=(Character("Sarah", "25 years old, brown hair, terrified expression"),))
    folder = tmp / "storyboard"
    started = time.perf_counter()
    drafted = sb.draft(spec, folder, backends, images=True, report=lambda p, m: None, note=lambda line: None,
                       cancel=threading.Event())
    draft_s = time.perf_counter() - started
    board = JobSpec.from_dict(drafted["spec"])
    pool = sb.pool_of(folder)
    first, first_wall = render(board, tmp / "render-1", tmp / "videos", pool, backends)
    assert board.script is not None
    scenes = list(board.script.scenes)
    k = max(1, min(args.scene, len(scenes))) - 1
    scenes[k] = replace(scenes[k], narration=EDIT)
    edited = replace(board, script=OwnScript(tuple(scenes), board.script.title))
    second, second_wall = render(edited, tmp / "render-2", tmp / "videos", pool, backends)
    return Round(first, first_wall, second, second_wall, draft_s)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument("--scene", type=int, default=3, help="the scene whose narration is edited (1-based)")
    ap.add_argument("--quality", default="standard", choices=[q.value for q in Quality])
    ap.add_argument("--backends", default="embedded", choices=("auto", "embedded"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--overlap", action="store_true", help="keep the stages overlapped (as the product runs)")
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args()
    if not args.overlap:
        os.environ["STORYREEL_OVERLAP"] = "0"

    tmp = Path(args.workdir or tempfile.mkdtemp(prefix="bench-rerender-"))
    if tmp.exists() and args.workdir:
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    backends = backends_for(args.backends, tmp)
    rounds = [one_round(args, tmp / f"round-{r + 1}", backends) for r in range(max(1, args.rounds))]

    def median(cell: Callable[[Round], float]) -> float:
        return statistics.median(cell(r) for r in rounds)

    rows = []
    for stage in STAGES:
        rows.append((f"stage {stage}", median(lambda r: r.first.stages.get(stage, 0.0)),
                     median(lambda r: r.second.stages.get(stage, 0.0))))
    rows += [("work outside video encoding", median(lambda r: outside(r.first)),
              median(lambda r: outside(r.second))),
             ("wall (click to MP4)", median(lambda r: r.first_wall), median(lambda r: r.second_wall))]
    ratio = median(lambda r: outside(r.second) / outside(r.first) if outside(r.first) else float("nan"))
    mode = "stages overlapped" if args.overlap else "stages one after another"
    print(f"\nRe-render: {args.minutes:g}-minute storyboard, {args.scenes} scenes, {args.quality}, "
          f"{args.backends} backends, {mode}; scene {args.scene}'s narration edited between the renders; "
          f"median of {len(rounds)} rounds")
    drafted = median(lambda r: r.draft)
    print(f"(storyboard drafted first: script + {args.scenes} pictures in {drafted:.2f} s)\n")
    print(f"| {'':32} | {'1st render s':>12} | {'2nd render s':>12} | {'2nd / 1st':>9} |")
    print(f"|{'-' * 34}|{'-' * 14}|{'-' * 14}|{'-' * 11}|")
    for name, a, b in rows:
        share = f"{100 * b / a:.0f} %" if a >= 0.05 else "-"
        print(f"| {name:32} | {a:12.2f} | {b:12.2f} | {share:>9} |")
    reused = [n for n in rounds[-1].second.notes if n.startswith("Reused")]
    print("\nsecond render's details:\n  " + "\n  ".join(reused))
    verdict = "PASS" if ratio < 0.30 else "FAIL"
    print(f"\n{verdict}: the second render's work outside video encoding is {100 * ratio:.0f} % of the "
          "first's (median of the rounds' ratios; target: under 30 %)")
    if not args.workdir:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ratio < 0.30 else 1


if __name__ == "__main__":
    raise SystemExit(main())
