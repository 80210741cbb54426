"""Finding and running ffmpeg: the binary (imageio-ffmpeg's, or one on PATH), one-shot runs that
raise with ffmpeg's own words, a media probe that parses ``ffmpeg -i`` (no ffprobe needed), and
the H.264 encoder choice (h264_nvenc when a probe shows it works, else libx264)."""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Sequence

from engine.errors import BadInput, JobCancelled, RenderFailed, signal_death

log = logging.getLogger(__name__)

#: Overrides the ffmpeg binary (also honoured by imageio-ffmpeg itself).
ENV_FFMPEG: Final = "IMAGEIO_FFMPEG_EXE"
_STDERR_TAIL: Final = 4000


def find_ffmpeg(explicit: Path | str | None = None) -> Path:
    """The ffmpeg to use: ``explicit``, else $IMAGEIO_FFMPEG_EXE, else imageio-ffmpeg's bundled
    binary, else ``ffmpeg`` on PATH. Raises RenderFailed naming the fix when none exists."""
    candidates: list[tuple[str, str | None]] = []
    if explicit is not None:
        candidates.append(("the ffmpeg path given", str(explicit)))
    elif os.environ.get(ENV_FFMPEG):
        candidates.append((f"${ENV_FFMPEG}", os.environ[ENV_FFMPEG]))
    else:
        try:
            import imageio_ffmpeg

            candidates.append(("imageio-ffmpeg", imageio_ffmpeg.get_ffmpeg_exe()))
        except (ImportError, RuntimeError) as e:
            log.debug("imageio-ffmpeg has no ffmpeg: %s", e)
        candidates.append(("PATH", shutil.which("ffmpeg")))
    for source, exe in candidates:
        if exe and os.path.isfile(exe) and os.access(exe, os.X_OK):
            return Path(exe)
    tried = "; ".join(f"{s}: {e or 'not found'}" for s, e in candidates)
    raise RenderFailed(f"ffmpeg not found ({tried}). Install it with `pip install imageio-ffmpeg` "
                       f"or put ffmpeg on PATH, or point ${ENV_FFMPEG} at an ffmpeg binary.")


def stderr_tail(text: str, limit: int = _STDERR_TAIL) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def failed(what: str, returncode: int | None, tail: str) -> RenderFailed:
    """ffmpeg ended badly: its own words, or why a signal ended it (the kernel's out-of-memory
    killer sends SIGKILL, and then ffmpeg has no words of its own)."""
    by_signal = signal_death(returncode)
    if by_signal is not None:
        return RenderFailed(f"{what}: ffmpeg {by_signal}")
    why = f"exit {returncode}" if returncode is not None else "stopped"
    return RenderFailed(f"{what}: ffmpeg failed ({why}): {tail or 'no message'}")


def run(ffmpeg: Path, args: Sequence[str], what: str, *, loglevel: str = "error",
        timeout: float | None = None, stop: threading.Event | None = None) -> str:
    """Run ffmpeg once (argv list, no shell, no stdin); return its stderr. A non-zero exit
    raises RenderFailed carrying ffmpeg's own message. Setting ``stop`` kills ffmpeg within a
    tenth of a second and raises JobCancelled."""
    argv = [str(ffmpeg), "-hide_banner", "-nostdin", "-nostats", "-loglevel", loglevel, *args]
    log.debug("ffmpeg: %s", " ".join(argv))
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
    except FileNotFoundError as e:
        raise RenderFailed(f"{what}: ffmpeg could not be started ({ffmpeg}): {e.strerror}") from e
    except PermissionError as e:
        raise RenderFailed(f"{what}: ffmpeg at {ffmpeg} is not executable: {e.strerror}") from e
    deadline = None if timeout is None else time.monotonic() + timeout
    with proc:
        while True:
            try:
                _, raw = proc.communicate(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                if stop is not None and stop.is_set():
                    proc.kill()
                    proc.wait()
                    raise JobCancelled(f"{what}: stopped") from None
                if deadline is not None and time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    raise RenderFailed(f"{what}: ffmpeg did not finish within {timeout:.0f}s") from None
    err = raw.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise failed(what, proc.returncode, stderr_tail(err))
    return err


def run_bytes(ffmpeg: Path, args: Sequence[str], what: str) -> bytes:
    """Like run(), but return stdout (e.g. decoded PCM)."""
    argv = [str(ffmpeg), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", *args]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=False)
    except OSError as e:
        raise RenderFailed(f"{what}: ffmpeg could not be started ({ffmpeg}): {e.strerror or e}") from e
    if proc.returncode != 0:
        raise failed(what, proc.returncode, stderr_tail(proc.stderr.decode("utf-8", "replace")))
    return proc.stdout


# -- probing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamInfo:
    kind: str  # "video" | "audio"
    codec: str
    pix_fmt: str = ""
    width: int = 0
    height: int = 0
    fps: float = 0.0
    sample_rate: int = 0
    channels: str = ""
    detail: str = ""


@dataclass(frozen=True)
class MediaInfo:
    duration: float | None
    streams: tuple[StreamInfo, ...]
    header: str

    def first(self, kind: str) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == kind), None)


