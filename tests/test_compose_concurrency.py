"""The render's concurrency: the soundtrack made on its own thread while frames encode, a stop
that kills a running ffmpeg at once, compositor threads at lower priority than the encoder,
failures of the soundtrack or the final mux surfacing with ffmpeg's words and no leftovers, and
the render in a child process (as the pipeline runs it): progress relayed, errors kept, cancel."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.compose import cpu
from engine.compose import ffmpeg as ff
from engine.compose.child import render_in_child
from engine.compose.render import render
from engine.compose.timeline import Timeline, TimelineScene, VideoSettings
from engine.errors import BadInput, JobCancelled, RenderFailed
from engine.progress import StageProgress
from test_compose_util import decode_audio, fake_ffmpeg, leftovers, solid_image, speech_like, write_wav

W, H = 160, 90
FAST = VideoSettings("libx264", 23, "ultrafast")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")


def _tl(d: Path, seconds: float = 1.0) -> Timeline:
    a, b = solid_image(d / "a.png", (120, 80, 40)), solid_image(d / "b.png", (40, 80, 120))
    narration = write_wav(d / "n.wav", speech_like(2 * seconds - 0.2), 22050)
    return Timeline(W, H, 24, (TimelineScene(a, seconds, "zoom_in"), TimelineScene(b, seconds, "pan_left")),
                    narration=narration, video=FAST)


def test_stop_kills_a_running_ffmpeg_at_once() -> None:
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(JobCancelled, match="stopped"):
        # -re: read the 10-minute input in real time, so only the stop can end it early
        ff.run(ff.find_ffmpeg(), ["-re", "-f", "lavfi", "-i", "sine=d=600", "-f", "null", "-"], "a long job",
               stop=stop)
    assert time.monotonic() - t0 < 5.0
    timer.cancel()


def test_run_raises_with_ffmpegs_words() -> None:
    with pytest.raises(RenderFailed, match="a bad job: ffmpeg failed .*No such file"):
        ff.run(ff.find_ffmpeg(), ["-i", "/nonexistent/x.wav", "-f", "null", "-"], "a bad job",
               stop=threading.Event())


@linux_only
def test_yield_to_encoder_lowers_only_its_own_thread_and_children() -> None:
    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: dict[str, int] = {}

    def worker() -> None:
        cpu.yield_to_encoder()
        seen["thread"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        out = subprocess.run(["sh", "-c", "cut -d' ' -f19 /proc/self/stat"], capture_output=True, text=True)
        seen["child"] = int(out.stdout)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    expected = min(19, main + cpu.BACKGROUND_NICE)
    assert seen == {"thread": expected, "child": expected}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main


def test_single_threaded_cv_restores_the_setting() -> None:
    import cv2

    before = cv2.getNumThreads()
    with cpu.single_threaded_cv():
        assert cv2.getNumThreads() == 1
    assert cv2.getNumThreads() == before


def test_soundtrack_is_aligned_with_the_frames(tmp_path: Path) -> None:
    """The separately encoded AAC keeps its timing through the stream-copy mux (its priming
    samples are trimmed by the edit list): a burst at 0.5 s in the narration is at 0.5 s."""
    rate = 22050
    voice = np.zeros(int(1.8 * rate))
    voice[rate // 2: rate // 2 + rate // 5] = speech_like(0.2, rate)
    t = replace(_tl(tmp_path), narration=write_wav(tmp_path / "burst.wav", voice, rate))
    out = render(t, tmp_path / "o" / "v.mp4")
    audio = np.abs(decode_audio(out)).max(axis=1)
    assert abs(len(audio) / 48000 - t.duration) <= 1 / t.fps
    onset = int(np.argmax(audio > 0.1 * audio.max()))
    assert abs(onset / 48000 - 0.5) < 0.003, onset / 48000
    assert leftovers(out.parent) == ["v.mp4"]


def test_soundtrack_failure_fails_the_render(tmp_path: Path) -> None:
    fake = fake_ffmpeg(tmp_path, 'case "$*" in *soundtrack.m4a*) '
                                 'echo "simulated AAC failure: Invalid argument" >&2; exit 5;; esac')
    out = tmp_path / "o" / "v.mp4"
    with pytest.raises(RenderFailed, match="encoding the soundtrack: ffmpeg failed .*simulated AAC failure"):
        render(_tl(tmp_path, seconds=20.0), out, ffmpeg=fake)
    assert leftovers(out.parent) == []


def test_final_mux_failure_fails_the_render(tmp_path: Path) -> None:
    fake = fake_ffmpeg(tmp_path, 'case "$*" in *"-c copy"*) '
                                 'echo "simulated mux failure: No space left on device" >&2; exit 1;; esac')
    out = tmp_path / "o" / "v.mp4"
    out.parent.mkdir()
    out.write_bytes(b"previous finished video")
    with pytest.raises(RenderFailed, match="writing the final video: .*No space left on device"):
        render(_tl(tmp_path), out, ffmpeg=fake)
    assert out.read_bytes() == b"previous finished video"
    assert leftovers(out.parent) == ["v.mp4"]


def test_render_in_child_relays_progress_and_notes(tmp_path: Path) -> None:
    seen: list[tuple[float, str]] = []
    notes: list[str] = []
    tl_path = _tl(tmp_path).to_json(tmp_path / "timeline.json")
    p = StageProgress("video", sink=lambda stage, pct, msg: seen.append((pct, msg)), detail=notes.append)
    out = render_in_child(tl_path, tmp_path / "o" / "v.mp4", progress=p)
    assert out == tmp_path / "o" / "v.mp4" and out.stat().st_size > 0
    pcts = [s[0] for s in seen]
    assert pcts == sorted(pcts) and 75 <= pcts[0] and pcts[-1] == 100
    assert any(m.startswith("Rendering video") for _, m in seen)
    assert any(n.startswith("encoding 48 frames") for n in notes)


def test_render_in_child_raises_the_same_error(tmp_path: Path) -> None:
    t = _tl(tmp_path)
    tl_path = t.to_json(tmp_path / "timeline.json")
    (tmp_path / "b.png").unlink()
    with pytest.raises(BadInput, match="scene 2: .*b.png"):
        render_in_child(tl_path, tmp_path / "o" / "v.mp4", progress=StageProgress("video"))


@linux_only
def test_render_in_child_cancels_cleanly(tmp_path: Path) -> None:
    """The job's cancel flag SIGTERMs the child, which kills its ffmpeg and removes its partial
    files before exiting; the parent raises JobCancelled."""
    cancel = threading.Event()

    def sink(stage: str, pct: float, msg: str) -> None:
        if msg.startswith("Rendering video"):  # frames are being made (160x90: thousands a second)
            cancel.set()

    tl_path = _tl(tmp_path, seconds=300.0).to_json(tmp_path / "timeline.json")
    out_dir = tmp_path / "o"
    t0 = time.monotonic()
    with pytest.raises(JobCancelled):
        render_in_child(tl_path, out_dir / "v.mp4", progress=StageProgress("video", sink=sink, cancel=cancel))
    assert time.monotonic() - t0 < 60
    assert leftovers(out_dir) == []
    assert _processes_mentioning(str(out_dir)) == []  # no ffmpeg left running


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if text in (d / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(d.name))
            except OSError:
                pass
    return found


@linux_only
def test_render_child_ends_when_the_server_dies(tmp_path: Path) -> None:
    """kill -9 of the server must not leave a render running on its own (the restarted server
    renders the job again): the child notices its closed event pipe at its next progress report,
    stops its ffmpeg and removes its partial files."""
    tl_path = _tl(tmp_path, seconds=60.0).to_json(tmp_path / "timeline.json")
    out_dir = tmp_path / "o"
    parent_code = (
        "import sys; from pathlib import Path; from engine.compose.child import render_in_child; "
        "from engine.progress import StageProgress; "
        "render_in_child(Path(sys.argv[1]), Path(sys.argv[2]), progress=StageProgress('video'))"
    )
    root = Path(__file__).resolve().parents[1]
    parent = subprocess.Popen([sys.executable, "-c", parent_code, str(tl_path), str(out_dir / "v.mp4")],
                              cwd=root)
    try:
        deadline = time.monotonic() + 60
        while not list(out_dir.glob(".*.part*")):  # the render's temporary folder
            assert time.monotonic() < deadline and parent.poll() is None, "the render never started"
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 20
    while _processes_mentioning(str(out_dir)) or leftovers(out_dir):
        assert time.monotonic() < deadline, (_processes_mentioning(str(out_dir)), leftovers(out_dir))
        time.sleep(0.1)
