"""The soundtrack: narration clips placed at their scene offsets (one WAV for the timeline), and
the final mix — the music bed looped or trimmed to the video, ducked under the voice with a
sidechain compressor, faded at the end — normalised to -14 LUFS integrated with true peak at or
below -1 dBTP — and its AAC 48 kHz stereo encoding. The compositor runs all of it on a thread
while the frames encode, and muxes the result in at the end.

All DSP runs in ffmpeg filter graphs (streamed, so memory stays flat for any length):

1. measure the voice and music loudness (ebur128), which sets the bed ``music_level`` LU under
   the voice and the gain that brings the mix to -14 LUFS;
2. mix, apply that gain through a 2x-oversampled peak limiter (near true-peak) with a ceiling of
   -1.5 dBTP, and measure the result (ebur128 with true peak);
3. encode AAC, applying the last fraction of a dB, never past the peak ceiling.
"""
from __future__ import annotations

import errno
import logging
import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Sequence

from engine import tempnames
from engine.compose import ffmpeg as ff
from engine.compose.wavfile import Pcm16Writer, wav_info
from engine.errors import BadInput, RenderFailed

log = logging.getLogger(__name__)

SAMPLE_RATE: Final = 48000
#: The video's audio: AAC-LC 48 kHz stereo.
AAC_ARGS: Final = ("-c:a", "aac", "-b:a", "192k", "-ar", str(SAMPLE_RATE), "-ac", "2")
TARGET_LUFS: Final = -14.0
CEILING_DBTP: Final = -1.5
#: Below this the mix is treated as silence (no gain applied).
SILENCE_LUFS: Final = -70.0

#: Video presets quick enough that the soundtrack gets the AAC encoder's quick coder too (draft
#: and standard). At 192 kb/s it is not worse to measure: on 60 s of narration, 58 dB SNR against
#: the mix and the same spectrum up to 24 kHz (twoloop: 34 dB, its noise shaped by the ear's
#: masking), in 0.62 CPU s instead of 1.35, which on a small CPU is time the frames and the
#: encoder need, and on a draft job time after the last sentence. ``high`` keeps twoloop.
QUICK_PRESETS: Final = frozenset({"ultrafast", "superfast", "veryfast"})


def aac_args(preset: str) -> tuple[str, ...]:
    """The soundtrack's AAC encoder arguments for a video encoded at ``preset``."""
    return (*AAC_ARGS, "-aac_coder", "fast" if preset in QUICK_PRESETS else "twoloop")


def place_clips(clips: Sequence[tuple[Path, float]], total_seconds: float, out: Path, *,
                sample_rate: int = SAMPLE_RATE, ffmpeg: Path | None = None) -> Path:
    """Write one WAV of ``total_seconds`` with each clip (any WAV ffmpeg reads) starting at its
    offset in seconds; overlaps are summed. Mono unless a clip is stereo. Streams clip by clip."""
    import numpy as np

    if not math.isfinite(total_seconds) or total_seconds <= 0:
        raise BadInput(f"narration: total length must be positive, got {total_seconds!r}")
    exe = ff.find_ffmpeg(ffmpeg)
    order = sorted(enumerate(clips), key=lambda c: c[1][1])
    channels = 1
    for i, (path, start) in order:
        info = wav_info(Path(path))
        if not Path(path).is_file():
            raise BadInput(f"narration clip {i + 1} not found: {path}")
        if not math.isfinite(start) or start < 0:
            raise BadInput(f"narration clip {i + 1} ({path}) has a negative or invalid start {start!r}")
        if info is not None and info.channels >= 2:
            channels = 2
    total = round(total_seconds * sample_rate)
    out = Path(out)
    tmp = tempnames.part_path(out)
    writer = Pcm16Writer(tmp, channels, sample_rate)
    try:
        pending = np.zeros((0, channels), np.float32)  # samples from `pos` on, not yet written
        pos = 0
        for i, (path, start) in order:
            info = wav_info(Path(path))
            # keep a mono voice at full level in a stereo file (ffmpeg's -ac 2 would drop it 3 dB)
            mono_in_stereo = channels == 2 and info is not None and info.channels == 1
            up = ["-af", "pan=stereo|c0=c0|c1=c0"] if mono_in_stereo else []
            raw = ff.run_bytes(exe, [*_wav_hint(Path(path)), "-i", str(path), *up, "-f", "f32le",
                                     "-ac", str(channels), "-ar", str(sample_rate), "-"],
                               f"narration clip {i + 1} ({path})")
            pcm = np.frombuffer(raw, np.float32).reshape(-1, channels)
            s0 = round(start * sample_rate)
            if s0 + len(pcm) > total + sample_rate // 100:  # 10 ms grace for rounding
                raise BadInput(f"narration clip {i + 1} ({path}) runs to "
                               f"{(s0 + len(pcm)) / sample_rate:.2f}s, past the end of the video "
                               f"({total_seconds:.2f}s); lengthen its scene")
            pcm = pcm[: max(0, total - s0)]
            if s0 > pos:  # flush what lies before this clip
                keep = min(len(pending), s0 - pos)
                writer.write(pending[:keep])
                writer.write_silence(s0 - pos - keep)
                pending, pos = pending[keep:], s0
            off = s0 - pos
            need = off + len(pcm)
            if need > len(pending):
                pending = np.concatenate([pending, np.zeros((need - len(pending), channels), np.float32)])
            pending[off:need] += pcm
        writer.write(np.clip(pending, -1.0, 1.0))
        writer.write_silence(total - pos - len(pending))
        writer.close()
        os.replace(tmp, out)
    except BaseException as e:
        try:
            writer.close()
        except OSError:
            pass
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            hint = " — the disk is full; free some space" if e.errno == errno.ENOSPC else ""
            raise RenderFailed(f"writing the narration track {out} failed: {e.strerror or e}{hint}") from e
        raise
    return out


