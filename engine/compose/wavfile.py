"""Minimal RIFF/WAVE header reading (PCM and IEEE float, incl. WAVE_FORMAT_EXTENSIBLE) for exact
durations without spawning ffmpeg, and a 16-bit PCM writer that streams."""
from __future__ import annotations

import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


@dataclass(frozen=True)
class WavInfo:
    channels: int
    sample_rate: int
    bits: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def wav_info(path: Path) -> WavInfo | None:
    """Header facts of a WAV file, or None when it is not a (well-formed) WAV."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
                return None
            fmt: tuple[int, int, int, int] | None = None
            while True:
                ch = f.read(8)
                if len(ch) < 8:
                    return None
                cid, size = ch[:4], struct.unpack("<I", ch[4:])[0]
                if cid == b"fmt ":
                    body = f.read(size)
                    if len(body) < 16:
                        return None
                    _tag, channels, rate, _brate, align, bits = struct.unpack("<HHIIHH", body[:16])
                    fmt = (channels, rate, bits, align)
                    if size % 2:
                        f.read(1)
                elif cid == b"data":
                    if fmt is None or fmt[3] == 0:
                        return None
                    if size == 0xFFFFFFFF or head[:4] == b"RF64":  # streamed/RF64: use the file size
                        size = Path(path).stat().st_size - f.tell()
                    return WavInfo(fmt[0], fmt[1], fmt[2], size // fmt[3])
                else:
                    f.seek(size + (size % 2), 1)
    except OSError:
        return None


class Pcm16Writer:
    """Write float samples (-1..1), shape (n, channels), as 16-bit PCM WAV, block by block."""

    def __init__(self, path: Path, channels: int, sample_rate: int) -> None:
        self._w = wave.open(str(path), "wb")
        self._w.setnchannels(channels)
        self._w.setsampwidth(2)
        self._w.setframerate(sample_rate)
        self.channels = channels
        self.frames = 0

    def write(self, block: "np.ndarray") -> None:
        import numpy as np

        if block.size == 0:
            return
        pcm = np.clip(np.rint(block * 32767.0), -32768, 32767).astype("<i2")
        self._w.writeframes(pcm.tobytes())
        self.frames += block.shape[0]

    def write_silence(self, frames: int) -> None:
        import numpy as np

        step = 48000
        while frames > 0:
            n = min(step, frames)
            self._w.writeframes(np.zeros((n, self.channels), dtype="<i2").tobytes())
            self.frames += n
            frames -= n

    def close(self) -> None:
        self._w.close()
