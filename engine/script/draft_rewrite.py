"""One scene of a script written again by the draft writer (a storyboard's "regenerate narration"
with no language model): another variant of that scene from the story type's kit, at the scene's
place in the story (its phase, the hook of the first scene, the closer of the last), with the
script's characters and the kit's place and object the story already uses, within the scene's
word budget. Deterministic for a seed (and hint); never the narration the scene has now. Still a
templated draft, and said to be one."""

from __future__ import annotations

import random
from typing import Final

from engine.contracts import Progress, Scene, Script
from engine.errors import BadInput
from engine.languages import language
from engine.script.draft import SOURCE, _Picker, _picture, _scene, _Story, kit_for
from engine.script.draft_kit import DraftKit, topic_phrase
from engine.script.finish import DraftScene, finish
from engine.script.length import SceneBudget, word_budget
from engine.script.speakable import speakable, trim_to_words, word_count
from engine.spec import Character, JobSpec

#: Variants drawn (each from its own seeded order of the kit) before the closest one is taken.
ATTEMPTS: Final = 12


def rewrite_scene(script: Script, index: int, spec: JobSpec, *, hint: str | None, seed: int,
                  progress: Progress, words_per_minute: float = 150.0) -> Scene:
    progress.check_cancelled()
    n = len(script.scenes)
    if not 0 <= index < n:
        raise BadInput(f"the script has no scene {index + 1}")
    progress(0.0, f"Rewriting scene {index + 1} (draft writer, no language model)")
    lang = language(spec.language)
    if lang.code != "en":  # the rate is in the job's language; the draft is English
        words_per_minute *= language("en").per_minute / lang.per_minute
    total = word_budget(n, spec.duration_minutes, words_per_minute)
    budget = SceneBudget(total.scene_targets[index])
    written = sum(total.scene_targets[:index])  # where the scene sits in the story
    kit = kit_for(spec.story_type)
    narrations = [s.narration for s in script.scenes]
    current = speakable(narrations[index])
    best: tuple[tuple[int, int], str, _Story, random.Random] | None = None
    for attempt in range(ATTEMPTS):
        progress.check_cancelled()
        rng = random.Random(f"storyreel-draft-rewrite:{seed}:{attempt}:{hint or ''}:{spec.story_type}:"
                            f"{spec.topic}:{index}")
        story = _story(spec, kit, script.characters, narrations, index, rng)
        text, _ = _scene(story, index, n, budget.target, written, total.target, narrations[:index],
                         rng.randrange(4))
        text = _fit(speakable(text), budget)
        if text == current:
            continue
        miss = (0 if budget.accepts(word_count(text)) else 1, abs(word_count(text) - budget.target))
        if best is None or miss < best[0]:
            best = (miss, text, story, rng)
        if miss[0] == 0:
            break
    if best is None:
        raise BadInput(f"the draft writer has no other version of scene {index + 1} for this story")
    _, text, story, rng = best
    picture = _picture(kit, spec, story, index, n, text, rng)
    scene = finish(script.title, script.characters, [DraftScene(text, picture)], SOURCE).scenes[0]
    if hint:
        progress.note("The draft writer cannot follow a hint; it picked another templated version of the "
                      "scene. Install a GGUF with scripts/download_models.py --llm to rewrite by a hint.")
    progress.note(f"Scene {index + 1} rewritten by the draft writer ({word_count(scene.narration)} words, "
                  f"budget {budget.target}): a templated DRAFT, not written by a language model")
    progress(1.0, f"Scene {index + 1} rewritten")
    return scene


def _story(spec: JobSpec, kit: DraftKit, sheet: tuple[Character, ...], narrations: list[str], index: int,
           rng: random.Random) -> _Story:
    """The kit's story with the script's characters (none invented: a rewrite never brings in a
    stranger) and the place and object the script already names (else new ones)."""
    told = " ".join(narrations)
    values = {
        "topic": topic_phrase(spec.topic),
        "place": _named(kit.places, told) or rng.choice(kit.places),
        "thing": _named(kit.things, told) or rng.choice(kit.things),
        "hero": sheet[0].name if sheet else "",
        "ally": sheet[1].name if len(sheet) > 1 else "",
        "rival": sheet[2].name if len(sheet) > 2 else "",
    }
    story = _Story(kit, spec, sheet, values, _Picker(rng))
    story._shorten_names(" ".join(narrations[:index]))  # names spoken earlier come back short
    return story


def _named(options: tuple[str, ...], text: str) -> str | None:
    low = text.lower()
    return next((o for o in options if o.lower() in low), None)


def _fit(text: str, budget: SceneBudget) -> str:
    """Over the budget: whole sentences dropped from the end, else cut at a word on the limit."""
    if word_count(text) <= budget.high:
        return text
    trimmed = trim_to_words(text, budget.high)
    return trimmed if word_count(trimmed) >= budget.low else trim_to_words(text, budget.high, exact=True)
