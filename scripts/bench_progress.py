"""Polls /api/progress from many concurrent clients while renders run; prints latency.

    python scripts/bench_progress.py [--lanes 2] [--clients 50] [--seconds 15] [--duration 0.5]
                                     [--interval 0.25]

Starts `python -m server --lanes N` on a free loopback port with temporary folders, submits one
job per lane on the embedded defaults, waits until they all run and the first reaches the render
stage (the heaviest CPU load; each lane is a worker process of its own), then runs the
pollers twice: each client polling every --interval seconds (a browser tab polls about once a
second; 0.25 s is four times that), and back-to-back with no pause (saturation: latency there is
mostly queueing, clients / throughput). Target: p99 under 50 ms with no errors."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_for(
    session: aiohttp.ClientSession, url: str, ok: Callable[[dict], bool], timeout: float
) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with session.get(url) as r:
                body = await r.json()
                if ok(body):
                    return body
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit(f"timed out waiting on {url}")


async def poller(
    session: aiohttp.ClientSession,
    url: str,
    until: float,
    interval: float,
    lat: list[float],
    errors: list[str],
) -> None:
    while time.monotonic() < until:
        if interval:
            await asyncio.sleep(interval)
        t0 = time.perf_counter()
        try:
            async with session.get(url) as r:
                await r.read()
                if r.status != 200:
                    errors.append(str(r.status))
        except aiohttp.ClientError as exc:
            errors.append(type(exc).__name__)
        lat.append(time.perf_counter() - t0)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lanes", type=int, default=2, help="worker processes rendering at once")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--duration", type=float, default=0.5, help="minutes of video to render meanwhile")
    ap.add_argument("--interval", type=float, default=0.25, help="seconds between one client's polls")
    args = ap.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                f"{tmp}/data",
                "--videos-dir",
                f"{tmp}/videos",
                "--models-dir",
                f"{tmp}/models",
                "--lanes",
                str(args.lanes),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            conn = aiohttp.TCPConnector(limit=args.clients + 5)
            async with aiohttp.ClientSession(connector=conn) as session:
                await wait_for(session, f"{base}/health", lambda b: b.get("status") == "ok", 60)
                job_ids = []
                for n in range(args.lanes):
                    async with session.post(
                        f"{base}/api/generate-video",
                        json={
                            "topic": f"The Vanishing Lighthouse {n + 1}",
                            "story_type": "scary_horror",
                            "duration": args.duration,
                            "num_scenes": 4,
                        },
                    ) as r:
                        job_ids.append((await r.json())["job_id"])
                url = f"{base}/api/progress?job_id={job_ids[0]}"
                await wait_for(
                    session, url, lambda b: b.get("stage") == "video" or b["status"] != "generating", 600
                )
                running = sum(lane["job_id"] is not None
                              for lane in (await wait_for(session, f"{base}/health", bool, 10))["lanes"])
                rows = []
                for interval in (args.interval, 0.0):
                    lat: list[float] = []
                    errors: list[str] = []
                    until = time.monotonic() + args.seconds
                    await asyncio.gather(
                        *(poller(session, url, until, interval, lat, errors) for _ in range(args.clients))
                    )
                    async with session.get(url) as r:
                        final = await r.json()
                    rows.append((interval, lat, errors, final))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(
        f"{'lanes':>5} {'running':>7} {'clients':>8} {'interval':>9} {'requests':>9} {'req/s':>7} "
        f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7}  render during run"
    )
    for interval, lat, errors, final in rows:
        q = statistics.quantiles(lat, n=100)
        print(
            f"{args.lanes:>5} {running:>7} {args.clients:>8} {interval:>8.2f}s {len(lat):>9} "
            f"{len(lat) / args.seconds:>7.0f} "
            f"{q[49] * 1e3:>8.2f} {q[89] * 1e3:>8.2f} {q[98] * 1e3:>8.2f} {max(lat) * 1e3:>8.2f} "
            f"{len(errors):>7}  "
            f"stage={final.get('stage')} progress={final.get('progress')}"
            + ("  target p99<50ms: " + ("MET" if q[98] < 0.05 and not errors else "NOT MET"))
        )
        if errors:
            print("   errors:", json.dumps(sorted(set(errors))))


if __name__ == "__main__":
    asyncio.run(main())