def _wav_hint(path: Path) -> list[str]:
    """Force the WAV demuxer for WAV files (ffmpeg's format sniffing can mistake periodic PCM
    data for MPEG-TS)."""
    return ["-f", "wav"] if wav_info(path) is not None else []


@dataclass(frozen=True)
class MixResult:
    wav: Path
    #: Gain (dB) the encoder still applies to land on TARGET_LUFS.
    trim_db: float
    loudness: float | None
    true_peak: float | None


_SUMMARY = re.compile(r"\[Parsed_ebur128_(\d+)[^\]]*\] Summary:(.*?)(?=\[Parsed_ebur128_|\Z)", re.S)


def parse_ebur128(text: str) -> list[tuple[float | None, float | None]]:
    """[(integrated LUFS, true peak dBFS)] from ffmpeg's ebur128 summaries, one per ebur128
    filter, in the order the filters appear in the graph (ffmpeg prints them in reverse)."""
    found: list[tuple[int, tuple[float | None, float | None]]] = []
    for idx, body in _SUMMARY.findall(text):
        i = re.search(r"I:\s*(-?[\d.]+|-inf|nan)\s*LUFS", body)
        p = re.search(r"True peak:\s*Peak:\s*(-?[\d.]+|-inf|nan)", body)
        found.append((int(idx), (_num(i.group(1)) if i else None, _num(p.group(1)) if p else None)))
    return [m for _, m in sorted(found)]


