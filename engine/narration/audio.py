"""Audio arithmetic for narration (numpy only): WAV I/O, resampling, pitch shaping, silence
detection, loudness normalisation and the whisper effect."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from engine import tempnames

FloatArray = np.ndarray

#: Loudness every scene is normalised to: RMS of its voiced frames, in dBFS (~ -18 LUFS for speech).
TARGET_DBFS = -20.0
#: Samples above this (linear) are soft-limited so a loud syllable never clips.
LIMIT = 10 ** (-1.0 / 20)
_FRAME_S = 0.010


def write_wav(path: Path, audio: FloatArray, sample_rate: int) -> None:
    """16-bit mono PCM, written to a temporary name then renamed (a crash never leaves half a file)."""
    pcm = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    data = (pcm * 32767.0).round().astype("<i2").tobytes()
    with tempnames.atomic_path(path) as part, wave.open(str(part), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(data)


def read_wav(path: Path) -> tuple[FloatArray, int]:
    """A 16-bit PCM WAV as mono float32 in [-1, 1] and its sample rate."""
    with wave.open(str(path), "rb") as src:
        rate, channels, width = src.getframerate(), src.getnchannels(), src.getsampwidth()
        raw = src.readframes(src.getnframes())
    if width != 2:
        raise ValueError(f"{path}: expected 16-bit PCM, got {8 * width}-bit")
    audio = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        audio = audio.reshape(-1, channels).mean(axis=1)
    return audio, rate


def resample(audio: FloatArray, n_out: int) -> FloatArray:
    """Band-limited (FFT) resampling of a short clip to exactly ``n_out`` samples."""
    n_in = len(audio)
    if n_in == 0 or n_out == n_in:
        return np.asarray(audio, dtype=np.float32).copy()
    spectrum = np.fft.rfft(audio)
    bins = n_out // 2 + 1
    if bins <= len(spectrum):
        spectrum = spectrum[:bins]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(bins - len(spectrum), dtype=spectrum.dtype)])
    return (np.fft.irfft(spectrum, n_out) * (n_out / n_in)).astype(np.float32)


def convert_rate(audio: FloatArray, rate_in: int, rate_out: int) -> FloatArray:
    if rate_in == rate_out:
        return audio
    return resample(audio, max(1, round(len(audio) * rate_out / rate_in)))


def shift_pitch(audio: FloatArray, factor: float) -> FloatArray:
    """Raise (factor > 1) or lower pitch and formants by playing the clip ``factor`` times faster;
    the clip gets 1/factor as long (the caller synthesises it that much slower to compensate)."""
    if abs(factor - 1.0) < 1e-3:
        return audio
    return resample(audio, max(1, round(len(audio) / factor)))


def frame_rms(audio: FloatArray, sample_rate: int, frame_s: float = _FRAME_S) -> FloatArray:
    """RMS per frame of ``frame_s`` seconds."""
    hop = max(1, int(round(sample_rate * frame_s)))
    n = len(audio) // hop
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    frames = np.asarray(audio[: n * hop], dtype=np.float64).reshape(n, hop)
    return np.sqrt(np.mean(frames**2, axis=1)).astype(np.float32)


def voiced_frames(audio: FloatArray, sample_rate: int, floor_db: float = -40.0) -> FloatArray:
    """Boolean per 10 ms frame: louder than ``floor_db`` below the clip's loudest frames."""
    rms = frame_rms(audio, sample_rate)
    if rms.size == 0:
        return np.zeros(0, dtype=bool)
    ref = float(np.percentile(rms, 95))
    if ref <= 1e-6:
        return np.zeros(rms.shape, dtype=bool)
    return rms > ref * 10 ** (floor_db / 20)


def speech_bounds(audio: FloatArray, sample_rate: int, pad_s: float = 0.03) -> tuple[int, int]:
    """(first, last) sample of speech, with a little padding; (0, 0) for silence."""
    voiced = voiced_frames(audio, sample_rate)
    idx = np.flatnonzero(voiced)
    if idx.size == 0:
        return 0, 0
    hop = int(round(sample_rate * _FRAME_S))
    pad = int(sample_rate * pad_s)
    return max(0, int(idx[0]) * hop - pad), min(len(audio), (int(idx[-1]) + 1) * hop + pad)


def silence(seconds: float, sample_rate: int) -> FloatArray:
    return np.zeros(max(0, int(round(seconds * sample_rate))), dtype=np.float32)


def gated_rms(audio: FloatArray, sample_rate: int) -> float:
    """RMS over the voiced frames only, so pauses do not lower the measure."""
    rms = frame_rms(audio, sample_rate)
    voiced = voiced_frames(audio, sample_rate, floor_db=-30.0)
    if not voiced.any():
        return 0.0
    return float(np.sqrt(np.mean(rms[voiced].astype(np.float64) ** 2)))


def normalize_loudness(audio: FloatArray, sample_rate: int, target_dbfs: float = TARGET_DBFS) -> FloatArray:
    """Scale to the target voiced RMS, then soft-limit peaks above -1 dBFS."""
    level = gated_rms(audio, sample_rate)
    if level <= 1e-6:
        return audio.astype(np.float32)
    out = audio.astype(np.float64) * (10 ** (target_dbfs / 20) / level)
    over = np.abs(out) > LIMIT * 0.9
    if over.any():
        knee = LIMIT * 0.9
        mag = np.abs(out[over])
        out[over] = np.sign(out[over]) * (knee + (LIMIT - knee) * np.tanh((mag - knee) / (LIMIT - knee)))
    return out.astype(np.float32)


def whisper(audio: FloatArray, sample_rate: int, amount: float, seed: int = 0) -> FloatArray:
    """Breathy, eerie voice: keep the short-time spectrum's magnitude, randomise its phase
    (removes the pitch, keeps the words), then blend ``amount`` of it with the dry voice."""
    if amount <= 0 or len(audio) < 1024:
        return audio
    n_fft = 512 if sample_rate <= 24000 else 1024
    hop = n_fft // 4
    window = np.hanning(n_fft).astype(np.float64)
    padded = np.concatenate([np.zeros(n_fft), audio.astype(np.float64), np.zeros(n_fft)])
    n_frames = 1 + (len(padded) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    spectrum = np.fft.rfft(padded[idx] * window, axis=1)
    rng = np.random.default_rng(seed)
    phase = np.exp(2j * np.pi * rng.random(spectrum.shape))
    frames = np.fft.irfft(np.abs(spectrum) * phase, n_fft, axis=1) * window
    out = np.zeros(len(padded))
    norm = np.zeros(len(padded))
    squared = window**2
    for i, frame in enumerate(frames):  # overlap-add
        out[i * hop: i * hop + n_fft] += frame
        norm[i * hop: i * hop + n_fft] += squared
    wet = (out / np.maximum(norm, 1e-8))[n_fft: n_fft + len(audio)]
    dry_level = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) or 1.0
    wet_level = float(np.sqrt(np.mean(wet**2))) or 1.0
    mixed = (1 - amount) * audio + amount * wet * (dry_level / wet_level)
    return mixed.astype(np.float32)
