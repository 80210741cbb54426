"""The voice catalog, nearest-voice resolution, /api/voices listing, and the pure timing maths."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.narration.timing import PACING, align_words, groups_from_units, words_per_minute
from engine.narration.voices import DEFAULT_VOICE, VCTK_VITS, VOICES, XTTS_V2, list_voices, resolve_voice
from engine.spec import Pacing


def test_catalog_has_the_required_range() -> None:
    assert len(VOICES) >= 8
    assert DEFAULT_VOICE == "male_narrator_deep" and DEFAULT_VOICE in VOICES
    genders = {v.gender for v in VOICES.values()}
    assert {"male", "female"} <= genders
    words = " ".join(v.id + " " + v.description.lower() for v in VOICES.values())
    for quality in ("deep", "warm", "calm", "energetic", "whisper"):
        assert quality in words
    assert any(v.effect == "whisper" for v in VOICES.values())
    assert any(v.backend == "xtts" for v in VOICES.values())
    for voice in VOICES.values():
        assert voice.model in (VCTK_VITS, XTTS_V2) and voice.speaker
        assert 0.7 <= voice.embedded_speed <= 1.3 and 0.75 <= voice.embedded_pitch <= 1.4


def test_voices_differ_on_the_embedded_speaker() -> None:
    shapes = {(v.embedded_speed, v.embedded_pitch, v.embedded_noise, v.effect) for v in VOICES.values()}
    assert len(shapes) == len(VOICES)
    female = [v.embedded_pitch for v in VOICES.values() if v.gender == "female"]
    male = [v.embedded_pitch for v in VOICES.values() if v.gender == "male"]
    assert min(female) > max(male)


@pytest.mark.parametrize("asked, expected", [
    ("male_narrator_deep", "male_narrator_deep"),
    ("Male-Narrator-Deep", "male_narrator_deep"),
    ("deep_man", "male_narrator_deep"),
    ("calm woman", "female_narrator_calm"),
    ("creepy_ghost_voice", "horror_whisper"),
    ("energetic_girl", "female_energetic"),
    ("upbeat guy", "male_energetic"),
    ("zzz-unknown", "male_narrator_deep"),
    ("", "male_narrator_deep"),
])
def test_resolve_voice(asked: str, expected: str) -> None:
    voice, note = resolve_voice(asked)
    assert voice.id == expected
    if asked in VOICES or asked.lower().replace("-", "_") in VOICES:
        assert note is None
    else:
        assert note is not None and f"-> {expected}" in note and repr(asked) in note


def test_list_voices_reports_installation_and_licences(tmp_path: Path) -> None:
    listed = {v["id"]: v for v in list_voices({VCTK_VITS: tmp_path})}
    assert set(VOICES) <= set(listed)  # the English catalog, then the voices per language
    assert listed["male_narrator_deep"]["language"] == "en" and listed["es_davefx"]["language"] == "es"
    deep = listed["male_narrator_deep"]
    assert deep["installed"] is True and "fix" not in deep and "CC-BY" in deep["licence"]
    xtts = next(v for v in listed.values() if v["model"] == XTTS_V2)
    assert xtts["installed"] is False
    assert "non-commercial" in xtts["licence"].lower() and "CPML" in xtts["licence"]
    assert "download_models.py --xtts" in xtts["fix"]
    assert {"id", "description", "gender", "backend", "installed", "licence"} <= set(deep)


def test_groups_from_units_splits_words_at_separators() -> None:
    # ^ h _ i _ ␠ _ y o u $  with 100 samples each at 1000 Hz; None = padding/blank
    kinds = [False, True, None, True, None, False, None, True, True, False]
    groups = groups_from_units(kinds, [100] * len(kinds), 1000)
    assert groups == [(0.1, 0.4, 2), (0.7, 0.9, 2)]


def test_align_words_handles_merged_and_split_groups() -> None:
    words = ["out", "of", "the", "darkness"]
    # the model merged "of the" into one group
    spans = align_words(words, [(0.0, 0.3, 3), (0.35, 0.6, 4), (0.7, 1.4, 7)])  # aʊt ɒvðə dɑːknəs
    assert len(spans) == 4
    assert spans[0] == (0.0, 0.3) and spans[3] == (0.7, 1.4)
    assert spans[1][0] == pytest.approx(0.35) and spans[2][1] == pytest.approx(0.6)
    assert spans[1][1] == pytest.approx(spans[2][0])
    # the model split one word into two groups
    spans = align_words(["hello", "nineteen-ninety"], [(0.0, 0.4, 4), (0.5, 0.9, 7), (0.95, 1.3, 6)])
    assert spans == [(0.0, 0.4), (0.5, 1.3)]


def test_words_per_minute_follows_pacing_and_speed() -> None:
    def wpm(pacing: Pacing, speed: float = 1.0) -> float:
        return words_per_minute(3.0, PACING[pacing], speed=speed, num_scenes=6, duration_s=60.0)

    assert wpm(Pacing.SLOW) < wpm(Pacing.MODERATE) < wpm(Pacing.DYNAMIC) < wpm(Pacing.FAST)
    assert 110 < wpm(Pacing.MODERATE) < 175
    assert wpm(Pacing.MODERATE, speed=0.9) < wpm(Pacing.MODERATE)
