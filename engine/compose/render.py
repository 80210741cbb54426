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
from engine.compose.frames import NV12, FrameComposer, frame_bytes
from engine.compose.soundtrack import encode_soundtrack, mix_soundtrack
from engine.compose.still import open_image
from engine.compose.timeline import Timeline
from engine.errors import BadInput, EngineError, RenderFailed
from engine.progress import StageProgress, SubProgress, null_progress

log = logging.getLogger(__name__)

Progress = StageProgress | SubProgress
#: Share of the stage's progress bar given to the frames (the rest: soundtrack wait and mux).
_FRAMES_SHARE = 0.98
_REPORT_EVERY = 0.5  # seconds


def check_inputs(timeline: Timeline, ffmpeg: Path) -> None:
    """Raise BadInput naming every missing/unreadable image, or a narration or music problem."""
    missing = [f"scene {i + 1}: {s.image}" for i, s in enumerate(timeline.scenes)
               if not Path(s.image).is_file()]
    if missing:
        raise BadInput("image file(s) not found — " + "; ".join(missing[:10])
                       + (f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""))
    for i, s in enumerate(timeline.scenes):
        open_image(Path(s.image), f"scene {i + 1} image").close()
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


def render(timeline: Timeline, out: Path | str, *, progress: Progress | None = None,
           ffmpeg: Path | str | None = None) -> Path:
    """Render ``timeline`` to the MP4 ``out`` (H.264 yuv420p + AAC 48 kHz stereo, faststart).
    ``progress`` is the "video" stage's progress (cancellation is checked between frames).
    Raises BadInput for bad inputs, RenderFailed (with ffmpeg's words) for encoder failures,
    JobCancelled when cancelled; never leaves a partial file at ``out``.

    The soundtrack (mix, loudness, AAC) is made on a thread while the frames encode; the two are
    muxed by stream copy at the end."""
    progress = progress or null_progress("video")
    out = Path(out)
    started = time.monotonic()
    exe = ff.find_ffmpeg(ffmpeg)
    check_inputs(timeline, exe)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RenderFailed(f"cannot create the output folder {out.parent}: {e.strerror or e}") from e
    codecs = _codecs(timeline.video.codec, exe)
    tmpdir = tempnames.make_part_dir(out)
    tracks = tmpdir / "tracks"  # the separate video and audio, apart from the final file's name
    stop = threading.Event()
    audio_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compose-audio",
                                    initializer=yield_to_encoder)
    try:
        tracks.mkdir()
        audio = audio_pool.submit(_soundtrack, timeline, exe, tracks, stop)
        video = tracks / "video.mp4"
        for k, codec in enumerate(codecs):
            try:
                _encode(timeline, exe, codec, video, progress, audio)
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
    log.info("rendered %s: %d frames %dx%d@%g in %.1fs (%.1f fps)", out.name, timeline.frame_count,
             timeline.width, timeline.height, timeline.fps, elapsed,
             timeline.frame_count / max(elapsed, 1e-9))
    progress(1.0, "Video ready")
    return out


def _soundtrack(timeline: Timeline, exe: Path, folder: Path, stop: threading.Event) -> Path:
    """Mix, normalise and encode the soundtrack (on the audio thread, in the encoder's idle time)."""
    mix = mix_soundtrack(timeline.narration, timeline.music, timeline.duration, folder / "soundtrack.wav",
                         ffmpeg=exe, music_level=timeline.music_level, fade=max(timeline.fade, 1.5),
                         stop=stop)
    track = encode_soundtrack(mix, folder / "soundtrack.m4a", ffmpeg=exe, stop=stop)
    mix.wav.unlink(missing_ok=True)
    return track


def _encode(timeline: Timeline, exe: Path, codec: str, video: Path, progress: Progress,
            audio: "Future[Path]") -> None:
    """Compose every frame into the video encoder. The encoder is started from this thread (so
    it keeps normal priority); frames are produced on a lower-priority thread (see cpu.py). A
    soundtrack failure stops it at once."""
    w, h, total = timeline.width, timeline.height, timeline.frame_count
    argv = encoder_argv(exe, width=w, height=h, fps=timeline.fps,
                        codec_args=ff.video_codec_args(codec, timeline.video.crf, timeline.video.preset),
                        out=video)
    composer = FrameComposer(timeline)
    writer = FrameWriter(argv, frame_bytes(w, h))
    last = [0.0]

    def report() -> None:
        progress.check_cancelled()
        if audio.done() and audio.exception() is not None:
            audio.result()  # raises the soundtrack's own error
        now = time.monotonic()
        if now - last[0] >= _REPORT_EVERY:
            last[0] = now
            frac = _FRAMES_SHARE * writer.written / total
            progress(frac, f"Rendering video {int(frac * 100)}%")

    def produce() -> None:
        with single_threaded_cv():
            for n in range(total):
                report()
                buf = writer.acquire()
                composer.render(n, NV12.wrap(buf, w, h))
                writer.submit(buf)

    frames = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compose-frames",
                                initializer=yield_to_encoder)
    try:
        writer.start()  # ffmpeg and x264 start up while the first picture is prepared
        composer.prepare_first()
        progress.note(f"encoding {total} frames {w}x{h} at {timeline.fps:g} fps with {codec}")
        frames.submit(produce).result()
        writer.finish(report)
    except BaseException as e:
        writer.abort()  # also ends the producer at its next frame
        if isinstance(e, (EngineError, KeyboardInterrupt, SystemExit)):
            raise
        if isinstance(e, OSError):
            raise
        raise RenderFailed(f"composing the video failed: {type(e).__name__}: {e}") from e
    finally:
        frames.shutdown(wait=True)
        composer.close()
    if not video.is_file() or video.stat().st_size == 0:
        raise RenderFailed(f"ffmpeg finished but wrote no video at {video}")
