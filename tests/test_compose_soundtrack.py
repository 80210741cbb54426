"""Narration placement and the soundtrack mix (ducking, fade, loudness) with the real ffmpeg."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.compose.ffmpeg import find_ffmpeg
from engine.compose.soundtrack import mix_soundtrack, parse_ebur128, place_clips
from engine.compose.wavfile import wav_info
from engine.errors import BadInput
from test_compose_util import decode_audio, loudness, speech_like, tone, write_wav


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def test_place_clips_at_offsets(tmp_path: Path) -> None:
    a = write_wav(tmp_path / "a.wav", tone(1.0, 22050, 300), 22050)
    b = write_wav(tmp_path / "b.wav", np.stack([tone(0.5, 44100, 500)] * 2, 1).ravel(), 44100, 2)
    out = place_clips([(b, 2.5), (a, 0.5)], 4.0, tmp_path / "n.wav")
    info = wav_info(out)
    assert info is not None and (info.channels, info.sample_rate, info.frames) == (2, 48000, 192000)
    x = decode_audio(out)
    sec = lambda t0, t1: x[int(t0 * 48000):int(t1 * 48000)]  # noqa: E731
    assert _rms(sec(0.0, 0.45)) < 1e-3 and _rms(sec(1.55, 2.45)) < 1e-3 and _rms(sec(3.05, 4.0)) < 1e-3
    assert _rms(sec(0.55, 1.45)) == pytest.approx(0.3 / np.sqrt(2), rel=0.05)
    assert _rms(sec(2.55, 2.95)) == pytest.approx(0.3 / np.sqrt(2), rel=0.05)
    assert not list(tmp_path.glob(".*part"))


def test_place_clips_overlap_sums_and_mono_stays_mono(tmp_path: Path) -> None:
    a = write_wav(tmp_path / "a.wav", np.full(22050, 0.2), 22050)
    out = place_clips([(a, 0.0), (a, 0.5)], 2.0, tmp_path / "n.wav")
    info = wav_info(out)
    assert info is not None and info.channels == 1
    x = decode_audio(out, channels=1)[:, 0]
    assert x[int(0.75 * 48000)] == pytest.approx(0.4, abs=0.01)
    assert x[int(0.25 * 48000)] == pytest.approx(0.2, abs=0.01)


def test_place_clips_rejects_clips_past_the_end(tmp_path: Path) -> None:
    a = write_wav(tmp_path / "a.wav", tone(2.0, 22050), 22050)
    with pytest.raises(BadInput, match=r"clip 1 .*past the end of the video \(3\.00s\)"):
        place_clips([(a, 1.5)], 3.0, tmp_path / "n.wav")
    with pytest.raises(BadInput, match="not found"):
        place_clips([(tmp_path / "missing.wav", 0.0)], 3.0, tmp_path / "n.wav")
    assert not (tmp_path / "n.wav").exists() and not list(tmp_path.glob(".*part"))


def test_mix_ducks_music_under_voice_and_normalises(tmp_path: Path) -> None:
    sr = 22050
    voice = np.concatenate([np.zeros(2 * sr), speech_like(4.0, sr, level=0.1), np.zeros(4 * sr)])
    narr = write_wav(tmp_path / "v.wav", voice, sr)
    music = write_wav(tmp_path / "m.wav", np.stack([tone(3.0, 44100, 220, 0.5)] * 2, 1).ravel(), 44100, 2)
    res = mix_soundtrack(narr, music, 10.0, tmp_path / "mix.wav", ffmpeg=find_ffmpeg(), music_level=-12.0)
    x = decode_audio(res.wav)
    assert abs(len(x) / 48000 - 10.0) < 0.01  # music looped to the full length
    # music alone (before the voice) is louder than the music under the voice (ducked); the
    # voice itself is steady, so compare the bed in the gaps between syllables
    before = _rms(x[int(1.2 * 48000):int(1.8 * 48000)])
    assert before > 0.01
    env = (np.sin(2 * np.pi * 3.0 * np.arange(len(x)) / 48000 - 2 * np.pi * 3.0 * 2.0) > -0.1)
    gaps = x[int(2.5 * 48000):int(5.5 * 48000)][~env[int(2.5 * 48000):int(5.5 * 48000)]]
    assert _rms(gaps) < before * 0.6
    # faded out at the end
    assert _rms(x[-4800:]) < before * 0.2
    gain = 10 ** (res.trim_db / 20)
    assert -15.0 <= (res.loudness or 0) + res.trim_db <= -13.0
    assert np.abs(x).max() * gain <= 10 ** (-1.0 / 20)


@pytest.mark.parametrize("which", ["voice", "music", "none"])
def test_mix_single_sources_and_silence(tmp_path: Path, which: str) -> None:
    narr = write_wav(tmp_path / "v.wav", speech_like(3.0), 22050) if which == "voice" else None
    music = write_wav(tmp_path / "m.wav", tone(1.0), 44100) if which == "music" else None
    res = mix_soundtrack(narr, music, 3.0, tmp_path / "mix.wav", ffmpeg=find_ffmpeg())
    info = wav_info(res.wav)
    assert info is not None and info.channels == 2 and info.sample_rate == 48000
    assert abs(info.duration - 3.0) < 0.01
    if which == "none":
        assert np.abs(decode_audio(res.wav)).max() == 0
    else:
        assert res.loudness is not None and abs(res.loudness + res.trim_db + 14.0) < 1.0


def test_parse_ebur128_orders_instances() -> None:
    text = ("[Parsed_ebur128_6 @ 0x1] Summary:\n  Integrated loudness:\n    I:         -14.8 LUFS\n"
            "[Parsed_ebur128_3 @ 0x2] Summary:\n  Integrated loudness:\n    I:         -22.0 LUFS\n"
            "  True peak:\n    Peak:        -3.5 dBFS\n")
    assert parse_ebur128(text) == [(-22.0, -3.5), (-14.8, None)]


def test_loudness_helper_measures_known_tone(tmp_path: Path) -> None:
    # a full-scale-ish 1 kHz sine at -20 dBFS RMS per channel (stereo) reads about -20 LUFS + 3
    x = tone(3.0, 48000, 997, 0.1 * np.sqrt(2))
    p = write_wav(tmp_path / "t.wav", np.stack([x, x], 1).ravel(), 48000, 2)
    i, _ = loudness(p)
    assert i == pytest.approx(-17.0, abs=0.5)


@pytest.mark.parametrize("preset", ["ultrafast", "veryfast", "medium"])
def test_the_aac_soundtrack_stays_true_to_the_mix_at_every_preset(tmp_path: Path, preset: str) -> None:
    """Draft and standard videos get the AAC encoder's quick coder, high its twoloop search:
    each decodes back to the mix, in step with it and at its loudness."""
    from engine.compose.soundtrack import aac_args, encode_soundtrack

    assert ("fast" if preset != "medium" else "twoloop") in aac_args(preset)
    narr = write_wav(tmp_path / "v.wav", speech_like(4.0), 22050)
    res = mix_soundtrack(narr, None, 4.0, tmp_path / "mix.wav", ffmpeg=find_ffmpeg())
    m4a = encode_soundtrack(res, tmp_path / "s.m4a", ffmpeg=find_ffmpeg(), preset=preset)
    mix, back = decode_audio(res.wav), decode_audio(m4a)
    n = min(len(mix), len(back))
    assert abs(len(back) - len(mix)) < 48000 * 0.03  # the edit list trims the encoder's priming
    gain = 10 ** (res.trim_db / 20)
    err = back[:n] - mix[:n] * gain
    assert 10 * np.log10(np.mean((mix[:n] * gain) ** 2) / np.mean(err ** 2)) > 20  # in step, no drift
    assert abs(loudness(m4a)[0] - loudness(res.wav)[0] - res.trim_db) < 0.5
