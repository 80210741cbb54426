"""python -m engine.compose TIMELINE.json -o OUT.mp4 — render a timeline, showing progress.

With ``--events`` it speaks the line protocol of engine/compose/child.py instead (how the
server's pipeline runs it)."""
from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from engine.errors import EngineError, JobCancelled
from engine.progress import STAGE_RANGES, StageProgress


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.compose",
                                 description="Render a StoryReel timeline JSON to an MP4.")
    ap.add_argument("timeline", type=Path, nargs="?", default=None,
                    help="timeline JSON (relative paths resolve against its folder); omit with --stream")
    ap.add_argument("-o", "--output", type=Path, required=True, help="MP4 file to write")
    ap.add_argument("--ffmpeg", type=Path, default=None, help="ffmpeg binary (default: imageio-ffmpeg's)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    ap.add_argument("-v", "--verbose", action="store_true", help="log details")
    ap.add_argument("--events", action="store_true",
                    help="JSON progress events on stdout; SIGTERM cancels (for the server's pipeline)")
    ap.add_argument("--workers", type=int, default=None,
                    help="frame worker processes (default: sized to the cores the encoder leaves)")
    ap.add_argument("--stream", action="store_true",
                    help='read the timeline as it grows from stdin: one {"timeline": {...}, "final": '
                         'bool} per line (the pipeline starts the render before the last scene exists)')
    ap.add_argument("--expect-seconds", type=float, default=None,
                    help="with --stream: the video's expected length (for the progress bar)")
    args = ap.parse_args(argv)
    if (args.timeline is None) != args.stream:
        ap.error("give a timeline file, or --stream (not both)")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")

    from engine.compose.child import cancel_on_sigterm, emit
    from engine.compose.feed import TimelineFeed, read_lines
    from engine.compose.render import render
    from engine.compose.timeline import Timeline

    tty = sys.stderr.isatty() and not args.events
    last = [""]
    lo, hi = STAGE_RANGES["video"]

    def sink(stage: str, percent: float, message: str) -> None:
        if args.events:
            emit("progress", fraction=round((percent - lo) / (hi - lo), 5), message=message)
            return
        if args.quiet or message == last[0]:
            return
        last[0] = message
        print(f"\r{message:<60}" if tty else message, end="" if tty else "\n", file=sys.stderr, flush=True)

    def detail(line: str) -> None:
        if args.events:
            emit("note", line=line)
        elif args.verbose:
            print(f"\n{line}" if tty else line, file=sys.stderr)

    cancel = threading.Event()
    if args.events:
        cancel_on_sigterm(cancel)
    progress = StageProgress("video", sink=sink, detail=detail, cancel=cancel)
    try:
        source: Timeline | TimelineFeed
        if args.stream:
            source = TimelineFeed(final=False, expected_seconds=args.expect_seconds)
            threading.Thread(target=read_lines, args=(sys.stdin, source), name="compose-feed",
                             daemon=True).start()
        else:
            source = Timeline.from_json(args.timeline)
        out = render(source, args.output, progress=progress, ffmpeg=args.ffmpeg, workers=args.workers)
    except KeyboardInterrupt:
        if args.events:
            emit("error", kind="JobCancelled", message="interrupted")
        else:
            print("\ninterrupted; no video written", file=sys.stderr)
        return 130
    except EngineError as e:
        cancelled = isinstance(e, JobCancelled)
        if args.events:
            emit("error", kind=type(e).__name__, message=e.message)
        else:
            print(f"\n{'cancelled' if cancelled else 'error'}: {e.message}", file=sys.stderr)
        return 130 if cancelled else 1
    if args.events:
        emit("done", path=str(out))
        return 0
    if tty and not args.quiet:
        print(file=sys.stderr)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
