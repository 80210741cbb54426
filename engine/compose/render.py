"""render(timeline, out): the compositor's entry point.

Checks every input first (so a bad image or an over-long narration fails in a second, not after
minutes of encoding), mixes the soundtrack, then streams composed frames into ffmpeg while it
encodes. Everything is written inside a temporary folder next to ``out`` and moved into place only
when complete; on any error or cancellation ffmpeg is killed and nothing is left behind.
"""
from __future__ import annotations

import errno
import logging
import shutil
import tempfile
import time
from pathlib import Path

from engine.compose import ffmpeg as ff
from engine.compose.encoder import FrameWriter, encoder_argv
from engine.compose.frames import NV12, FrameComposer, frame_bytes
from engine.compose.soundtrack import mix_soundtrack
from engine.compose.still import open_image
from engine.compose.timeline import Timeline
from engine.errors import BadInput, EngineError, RenderFailed
from engine.progress import StageProgress, SubProgress, null_progress

log = logging.getLogger(__name__)

Progress = StageProgress | SubProgress
#: Share of the stage's progress bar given to the soundtrack before the frames.
_AUDIO_SHARE = 0.03
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
    JobCancelled when cancelled; never leaves a partial file at ``out``."""
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
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{out.stem}.", suffix=".part", dir=out.parent))
    try:
        progress(0.0, "Mixing soundtrack")
        mix = mix_soundtrack(timeline.narration, timeline.music, timeline.duration, tmpdir / "soundtrack.wav",
                             ffmpeg=exe, music_level=timeline.music_level, fade=max(timeline.fade, 1.5),
                             check=progress.check_cancelled)
        progress.check_cancelled()
        for k, codec in enumerate(codecs):
            part = tmpdir / out.name
            try:
                _encode(timeline, exe, codec, mix.wav, mix.trim_db, part, progress)
                break
            except RenderFailed as e:
                if k + 1 < len(codecs):
                    log.warning("%s failed (%s); retrying with %s", codec, e.message[:300], codecs[k + 1])
                    progress.note(f"{codec} failed; encoding with {codecs[k + 1]} instead")
                    continue
                raise
        try:
            part.replace(out)
        except OSError as e:
            raise RenderFailed(f"could not move the finished video to {out}: {e.strerror or e}") from e
    except OSError as e:  # our own writes (soundtrack, temp folder): disk full, permissions
        hint = " — the disk is full; free some space" if e.errno == errno.ENOSPC else ""
        raise RenderFailed(f"writing the video's files in {out.parent} failed: "
                           f"{e.strerror or e}{hint}") from e
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    log.info("rendered %s: %d frames %dx%d@%g in %.1fs (%.1f fps)", out.name, timeline.frame_count,
             timeline.width, timeline.height, timeline.fps, elapsed,
             timeline.frame_count / max(elapsed, 1e-9))
    progress(1.0, "Video ready")
    return out


def _encode(timeline: Timeline, exe: Path, codec: str, audio: Path, gain_db: float, part: Path,
            progress: Progress) -> None:
    w, h, total = timeline.width, timeline.height, timeline.frame_count
    argv = encoder_argv(exe, width=w, height=h, fps=timeline.fps,
                        codec_args=ff.video_codec_args(codec, timeline.video.crf, timeline.video.preset),
                        audio=audio, audio_gain_db=gain_db, out=part)
    composer = FrameComposer(timeline)
    writer = FrameWriter(argv, frame_bytes(w, h))
    last = [0.0]

    def report(force: bool = False) -> None:
        now = time.monotonic()
        if force or now - last[0] >= _REPORT_EVERY:
            last[0] = now
            frac = _AUDIO_SHARE + (1 - _AUDIO_SHARE) * writer.written / total
            progress(frac, f"Rendering video {int(frac * 100)}%")

    try:
        composer.prepare_first()
        writer.start()
        progress.note(f"encoding {total} frames {w}x{h} at {timeline.fps:g} fps with {codec}")
        for n in range(total):
            progress.check_cancelled()
            buf = writer.acquire()
            composer.render(n, NV12.wrap(buf, w, h))
            writer.submit(buf)
            report()

        def tick() -> None:
            progress.check_cancelled()
            report()

        writer.finish(tick)
    except BaseException as e:
        writer.abort()
        if isinstance(e, (EngineError, KeyboardInterrupt, SystemExit)):
            raise
        if isinstance(e, OSError):
            raise
        raise RenderFailed(f"composing the video failed: {type(e).__name__}: {e}") from e
    finally:
        composer.close()
    if not part.is_file() or part.stat().st_size == 0:
        raise RenderFailed(f"ffmpeg finished but wrote no video at {part}")