_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_STREAM = re.compile(r"Stream #\d+:\d+(?:\[[^\]]*\])?(?:\([^)]*\))?: (Video|Audio): (.*)")


def probe(path: Path, ffmpeg: Path | None = None) -> MediaInfo:
    """Container duration and streams, parsed from ``ffmpeg -i`` (works without ffprobe).
    Raises BadInput when ffmpeg cannot read the file."""
    ffmpeg = ffmpeg or find_ffmpeg()
    if not Path(path).is_file():
        raise BadInput(f"media file not found: {path}")
    argv = [str(ffmpeg), "-hide_banner", "-nostdin", "-i", str(path)]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=False)
    text = proc.stderr.decode("utf-8", "replace")
    if "Input #0" not in text:
        why = stderr_tail(text, 600) or "unknown format"
        raise BadInput(f"{path} is not a readable audio/video file: {why}")
    m = _DURATION.search(text)
    duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else None
    streams = tuple(_parse_stream(k.lower(), rest) for k, rest in _STREAM.findall(text))
    return MediaInfo(duration, streams, text)


def _parse_stream(kind: str, rest: str) -> StreamInfo:
    codec = rest.split()[0].rstrip(",")
    if kind == "video":
        pix = re.search(r"\b(yuv\w+|nv12|rgb\w*|bgr\w*|gray\w*)\b", rest)
        size = re.search(r"\b(\d{2,5})x(\d{2,5})\b", rest)
        fps = re.search(r"([\d.]+) fps", rest)
        return StreamInfo("video", codec, pix.group(1) if pix else "", int(size.group(1)) if size else 0,
                          int(size.group(2)) if size else 0, float(fps.group(1)) if fps else 0.0, detail=rest)
    rate = re.search(r"(\d+) Hz", rest)
    ch = re.search(r"Hz, ([^,]+),", rest)
    return StreamInfo("audio", codec, sample_rate=int(rate.group(1)) if rate else 0,
                      channels=ch.group(1).strip() if ch else "", detail=rest)


def media_duration(path: Path, ffmpeg: Path | None = None, what: str = "media") -> float:
    """Duration in seconds: exact from the header for PCM/float WAV, else from ffmpeg."""
    from engine.compose.wavfile import wav_info

    info = wav_info(path)
    if info is not None:
        return info.duration
    try:
        d = probe(path, ffmpeg).duration
    except BadInput as e:
        raise BadInput(f"{what}: {e.message}") from None
    if d is None:
        raise BadInput(f"{what}: could not tell the duration of {path}")
    return d


# -- encoder choice ---------------------------------------------------------------------------


def nvenc_works(ffmpeg: Path) -> bool:
    """True when h264_nvenc can actually encode here (driver and GPU present), by trying a
    tiny encode; takes well under a second when it fails."""
    try:
        run(ffmpeg, ["-f", "lavfi", "-i", "color=c=black:s=256x144:r=30:d=0.2", "-c:v", "h264_nvenc",
                     "-f", "null", "-"], "NVENC probe", timeout=30)
    except RenderFailed as e:
        log.info("h264_nvenc unavailable, using libx264 (%s)", e.message.splitlines()[0][:200])
        return False
    return True


#: libx264 preset -> NVENC preset of similar effort.
_NVENC_PRESET: Final = {
    "ultrafast": "p1", "superfast": "p2", "veryfast": "p3", "faster": "p4", "fast": "p4",
    "medium": "p5", "slow": "p6", "slower": "p7", "veryslow": "p7",
}


def video_codec_args(codec: str, crf: int, preset: str) -> list[str]:
    """Encoder arguments for one of CODECS (already resolved: no 'auto')."""
    if codec == "h264_nvenc":
        return ["-c:v", "h264_nvenc", "-preset", _NVENC_PRESET.get(preset, "p4"), "-tune", "hq",
                "-rc", "vbr", "-cq", str(crf), "-b:v", "0", "-profile:v", "high"]
    return ["-c:v", "libx264", "-preset", preset, "-crf", str(crf)]
