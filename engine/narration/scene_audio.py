"""One scene's narration: sentences spoken by an engine, shaped (pitch, whisper), trimmed, timed
and assembled with pacing pauses; plus the sidecar that lets a restarted job reuse it."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from engine import tempnames
from engine.contracts import SceneAudio, Word
from engine.narration import audio as au
from engine.narration.sentences import Sentence
from engine.narration.speech import SpeechEngine
from engine.narration.timing import PacingProfile, align_words, spans_from_energy, token_words

SIDECAR_VERSION = 1


@dataclass(frozen=True)
class Shaping:
    """How a catalog voice is shaped on the engine that speaks it."""

    speed: float
    pitch: float
    noise: float
    effect: str
    effect_amount: float

    def length_scale(self, rate: float, fixed_share: float = 0.0) -> float:
        """The model's length scale that makes the shaped voice last 1/(speed*rate) of normal.

        Synthesised ``pitch`` times as long, the pitch shift (which shortens by 1/pitch) nets
        out. ``fixed_share``: the part of a model's duration that ignores its length scale
        (phonemes already at their one-frame minimum), measured per engine."""
        factor = self.pitch / (self.speed * rate)
        return max(0.25, (factor - fixed_share) / (1.0 - fixed_share))


@dataclass(frozen=True)
class SpokenSentence:
    audio: np.ndarray
    words: tuple[Word, ...]  # relative to the start of ``audio``


def speak_sentence(engine: SpeechEngine, sentence: Sentence, shaping: Shaping, rate: float,
                   seed: int = 0) -> SpokenSentence:
    """Synthesise, pitch-shape, trim the leading/trailing silence and time each caption word."""
    length_scale = shaping.length_scale(rate, engine.fixed_share)
    speech = engine.synthesize(sentence.text, length_scale=length_scale, noise=shaping.noise)
    sr = speech.sample_rate
    raw = np.asarray(speech.audio, dtype=np.float32)
    shaped = au.shift_pitch(raw, shaping.pitch)
    stretch = len(shaped) / max(1, len(raw))
    start, end = au.speech_bounds(shaped, sr)
    if end <= start:
        return SpokenSentence(np.zeros(0, dtype=np.float32), ())
    clip = shaped[start:end]
    if shaping.effect == "whisper":
        clip = au.whisper(clip, sr, shaping.effect_amount, seed=seed)
    length = len(clip) / sr
    words = sentence.spoken_words
    if speech.words:
        shift = start / sr
        groups = [(min(length, max(0.0, s * stretch - shift)), min(length, max(0.0, e * stretch - shift)), n)
                  for s, e, n in speech.words]
        spans = align_words(words, groups)
    else:
        spans = spans_from_energy(clip, sr, words)
    return SpokenSentence(clip, tuple(token_words(sentence, spans, 0.0)))


def assemble_scene(sentences: Sequence[Sentence], speak: Callable[[int, Sentence], SpokenSentence],
                   profile: PacingProfile, sample_rate: int) -> tuple[np.ndarray, tuple[Word, ...]]:
    """Lead-in, each sentence followed by its pacing pause, a longer tail at the scene's end;
    the whole scene normalised to the common loudness."""
    parts = [au.silence(profile.scene_lead_in, sample_rate)]
    t = profile.scene_lead_in
    words: list[Word] = []
    for i, sentence in enumerate(sentences):
        spoken = speak(i, sentence)
        if len(spoken.audio):
            words.extend(Word(w.text, round(w.start + t, 3), round(w.end + t, 3)) for w in spoken.words)
            parts.append(spoken.audio)
            t += len(spoken.audio) / sample_rate
        pause = profile.scene_tail if i == len(sentences) - 1 else profile.pause_after(sentence)
        parts.append(au.silence(pause, sample_rate))
        t += len(parts[-1]) / sample_rate
    if not sentences:
        parts.append(au.silence(profile.scene_tail, sample_rate))
    audio = np.concatenate(parts)
    return au.normalize_loudness(audio, sample_rate), tuple(words)


def scene_key(text: str, engine_id: str, voice_id: str, pacing: str) -> str:
    blob = json.dumps([SIDECAR_VERSION, text, engine_id, voice_id, pacing], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def sidecar_path(wav: Path) -> Path:
    return wav.with_suffix(".json")


def write_scene(wav: Path, audio: np.ndarray, sample_rate: int, words: Sequence[Word], key: str,
                extra: dict[str, Any]) -> SceneAudio:
    au.write_wav(wav, audio, sample_rate)
    duration = round(len(audio) / sample_rate, 3)
    side = sidecar_path(wav)
    payload = {"key": key, "sample_rate": sample_rate, "samples": len(audio), "duration": duration,
               "words": [asdict(w) for w in words], **extra}
    tempnames.write_text_atomic(side, json.dumps(payload, indent=1, ensure_ascii=False))
    return SceneAudio(wav, duration, tuple(words))


def load_scene(wav: Path, key: str) -> tuple[SceneAudio, int] | None:
    """A scene narrated earlier with the same text, voice and pacing, if both files are intact."""
    side = sidecar_path(wav)
    if not wav.is_file() or not side.is_file():
        return None
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        words = tuple(Word(str(w["text"]), float(w["start"]), float(w["end"])) for w in data["words"])
        rate, samples, duration = int(data["sample_rate"]), int(data["samples"]), float(data["duration"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if wav.stat().st_size != 44 + 2 * samples:  # 16-bit mono PCM with a plain header: intact
        return None
    return SceneAudio(wav, duration, words), rate