def _num(s: str) -> float | None:
    try:
        v = float(s)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def mix_soundtrack(narration: Path | None, music: Path | None, duration: float, out: Path, *,
                   ffmpeg: Path, music_level: float = -15.0, fade: float = 2.0,
                   stop: threading.Event | None = None) -> MixResult:
    """Mix narration and music into a 48 kHz stereo 16-bit WAV at ``out``, normalised (see the
    module doc). Setting ``stop`` ends it at once with JobCancelled."""
    d = f"{duration:.6f}"
    inputs: list[str] = []
    if narration is not None:
        inputs += [*_wav_hint(narration), "-i", str(narration)]
    if music is not None:
        inputs += ["-stream_loop", "-1", *_wav_hint(music), "-i", str(music)]
    fmt = f"aresample={SAMPLE_RATE},aformat=sample_fmts=flt:sample_rates={SAMPLE_RATE}:channel_layouts=stereo"
    voice = f"[0:a]{fmt},apad,atrim=0:{d},asetpts=N/SR/TB" if narration is not None else None
    mi = 1 if narration is not None else 0
    music_chain = f"[{mi}:a]{fmt},atrim=0:{d},asetpts=N/SR/TB" if music is not None else None
    if not voice and not music_chain:
        ff.run(ffmpeg, ["-f", "lavfi", "-i", f"anullsrc=r={SAMPLE_RATE}:cl=stereo", "-t", d,
                        "-c:a", "pcm_s16le", "-y", str(out)], "writing a silent soundtrack", stop=stop)
        return MixResult(out, 0.0, None, None)

    # pass 1: loudness of each source
    chains = [c for c in (voice, music_chain) if c]
    graph = ";".join(f"{c},ebur128=framelog=quiet[o{k}]" for k, c in enumerate(chains))
    maps: list[str] = []
    for k in range(len(chains)):
        maps += ["-map", f"[o{k}]", "-f", "null", "-"]
    err = ff.run(ffmpeg, [*inputs, "-filter_complex", graph, *maps], "measuring the soundtrack loudness",
                 loglevel="info", stop=stop)
    meas = [m[0] for m in parse_ebur128(err)] + [None, None]
    vi, mu = (meas[0], meas[1]) if voice else (None, meas[0])
    audible = lambda v: v is not None and v > SILENCE_LUFS  # noqa: E731
    music_gain, estimate = 0.0, None
    if audible(vi) and audible(mu):
        music_gain = (vi + music_level) - mu  # type: ignore[operator]
        # the bed adds its power (less, once ducked): aim between voice alone and voice + bed
        estimate = vi + 0.5 * 10 * math.log10(1 + 10 ** (music_level / 10))  # type: ignore[operator]
    elif audible(vi):
        estimate = vi
    elif audible(mu):
        estimate = mu

    fade_out = max(0.0, min(fade, duration / 2))
    if music_chain:
        music_chain += (f",volume={music_gain:.2f}dB,afade=t=in:d={min(1.0, duration / 4):.3f}"
                        f",afade=t=out:st={duration - fade_out:.6f}:d={fade_out:.6f}")
    if voice and music_chain:
        graph = (f"{voice},asplit=2[v][vk];{music_chain}[m];"
                 "[m][vk]sidechaincompress=threshold=0.02:ratio=8:attack=20:release=400:knee=3[md];"
                 "[v][md]amix=inputs=2:duration=first:normalize=0")
    else:
        graph = voice or music_chain  # type: ignore[assignment]
    gain = TARGET_LUFS - estimate if estimate is not None else 0.0
    ceiling = 10 ** (CEILING_DBTP / 20)
    # pass 2: mix, gain, 2x oversampled limiter (inter-sample peaks), measured
    err = ff.run(ffmpeg, [*inputs, "-filter_complex",
                          f"{graph},volume={gain:.3f}dB,aresample={SAMPLE_RATE * 2},"
                          f"alimiter=limit={ceiling:.5f}:attack=2:release=60:level=disabled:latency=1,"
                          f"aresample={SAMPLE_RATE},asplit=2[o][k];[k]ebur128=peak=true:framelog=quiet[n]",
                          "-map", "[o]", "-c:a", "pcm_s16le", "-y", str(out),
                          "-map", "[n]", "-f", "null", "-"],
                 "mixing the soundtrack", loglevel="info", stop=stop)
    loud, peak = (parse_ebur128(err) or [(None, None)])[0]
    trim = 0.0
    if loud is not None and loud > SILENCE_LUFS:
        trim = TARGET_LUFS - loud
        if peak is not None:
            trim = min(trim, CEILING_DBTP - peak)
        trim = max(-6.0, min(3.0, trim))
    log.info("soundtrack: voice %s LUFS, music %s LUFS (bed gain %.1f dB), gain %.1f dB -> %s LUFS, "
             "%s dBTP; trim %.2f dB", vi, mu, music_gain, gain, loud, peak, trim)
    if not out.is_file():
        raise RenderFailed(f"mixing the soundtrack: ffmpeg wrote no file at {out}")
    return MixResult(out, trim, loud, peak)


def encode_soundtrack(mix: MixResult, out: Path, *, ffmpeg: Path, preset: str = "veryfast",
                      stop: threading.Event | None = None) -> Path:
    """Encode the mix to AAC (with its last trim to TARGET_LUFS) in an M4A at ``out``, which the
    compositor later muxes beside the video by stream copy (the M4A's edit list keeps the AAC
    priming exact, so the audio stays sample-aligned with the frames)."""
    gain = ["-af", f"volume={mix.trim_db:.3f}dB"] if abs(mix.trim_db) > 0.005 else []
    ff.run(ffmpeg, ["-f", "wav", "-i", str(mix.wav), *gain, *aac_args(preset), "-f", "mp4", "-y", str(out)],
           "encoding the soundtrack", stop=stop)
    if not out.is_file():
        raise RenderFailed(f"encoding the soundtrack: ffmpeg wrote no file at {out}")
    return out
