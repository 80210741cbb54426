"""The words sent to the language model: one instruction block per job (story type, hook,
pacing, characters, narration and picture rules), then the task of each call: the whole script,
an outline, a batch of scenes, or more words for scenes that came out short.

Everything goes in user turns: some chat templates (Gemma's among them) drop system messages."""

from __future__ import annotations

from typing import Final, Sequence

from engine.languages import language
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


#: The language instruction in the language itself (the model follows it better than an English one).
_WRITE_IN: Final = {
    "es": "Escribe el título y toda la narración en español.",
    "fr": "Écris le titre et toute la narration en français.",
    "de": "Schreibe den Titel und die gesamte Erzählung auf Deutsch.",
    "it": "Scrivi il titolo e tutta la narrazione in italiano.",
    "pt": "Escreve o título e toda a narração em português.",
    "nl": "Schrijf de titel en de hele vertelling in het Nederlands.",
    "pl": "Napisz tytuł i całą narrację po polsku.",
    "tr": "Başlığı ve tüm anlatımı Türkçe yaz.",
    "ru": "Напиши название и весь текст рассказчика на русском языке.",
    "cs": "Napiš název a celé vyprávění v češtině.",
    "ar": "اكتب العنوان والسرد كله باللغة العربية الفصحى.",
    "zh": "请用简体中文写标题和全部旁白。",
    "ja": "タイトルとナレーションはすべて日本語で書いてください。",
    "ko": "제목과 모든 내레이션을 한국어로 작성하세요.",
    "hi": "शीर्षक और पूरा वर्णन हिन्दी में लिखें।",
}


def _language_line(spec: JobSpec) -> str | None:
    lang = language(spec.language)
    if lang.code == "en":
        return None
    return (
        f"Language: the title and every narration are in {lang.name} ({lang.native}), written as a native "
        f"speaker would say them aloud. {_WRITE_IN.get(lang.code, '')} Every image_prompt stays in English "
        "(the painter reads English only); character names stay as given."
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
    unit = language(spec.language).unit_name
    lines = (
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
            f"Length: about {target_words} {unit} of narration in all ({minutes} minutes spoken), spread"
            f" evenly over {spec.num_scenes} scenes. The story must feel complete within that length."
        ),
        _cast_lines(spec.characters),
        _NARRATION_RULES,
        _PICTURE_RULES + f" Typical pictures for this story type: {guide.visuals}.",
        _language_line(spec),
        "Answer with one JSON object only.",
    )
    return "\n".join(line for line in lines if line)


def _words_line(scene_words: Sequence[int], first: int, unit: str = "words") -> str:
    if len(set(scene_words)) == 1:
        return f"Each scene's narration has about {scene_words[0]} {unit}."
    return (
        "Narration length per scene: "
        + ", ".join(f"scene {first + i + 1}: about {w} {unit}" for i, w in enumerate(scene_words))
        + "."
    )


def plan_messages(spec: JobSpec, target_words: int, scene_words: Sequence[int]) -> list[Message]:
    task = (
        f"Write the whole script now: a title, the character sheet, and exactly {len(scene_words)} scenes, "
        "each with narration, the names of the characters in it, and an image_prompt. "
        + _words_line(scene_words, 0, language(spec.language).unit_name)
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
        "plan, continuing naturally from the narration so far. "
        f"{_words_line(scene_words, first, language(spec.language).unit_name)}"
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
            f"   Continue it with about {add} more {language(spec.language).unit_name}."
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


#: Words (characters for Chinese and Japanese) of a neighbouring scene shown when one scene is
#: written again, and of the scene itself (what it says now).
NEIGHBOUR_WORDS: Final = 120
#: The creator's hint is shown up to this many characters.
HINT_CHARS: Final = 400


def clip(text: str, units_: int, *, keep_end: bool, spaced: bool) -> str:
    """``text`` cut to ``units_`` words (characters when not ``spaced``), keeping its end or its
    start, with an ellipsis where it was cut; "" for none."""
    if units_ <= 0:
        return ""
    parts = text.split() if spaced else list(text)
    if len(parts) <= units_:
        return text
    joiner = " " if spaced else ""
    kept = parts[-units_:] if keep_end else parts[:units_]
    return ("..." + joiner.join(kept)) if keep_end else (joiner.join(kept) + "...")


def story_context(narrations: Sequence[str], index: int, allowance: int,
                  spaced: bool) -> list[tuple[int, str]]:
    """The neighbouring scenes of scene ``index`` shown to the model, nearest first, each clipped to
    :data:`NEIGHBOUR_WORDS` (the end of a scene before, the start of one after) and together at most
    ``allowance`` words; in story order."""
    others = (j for j in range(len(narrations)) if j != index)
    order = sorted(others, key=lambda j: (abs(j - index), j > index))
    shown: dict[int, str] = {}
    left = allowance
    for j in order:
        take = min(NEIGHBOUR_WORDS, left)
        text = clip(narrations[j], take, keep_end=j < index, spaced=spaced)
        if not text:
            break
        shown[j] = text
        left -= min(take, len(narrations[j].split()) if spaced else len(narrations[j]))
    return sorted(shown.items())


def rewrite_messages(spec: JobSpec, target_words: int, title: str, sheet: Sequence[Character],
                     narrations: Sequence[str], index: int, scene_words: int, hint: str | None,
                     allowance: int) -> list[Message]:
    """Ask for scene ``index`` again: the story so far (neighbours within ``allowance`` words),
    what the scene says now, its length, and the creator's hint."""
    lang = language(spec.language)
    n = len(narrations)
    cast = "\n".join(f"- {c.name}: {c.description}" for c in sheet) or "- (none)"
    shown = story_context(narrations, index, allowance, lang.spaced)
    lines = [f'Scene {j + 1}: "{text}"' for j, text in shown]
    now = clip(narrations[index], NEIGHBOUR_WORDS, keep_end=False, spaced=lang.spaced)
    lines.insert(sum(1 for j, _ in shown if j < index),
                 f'Scene {index + 1} (to be rewritten) now says: "{now}"')
    place = (" It is the opening scene: open with the hook." if index == 0 else "") + (
        " It is the last scene: it ends the story." if index == n - 1 else "")
    wish = " ".join((hint or "").split())[:HINT_CHARS]
    task = (
        f"Title: {title}\nCharacters:\n{cast}\nThe story, scene by scene ({n} scenes):\n" + "\n".join(lines)
        + f"\n\nWrite scene {index + 1} of {n} again: new narration that follows on from the scene before it"
        " and leads into the scene after it, telling the same part of the story in fresh words (do not copy"
        f" what it says now), with about {scene_words} {lang.unit_name}, and an image_prompt for its picture."
        + place
        + (f'\nThe creator asks for this scene: "{wish}"' if wish else "")
        + (f"\n{_WRITE_IN[lang.code]}" if lang.code in _WRITE_IN else "")
        + '\nAnswer with one JSON object: {"narration": ..., "image_prompt": ...}.'
    )
    return [{"role": "user", "content": instructions(spec, target_words) + "\n\n" + task}]
