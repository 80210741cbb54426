"""Narration in other languages through the real Piper code path (Piper's espeak-ng phonemizer,
onnxruntime, its phoneme alignments -> word timings) with a tiny Piper voice built for the test
and installed the way download_models.py --voices installs one (models/tts/<model>/NAME.onnx)."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from engine.contracts import Scene, Script
from engine.narration.audio import read_wav
from engine.narration.narrator import CatalogNarrator
from engine.narration.voice_packs import packs
from engine.progress import StageProgress
from engine.spec import JobSpec
from tests.tiny_piper import SAMPLE_RATE, build_tiny_piper

_ESPEAK = {"es": "es", "ar": "ar", "zh": "cmn"}


def _installed(tmp_path: Path, code: str) -> tuple[str, Path]:
    pack = next(p for p in packs() if p.language == code and p.engine == "piper")
    name = pack.raw["files"][0]["remote"].rsplit("/", 1)[-1].removesuffix(".onnx")
    return pack.model, build_tiny_piper(tmp_path / "tts" / pack.model, name, _ESPEAK[code])


@pytest.mark.parametrize("code, text", [
    ("es", "¿Quién encendió la lámpara? El Sr. García, en 1990. ¡Nadie lo supo!"),
    ("ar", "احتفظت المنارة القديمة بسرها لمدة 120 عامًا. لماذا؟"),
    ("zh", "那座古老的灯塔守护了它的秘密。为什么？没有人知道！"),
])
def test_a_narration_in_the_language_with_word_timings(tmp_path: Path, code: str, text: str) -> None:
    model, folder = _installed(tmp_path, code)
    narrator = CatalogNarrator({model: folder})
    notes: list[str] = []
    progress = StageProgress("narration", sink=lambda s, p, m: None, detail=notes.append,
                             cancel=threading.Event())
    spec = JobSpec(topic="t", voice_id="female_narrator_warm", language=code)
    narration = narrator.narrate(Script("t", (Scene(text, ""),)), spec, tmp_path / "job", progress=progress)
    [scene] = narration.scenes
    audio, rate = read_wav(scene.wav)
    assert rate == SAMPLE_RATE and np.abs(audio).max() > 0.01
    shown = [w.text for w in scene.words]
    if code == "zh":  # character groups, joined without spaces, in spoken order
        assert len(shown) > 5 and "".join(shown) == text
    else:
        assert shown == text.split()
    for a, b in zip(scene.words, scene.words[1:]):
        assert 0 <= a.start < a.end <= b.start + 1e-3
    assert scene.words[-1].end <= scene.duration
    assert any("on Piper" in n and model in n for n in notes)
    assert any(f"-> {code}_" in n for n in notes)  # an English voice id -> the nearest voice of the language
