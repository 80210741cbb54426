"""render(timeline, out): the compositor's entry point.

Checks every input first (so a bad image or an over-long narration fails in a second, not after
minutes of encoding), then streams composed frames into ffmpeg while it encodes, with the
soundtrack mixed and encoded on a thread alongside; a stream-copy mux joins them. Everything is
written inside a temporary folder next to ``out`` and moved into place only when complete; on
any error or cancellation ffmpeg is killed and nothing is left behind.
"""
from __future__ import annotations

import errno
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from engine import tempnames
from engine.compose import ffmpeg as ff
from engine.compose.cpu import single_threaded_cv, yield_to_encoder
from engine.compose.encoder import FrameWriter, encoder_argv, mux
from engine.compose.feed import TimelineFeed
from engine.compose.frames import frame_bytes
from engine.compose.produce import InProcess, Pooled, Producer, produce
from engine.compose.soundtrack import encode_soundtrack, mix_soundtrack
from engine.compose.still import open_image
from engine.compose.timeline import Timeline
from engine.compose.workers import FramePool, frame_workers
from engine.errors import BadInput, EngineError, JobCancelled, RenderFailed
from engine.progress import StageProgress, SubProgress, null_progress

log = logging.getLogger(__name__)

Progress = StageProgress | SubProgress
#: Share of the stage's progress bar given to the frames (the rest: soundtrack wait and mux).
_FRAMES_SHARE = 0.98
_REPORT_EVERY = 0.5  # seconds


def check_inputs(timeline: Timeline, ffmpeg: Path) -> None:
    """Raise BadInput naming every missing/unreadable image, or a narration or music problem."""
    check_images(timeline)
    check_sound(timeline, ffmpeg)


def check_images(timeline: Timeline, first: int = 0) -> None:
    """BadInput naming every missing or unreadable image of scenes ``first`` onwards."""
    scenes = list(enumerate(timeline.scenes))[first:]
    missing = [f"scene {i + 1}: {s.image}" for i, s in scenes if not Path(s.image).is_file()]
    if missing:
        raise BadInput("image file(s) not found — " + "; ".join(missing[:10])
                       + (f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""))
    for i, s in scenes:
        open_image(Path(s.image), f"scene {i + 1} image").close()


def check_sound(timeline: Timeline, ffmpeg: Path) -> None:
    """BadInput for a missing or over-long narration, or a missing or silent music file."""
    frame = 1.0 / timeline.fps
    if timeline.narration is not None:
        if not Path(timeline.narration).is_file():
            raise BadInput(f"narration audio not found: {timeline.narration}")
        length = ff.media_duration(Path(timeline.narration), ffmpeg, "narration")
        if length > timeline.duration + frame:
            raise BadInput(f"narration ({length:.2f}s, {timeline.narration}) is longer than the video "
                           f"({timeline.duration:.2f}s); lengthen the scenes or shorten the narration")
    if timeline.music is not None:
        if not Path(timeline.music).is_file():
            raise BadInput(f"music file not found: {timeline.music}")
        info = ff.probe(Path(timeline.music), ffmpeg)
        if info.first("audio") is None:
            raise BadInput(f"music file {timeline.music} has no audio stream")


def _codecs(requested: str, exe: Path) -> list[str]:
    if requested == "auto":
        return ["h264_nvenc", "libx264"] if ff.nvenc_works(exe) else ["libx264"]
    return [requested]


def render(timeline: Timeline | TimelineFeed, out: Path | str, *, progress: Progress | None = None,
           ffmpeg: Path | str | None = None, workers: int | None = None) -> Path:
    """Render ``timeline`` to the MP4 ``out`` (H.264 yuv420p + AAC 48 kHz stereo, faststart).
    ``progress`` is the "video" stage's progress (cancellation is checked between frames).
    Raises BadInput for bad inputs, RenderFailed (with ffmpeg's words) for encoder failures,
    JobCancelled when cancelled; never leaves a partial file at ``out``.

    ``timeline`` may be a TimelineFeed that is still growing (a streamed render: frames start on
    the first scenes while later ones are being made). ``workers``: frame worker processes
    (default: sized to the cores the encoder leaves, workers.frame_workers).

    The soundtrack (mix, loudness, AAC) is made on a thread while the frames encode; the two are
    muxed by stream copy at the end."""
    progress = progress or null_progress("video")
    feed = timeline if isinstance(timeline, TimelineFeed) else TimelineFeed(timeline)
    out = Path(out)
    started = time.monotonic()
    exe = ff.find_ffmpeg(ffmpeg)
    first, final = feed.current(progress.check_cancelled)
    if final:
        check_inputs(first, exe)
    else:
        check_images(first)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RenderFailed(f"cannot create the output folder {out.parent}: {e.strerror or e}") from e
    codecs = _codecs(first.video.codec, exe)
    tmpdir = tempnames.make_part_dir(out)
    tracks = tmpdir / "tracks"  # the separate video and audio, apart from the final file's name
    stop = threading.Event()
    audio_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compose-audio",
                                    initializer=yield_to_encoder)
    try:
        tracks.mkdir()
        audio = audio_pool.submit(_soundtrack, feed, exe, tracks, stop)
        video = tracks / "video.mp4"
        for k, codec in enumerate(codecs):
            try:
                frames = _encode(feed, exe, codec, video, progress, audio, workers)
                break
            except RenderFailed as e:
                if k + 1 < len(codecs):
                    log.warning("%s failed (%s); retrying with %s", codec, e.message[:300], codecs[k + 1])
                    progress.note(f"{codec} failed; encoding with {codecs[k + 1]} instead")
                    continue
                raise
        progress(_FRAMES_SHARE, "Finishing the soundtrack")
        while True:
            progress.check_cancelled()
            try:
                track = audio.result(timeout=0.1)
                break
            except FutureTimeout:
                continue
        progress(_FRAMES_SHARE, "Writing the video file")
        part = mux(exe, video, track, tmpdir / out.name, stop=progress.cancel)
        try:
            part.replace(out)
        except OSError as e:
            raise RenderFailed(f"could not move the finished video to {out}: {e.strerror or e}") from e
    except OSError as e:  # our own writes (soundtrack, temp folder): disk full, permissions
        hint = " — the disk is full; free some space" if e.errno == errno.ENOSPC else ""
        raise RenderFailed(f"writing the video's files in {out.parent} failed: "
                           f"{e.strerror or e}{hint}") from e
    finally:
        stop.set()
        audio_pool.shutdown(wait=True, cancel_futures=True)
        tempnames.remove(tmpdir)
    elapsed = time.monotonic() - started
    log.info("rendered %s: %d frames %dx%d@%g in %.1fs (%.1f fps)", out.name, frames,
             first.width, first.height, first.fps, elapsed, frames / max(elapsed, 1e-9))
    progress(1.0, "Video ready")
    return out


