"""The draft writer (embedded default, no model): every story type, scene count and length gives a
story-shaped, speakable script within ±10% of its word target (in standard words: speaking time
in words of average length, see engine.narration.budget), using the request's characters."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from engine.contracts import Script, ScriptWriter
from engine.errors import JobCancelled
from engine.presets import STORY_TYPES
from engine.progress import StageProgress, null_progress
from engine.narration.budget import reference_budget
from engine.script.draft import DraftWriter
from engine.script.length import word_budget
from engine.script.speakable import sentences, speakable
from engine.spec import Character, HookIntensity, JobSpec, Pacing

CAST = (
    Character("Detective Mara Quinn", "a tall woman with short grey hair and a navy coat"),
    Character("Ben", "a boy of ten in a red hoodie"),
)
SHAPES = [(1, 0.25), (3, 0.5), (6, 1.0), (12, 5.0), (60, 30.0)]
_MARKUP = re.compile(r"[*#\[\]{}<>_~`|\\]|\(\s*[A-Z ]+\)|^\s*-\s", re.MULTILINE)
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf]")


def _spec(story_type: str, scenes: int, minutes: float, **kw: Any) -> JobSpec:
    topic = "the lighthouse keeper who vanished"
    return JobSpec(topic=topic, story_type=story_type, num_scenes=scenes, duration_minutes=minutes, **kw)


def _check(script: Script, spec: JobSpec, wpm: float = 150.0) -> None:
    budget = word_budget(spec.num_scenes, spec.duration_minutes, wpm)
    assert len(script.scenes) == spec.num_scenes
    standard = reference_budget(spec.pacing).standard_words(s.narration for s in script.scenes)
    assert budget.accepts(round(standard)) or budget.floored, (standard, script.word_count, budget.target)
    assert 0.7 * budget.target <= script.word_count <= 1.3 * budget.target, (script.word_count, budget.target)
    assert "draft" in script.source.lower()
    for scene in script.scenes:
        assert scene.narration and speakable(scene.narration) == scene.narration
        assert not _MARKUP.search(scene.narration) and not _EMOJI.search(scene.narration)
        assert scene.image_prompt and "cinematic" not in scene.image_prompt.lower()
        for name in scene.characters:
            c = next(c for c in script.characters if c.name == name)
            assert c.description in scene.image_prompt


@pytest.mark.parametrize("story_type", list(STORY_TYPES))
def test_every_story_type_at_several_sizes(story_type: str) -> None:
    writer = DraftWriter()
    paces, hooks = list(Pacing), list(HookIntensity)
    for i, (scenes, minutes) in enumerate(SHAPES):
        spec = _spec(
            story_type,
            scenes,
            minutes,
            characters=CAST if i % 2 else (),
            pacing=paces[i % 4],
            hook_intensity=hooks[(i + 1) % 4],
            seed=i,
        )
        script = writer.write(spec, progress=null_progress())
        _check(script, spec)
        if spec.characters:
            text = " ".join(s.narration for s in script.scenes)
            assert "Mara" in text and "Ben" in text
            assert script.characters[:2] == CAST


def test_is_a_script_writer_and_deterministic() -> None:
    writer = DraftWriter()
    assert isinstance(writer, ScriptWriter) and "no language model" in writer.name
    spec = _spec("mystery", 5, 1.5, characters=CAST, seed=7)
    first = writer.write(spec, progress=null_progress())
    assert writer.write(spec, progress=null_progress()) == first
    other = writer.write(_spec("mystery", 5, 1.5, characters=CAST, seed=8), progress=null_progress())
    assert other != first


def test_voice_speed_sets_the_length() -> None:
    spec = _spec("history", 4, 2.0)
    slow = DraftWriter().write(spec, progress=null_progress(), words_per_minute=120)
    fast = DraftWriter().write(spec, progress=null_progress(), words_per_minute=180)
    _check(slow, spec, 120)
    _check(fast, spec, 180)
    assert fast.word_count > slow.word_count * 1.3


def test_hook_shapes_the_opening_and_pacing_the_sentences() -> None:
    openings = {
        h: (
            DraftWriter()
            .write(_spec("scary_horror", 4, 1.0, hook_intensity=h), progress=null_progress())
            .scenes[0]
            .narration
        )
        for h in HookIntensity
    }
    assert len({sentences(t)[0] for t in openings.values()}) == 4
    assert openings[HookIntensity.EXTREME].startswith("Do not turn around")

    def mean_sentence(pacing: Pacing) -> float:
        script = DraftWriter().write(_spec("mystery", 6, 3.0, pacing=pacing), progress=null_progress())
        parts = [s for scene in script.scenes for s in sentences(scene.narration)]
        return sum(len(s.split()) for s in parts) / len(parts)

    assert mean_sentence(Pacing.FAST) < mean_sentence(Pacing.MODERATE) < mean_sentence(Pacing.SLOW)


def test_invents_a_hero_only_for_told_stories() -> None:
    story = DraftWriter().write(_spec("fantasy", 3, 1.0), progress=null_progress())
    assert len(story.characters) == 1 and story.characters[0].description
    assert any(story.characters[0].name in s.characters for s in story.scenes)
    facts = DraftWriter().write(_spec("fun_facts", 3, 1.0), progress=null_progress())
    assert facts.characters == ()


def test_notes_the_draft_and_a_floored_length() -> None:
    notes: list[str] = []
    spec = _spec("comedy", 60, 0.25)
    script = DraftWriter().write(spec, progress=StageProgress("script", detail=notes.append))
    assert script.word_count >= 60 * 3
    assert any("draft" in n.lower() and "download_models.py --llm" in n for n in notes)
    assert any("at least" in n for n in notes)


def test_cancelled_before_writing() -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(JobCancelled):
        DraftWriter().write(_spec("drama", 3, 1.0), progress=StageProgress("script", cancel=cancel))
