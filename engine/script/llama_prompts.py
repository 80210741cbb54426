"""The words sent to the language model: one instruction block per job (story type, hook,
pacing, characters, narration and picture rules), then the task of each call: the whole script,
an outline, a batch of scenes, or more words for scenes that came out short.

Everything goes in user turns: some chat templates (Gemma's among them) drop system messages."""

from __future__ import annotations

from typing import Final, Sequence

from engine.presets import STORY_TYPES
from engine.script.guidance import HOOKS, PACING, guide_for
from engine.spec import Character, JobSpec

Message = dict[str, str]
#: How much of an earlier answer is shown back with feedback, and of a scene when extending it.
ECHO_CHARS: Final = 1500
TAIL_WORDS: Final = 80

_NARRATION_RULES: Final = (
    "Narration is read aloud by a voice actor, exactly as written: plain spoken sentences only. No Markdown,"
    " headings, bullet points, emojis, scene numbers or labels, speaker names, stage directions, sound cues"
    " or notes in brackets or parentheses. Write numbers the way they are spoken."
)
_PICTURE_RULES: Final = (
    "Each image_prompt describes one picture for a painter in 12 to 30 words: the subject and what it is"
    " doing, the setting, the lighting and the framing (for example wide shot, medium shot or close-up)."
    " Describe people by their appearance. Only visible things: no art style or quality words (such as"
    " cinematic, realistic, 4k or painting) and never any text, words, letters, signs or captions in the"
    " picture."
)


def _cast_lines(characters: Sequence[Character]) -> str:
    if not characters:
        return (
            "Invent the characters the story needs (at most four), give each a short name and a visual "
            "description (age, build, hair, clothing), and keep them the same in every scene."
        )
    lines = "\n".join(
        f"- {c.name}: {c.description or 'no description given; invent a visual one'}" for c in characters
    )
    return (
        "Use these characters with exactly these names and traits, name them in the narration of the scenes "
        "where they appear, and list them in the character sheet with a visual description:\n"
        + lines
        + "\nYou may add at most two minor characters."
    )


def instructions(spec: JobSpec, target_words: int) -> str:
    guide = guide_for(spec.story_type)
    kind = STORY_TYPES.get(spec.story_type, spec.story_type)
    minutes = f"{spec.duration_minutes:g}"
    return "\n".join((
        (
            "You are a scriptwriter for short narrated videos. Each scene is one picture on screen while the "
            "narrator reads that scene's narration."
        ),
        f"Topic: {spec.topic.strip()}",
        f"Story type: {spec.story_type.replace('_', ' ')}. {kind}",
        f"Voice: {guide.voice}",
        f"Story shape: {guide.shape}.",
        f"Craft: {guide.craft}",
        f"Opening: {HOOKS[spec.hook_intensity]}",
        f"Pacing: {PACING[spec.pacing]}",
        (
            f"Length: about {target_words} words of narration in all ({minutes} minutes spoken), spread"
            f" evenly over {spec.num_scenes} scenes. The story must feel complete within that length."
        ),
        _cast_lines(spec.characters),
        _NARRATION_RULES,
        _PICTURE_RULES + f" Typical pictures for this story type: {guide.visuals}.",
        "Answer with one JSON object only.",
    ))


def _words_line(scene_words: Sequence[int], first: int) -> str:
    if len(set(scene_words)) == 1:
        return f"Each scene's narration has about {scene_words[0]} words."
    return (
        "Narration length per scene: "
        + ", ".join(f"scene {first + i + 1}: about {w} words" for i, w in enumerate(scene_words))
        + "."
    )


def plan_messages(spec: JobSpec, target_words: int, scene_words: Sequence[int]) -> list[Message]:
    task = (
        f"Write the whole script now: a title, the character sheet, and exactly {len(scene_words)} scenes, "
        "each with narration, the names of the characters in it, and an image_prompt. "
        + _words_line(scene_words, 0)
    )
    return [{"role": "user", "content": instructions(spec, target_words) + "\n\n" + task}]


def outline_messages(spec: JobSpec, target_words: int) -> list[Message]:
    task = (
        f"First, plan the story: a title, the character sheet, and exactly {spec.num_scenes} scenes, each "
        "with a one-sentence summary of what happens in it and the names of the characters in it. The "
        "summaries together must tell the whole story from the opening hook to the ending."
    )
    return [{"role": "user", "content": instructions(spec, target_words) + "\n\n" + task}]


def _outline_text(title: str, sheet: Sequence[Character], summaries: Sequence[str]) -> str:
    cast = "\n".join(f"- {c.name}: {c.description}" for c in sheet) or "- (none)"
    beats = "\n".join(f"{i + 1}. {s}" for i, s in enumerate(summaries))
    return f"Title: {title}\nCharacters:\n{cast}\nScene plan:\n{beats}"


def batch_messages(
    spec: JobSpec,
    target_words: int,
    title: str,
    sheet: Sequence[Character],
    summaries: Sequence[str],
    first: int,
    scene_words: Sequence[int],
    previous: str,
) -> list[Message]:
    last = first + len(scene_words)
    story_so_far = (
        f'The narration so far ends: "...{_tail(previous)}"\n'
        if previous
        else "These are the first scenes: open with the hook.\n"
    )
    task = (
        f"{_outline_text(title, sheet, summaries)}\n\n{story_so_far}"
        f"Now write scenes {first + 1} to {last} (exactly {len(scene_words)} scenes), following the scene "
        f"plan, continuing naturally from the narration so far. {_words_line(scene_words, first)}"
        + (" The last scene ends the story." if last == len(summaries) else "")
    )
    return [{"role": "user", "content": instructions(spec, target_words) + "\n\n" + task}]


def more_messages(
    spec: JobSpec, target_words: int, title: str, scenes: Sequence[tuple[int, str, int]], total_scenes: int
) -> list[Message]:
    """Ask for more narration for some scenes: (index, narration so far, words to add)."""
    parts = []
    for n, (index, text, add) in enumerate(scenes):
        ending = " (the story's last scene: keep the ending last)" if index == total_scenes - 1 else ""
        parts.append(
            f'{n + 1}. Scene {index + 1}{ending} currently ends: "...{_tail(text)}"\n'
            f"   Continue it with about {add} more words."
        )
    task = (
        f'The script "{title}" is too short. Continue the narration of these {len(scenes)} scenes, each '
        "from exactly where it stops, adding new events or details, without repeating what was said:\n"
        + "\n".join(parts)
        + "\nAnswer with one continuation text per scene, in this order."
    )
    return [{"role": "user", "content": instructions(spec, target_words) + "\n\n" + task}]


def feedback(answer: str, problems: Sequence[str]) -> list[Message]:
    """The turns that show the model its rejected answer and what to fix."""
    shown = answer if len(answer) <= ECHO_CHARS else answer[:ECHO_CHARS] + " ..."
    fix = "\n".join(f"- {p}" for p in problems)
    return [
        {"role": "assistant", "content": shown},
        {
            "role": "user",
            "content": (
                f"That answer cannot be used:\n{fix}\nWrite the complete answer again, fixed, "
                "as one JSON object."
            ),
        },
    ]


def _tail(text: str) -> str:
    words = text.split()
    return " ".join(words[-TAIL_WORDS:])