def _soundtrack(feed: TimelineFeed, exe: Path, folder: Path, stop: threading.Event) -> Path:
    """Mix, normalise and encode the soundtrack (on the audio thread, in the encoder's idle time),
    once the final timeline (with the whole narration) is known."""

    def tick() -> None:
        if stop.is_set():
            raise JobCancelled("soundtrack: stopped")

    timeline = feed.final(tick)
    check_sound(timeline, exe)
    mix = mix_soundtrack(timeline.narration, timeline.music, timeline.duration, folder / "soundtrack.wav",
                         ffmpeg=exe, music_level=timeline.music_level, fade=max(timeline.fade, 1.5),
                         stop=stop)
    track = encode_soundtrack(mix, folder / "soundtrack.m4a", ffmpeg=exe, preset=timeline.video.preset,
                              stop=stop)
    mix.wav.unlink(missing_ok=True)
    return track


def _encode(feed: TimelineFeed, exe: Path, codec: str, video: Path, progress: Progress,
            audio: "Future[Path]", workers: int | None) -> int:
    """Compose every frame into the video encoder; returns the number of frames. The encoder is
    started from this thread (so it keeps normal priority); frames are produced on a
    lower-priority thread (see cpu.py), by worker processes when there are cores to spare. A
    soundtrack failure stops it at once."""
    first, _ = feed.current(progress.check_cancelled)
    w, h = first.width, first.height
    argv = encoder_argv(exe, width=w, height=h, fps=first.fps,
                        codec_args=ff.video_codec_args(codec, first.video.crf, first.video.preset),
                        out=video)
    count = workers if workers is not None else frame_workers(codec)
    pool = FramePool(w, h, count, slots=2 * count + 4) if count > 1 else None
    writer = FrameWriter(argv, frame_bytes(w, h), buffers=pool.buffers if pool else 6)
    last = [0.0, 0.0]
    expected = max(1, round((feed.expected_seconds or first.duration) * first.fps))

    def report() -> None:
        progress.check_cancelled()
        if audio.done() and audio.exception() is not None:
            audio.result()  # raises the soundtrack's own error
        now = time.monotonic()
        if now - last[0] >= _REPORT_EVERY:
            last[0] = now
            t, final = feed.current(progress.check_cancelled)
            total = t.frame_count if final else max(expected, t.frame_count)
            frac = max(last[1], min(_FRAMES_SHARE * writer.written / total, _FRAMES_SHARE))
            last[1] = frac
            progress(frac, f"Rendering video {int(frac * 100)}%")

    def make(timeline: Timeline, final: bool) -> Producer:
        if pool is None:
            return InProcess(writer, timeline, final)
        pool.start(timeline, final)
        return Pooled(writer, pool)

    def frames_thread() -> int:
        with single_threaded_cv():
            return produce(feed, make, report)

    runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compose-frames",
                                initializer=yield_to_encoder)
    try:
        writer.start()  # ffmpeg and x264 start up while the first picture is prepared
        t, final = feed.current(progress.check_cancelled)
        what = f"{t.frame_count} frames" if final else "frames (streamed, as the scenes arrive)"
        progress.note(f"encoding {what} {w}x{h} at {first.fps:g} fps with {codec}"
                      + (f", composed by {count} worker processes" if pool else ""))
        frames = runner.submit(frames_thread).result()
        writer.finish(report)
    except BaseException as e:
        writer.abort()  # also ends the producer at its next frame
        if pool is not None:
            pool.close()
        if isinstance(e, (EngineError, KeyboardInterrupt, SystemExit)):
            raise
        if isinstance(e, OSError):
            raise
        raise RenderFailed(f"composing the video failed: {type(e).__name__}: {e}") from e
    finally:
        runner.shutdown(wait=True)
    if not video.is_file() or video.stat().st_size == 0:
        raise RenderFailed(f"ffmpeg finished but wrote no video at {video}")
    return frames
