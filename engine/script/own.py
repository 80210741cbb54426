"""The creator's own script: their narration as given (after the same normalisation every writer's
narration gets, engine.script.finish), no language model loaded. A scene without an image prompt
gets one derived from its narration the way the draft writer builds its pictures: framing, the
characters it names (or what it describes), the story kit's setting and light for that point of
the story, and the topic.

Also the edge's parser of the request's ``script``: plain text (scenes separated by blank lines)
or a list of ``{narration, image_prompt?}``."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Final

from engine.contracts import Progress, Scene, Script
from engine.errors import BadInput
from engine.languages import language
from engine.script.draft import kit_for, phase_at
from engine.script.draft_kit import FRAMINGS, PHASES, title_case, topic_phrase
from engine.script.finish import DraftScene, merge_sheet, present_in
from engine.script.names import mentions
from engine.script.speakable import speakable, word_count
from engine.script.visuals import visual_prompt, with_looks
from engine.spec import JobSpec, OwnScript, ScriptScene

NAME: Final = "your own script (no language model)"
MAX_SCENES: Final = 60
MAX_SCENE_CHARS: Final = 2000
MAX_PROMPT_CHARS: Final = 600
_BLANK_LINE: Final = re.compile(r"\n\s*\n")
_SUBJECT_WORDS: Final = 14


def parse_script(value: Any) -> OwnScript:
    """The request's ``script``; BadInput naming the part that is wrong."""
    if isinstance(value, str):
        parts = [p.strip() for p in _BLANK_LINE.split(value.replace("\r\n", "\n")) if p.strip()]
        scenes = [ScriptScene(" ".join(p.split())) for p in parts]
    elif isinstance(value, list):
        scenes = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                item = {"narration": item}
            if not isinstance(item, dict):
                raise BadInput(f"script[{i}] must be an object {{narration, image_prompt?}} or a string")
            unknown = sorted(set(item) - {"narration", "image_prompt"})
            if unknown:
                raise BadInput(f"script[{i}] has unknown field(s) {', '.join(unknown)}; "
                               "use narration and image_prompt")
            narration, prompt = item.get("narration"), item.get("image_prompt")
            if not isinstance(narration, str) or not narration.strip():
                raise BadInput(f"script[{i}].narration must be a non-empty string")
            if prompt is not None and not isinstance(prompt, str):
                raise BadInput(f"script[{i}].image_prompt must be a string")
            if prompt is not None and len(prompt) > MAX_PROMPT_CHARS:
                raise BadInput(f"script[{i}].image_prompt is longer than {MAX_PROMPT_CHARS} characters")
            scenes.append(ScriptScene(" ".join(narration.split()), " ".join((prompt or "").split())))
    else:
        raise BadInput("script must be text (scenes separated by blank lines) or a list of "
                       "{narration, image_prompt?}")
    if not scenes:
        raise BadInput("script has no scenes: write at least one paragraph of narration")
    if len(scenes) > MAX_SCENES:
        raise BadInput(f"script has {len(scenes)} scenes; at most {MAX_SCENES}")
    for i, s in enumerate(scenes):
        if len(s.narration) > MAX_SCENE_CHARS:
            raise BadInput(f"script[{i}] is longer than {MAX_SCENE_CHARS} characters; split it into scenes")
    return OwnScript(tuple(scenes))


def with_own_script(spec: JobSpec, own: OwnScript, *, duration_given: bool) -> JobSpec:
    """``spec`` with the creator's script: as many scenes as it has (a note when the request
    asked for another number), and, unless the request said how long, a length that fits its
    words at the language's ordinary pace (150 words a minute in English; characters in Chinese
    and Japanese) rather than long holds on each picture."""
    notes = list(spec.notes)
    if spec.num_scenes != len(own.scenes):
        notes.append(f"num_scenes follows your script: {len(own.scenes)} scenes")
    minutes = spec.duration_minutes
    if not duration_given:  # words (characters in Chinese/Japanese) at the language's ordinary pace
        units = sum(word_count(s.narration) for s in own.scenes)
        minutes = round(max(0.1, units / language(spec.language).per_minute), 2)
    return replace(spec, script=own, num_scenes=len(own.scenes), duration_minutes=minutes, notes=tuple(notes))


def derive_prompt(spec: JobSpec, narration: str, index: int, count: int) -> str:
    """An image prompt for a scene whose author gave none (deterministic, no model)."""
    kit = kit_for(spec.story_type)
    phase = phase_at((index + 0.5) / max(1, count))
    framing = FRAMINGS[0] if index == 0 else FRAMINGS[(index + spec.seed) % len(FRAMINGS)]
    setting = kit.settings[min(len(kit.settings) - 1, index * len(kit.settings) // max(1, count))]
    light = kit.light[PHASES.index(phase)]
    present = [c.name for c in spec.characters if c.name.strip() and mentions(narration, c)]
    first = re.split(r"(?<=[.!?])\s+", narration.strip(), maxsplit=1)[0]
    seen = " ".join(visual_prompt(first).split()[:_SUBJECT_WORDS]).strip(" ,.;")
    subject = " and ".join(present[:2]) if present else ""
    subject = ", ".join(p for p in (subject, seen) if p) or kit.subjects[index % len(kit.subjects)]
    return f"{framing} of {subject}, {setting}, {light}, {topic_phrase(spec.topic)}"


class OwnScriptWriter:
    """ScriptWriter over ``spec.script``: what the creator wrote, finished like any script."""

    name: str = NAME

    def write(self, spec: JobSpec, *, progress: Progress, words_per_minute: float = 150.0) -> Script:
        own = spec.script
        if own is None or not own.scenes:
            raise BadInput("this job has no script of its own")
        progress(0.0, "Reading your script")
        n = len(own.scenes)
        sheet = merge_sheet(spec.characters, ())
        scenes = []
        for i, given in enumerate(own.scenes):
            narration = speakable(given.narration)
            if not narration:
                raise BadInput(f"script[{i}] has nothing a narrator can read aloud: {given.narration[:60]!r}")
            if given.image_prompt.strip():
                # a prompt the creator (or a storyboard) wrote is kept as written; the characters of
                # the scene's picture are those it names, so editing the narration alone never
                # changes the picture
                prompt = " ".join(given.image_prompt.split())
                present = present_in(DraftScene("", prompt), prompt, sheet)
            else:
                present = present_in(DraftScene(narration, ""), narration, sheet)
                prompt = with_looks(visual_prompt(derive_prompt(spec, narration, i, n)), present)
            scenes.append(Scene(narration, prompt, tuple(c.name for c in present)))
        title = speakable(own.title.strip() or title_case(spec.topic)).rstrip(".") or "Untitled story"
        script = Script(title, tuple(scenes), sheet, NAME)
        length = script.length_text(spec.language)
        progress.note(f"Script: your own ({n} scenes, {length}); no language model used")
        progress(1.0, f"Script ready: {n} scenes, {length}")
        return script
