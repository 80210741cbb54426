"""python -m engine.compose TIMELINE.json -o OUT.mp4 — render a timeline, showing progress."""
from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from engine.errors import EngineError, JobCancelled
from engine.progress import StageProgress


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.compose",
                                 description="Render a StoryReel timeline JSON to an MP4.")
    ap.add_argument("timeline", type=Path, help="timeline JSON (relative paths resolve against its folder)")
    ap.add_argument("-o", "--output", type=Path, required=True, help="MP4 file to write")
    ap.add_argument("--ffmpeg", type=Path, default=None, help="ffmpeg binary (default: imageio-ffmpeg's)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    ap.add_argument("-v", "--verbose", action="store_true", help="log details")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")

    from engine.compose.render import render
    from engine.compose.timeline import Timeline

    tty = sys.stderr.isatty()
    last = [""]

    def sink(stage: str, percent: float, message: str) -> None:
        if args.quiet or message == last[0]:
            return
        last[0] = message
        print(f"\r{message:<60}" if tty else message, end="" if tty else "\n", file=sys.stderr, flush=True)

    def detail(line: str) -> None:
        if args.verbose:
            print(f"\n{line}" if tty else line, file=sys.stderr)

    progress = StageProgress("video", sink=sink, detail=detail, cancel=threading.Event())
    try:
        timeline = Timeline.from_json(args.timeline)
        out = render(timeline, args.output, progress=progress, ffmpeg=args.ffmpeg)
    except JobCancelled as e:
        print(f"\ncancelled: {e.message}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\ninterrupted; no video written", file=sys.stderr)
        return 130
    except EngineError as e:
        print(f"\nerror: {e.message}", file=sys.stderr)
        return 1
    if tty and not args.quiet:
        print(file=sys.stderr)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
