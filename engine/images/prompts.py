"""Scene prompts for SDXL: the scene's image prompt, its characters' visual descriptions (the same
words in every scene, so a character keeps its look), and the style suffix; plus the per-scene seeds
derived from the job seed so re-running a job reproduces its images."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final, Iterable

from engine.contracts import Scene, Script
from engine.images.styles import StylePreset
from engine.spec import Character

#: CLIP reads 77 tokens (75 after begin/end); words beyond that are silently dropped, so the
#: scene text is trimmed first to keep the characters and the style in.
TOKEN_BUDGET: Final = 75
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")


@dataclass(frozen=True)
class ScenePrompt:
    index: int  # 0-based scene index
    prompt: str
    negative: str
    seed: int


def estimate_tokens(text: str) -> int:
    """A cautious estimate of CLIP BPE tokens: every word or punctuation mark, long words twice."""
    return sum(2 if len(t) > 8 else 1 for t in _TOKEN_RE.findall(text))


def scene_seed(job_seed: int, index: int) -> int:
    """A deterministic, well-spread 31-bit seed for scene ``index`` of a job."""
    digest = hashlib.sha256(f"storyreel:{int(job_seed)}:{int(index)}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def scene_characters(scene: Scene, known: Iterable[Character]) -> list[Character]:
    """Characters in the scene: those it lists by name, then any known one its prompt names.
    Names match case-insensitively; each character appears once, in first-mention order."""
    by_name: dict[str, Character] = {}
    for c in known:
        by_name.setdefault(c.name.strip().lower(), c)
    found: dict[str, Character] = {}
    for name in scene.characters:
        key = name.strip().lower()
        found.setdefault(key, by_name.get(key, Character(name.strip())))
    text = scene.image_prompt.lower()
    for key, c in by_name.items():
        if key and key not in found and re.search(rf"(?<!\w){re.escape(key)}(?!\w)", text):
            found[key] = c
    return list(found.values())


def describe(character: Character, max_words: int = 24) -> str:
    """``Name (visual description)``; just the name when there is no description."""
    desc = " ".join(character.description.split()[:max_words]).strip(" ,.;")
    return f"{character.name} ({desc})" if desc else character.name


def trim_words(text: str, budget: int) -> str:
    words = text.split()
    while words and estimate_tokens(" ".join(words)) > budget:
        words.pop()
    return " ".join(words).rstrip(" ,;")


def build_prompt(
    scene: Scene,
    index: int,
    script: Script,
    style: StylePreset,
    job_seed: int,
    extra_characters: Iterable[Character] = (),
) -> ScenePrompt:
    """The SDXL prompt for one scene. Characters are described from ``script.characters`` (then
    ``extra_characters``, e.g. the request's); the scene text is trimmed to fit CLIP's window."""
    chars = scene_characters(scene, (*script.characters, *extra_characters))
    char_text = ", ".join(describe(c) for c in chars)
    if estimate_tokens(char_text) > TOKEN_BUDGET // 2:
        char_text = ", ".join(describe(c, max_words=8) for c in chars)
        char_text = trim_words(char_text, TOKEN_BUDGET // 2)
    fixed = ", ".join(p for p in (char_text, style.suffix) if p)
    room = TOKEN_BUDGET - estimate_tokens(fixed) - 1
    source = scene.image_prompt if scene.image_prompt.strip() else scene.narration
    for c in chars:  # the script writer may already have written "Name (description)": keep it once,
        source = source.replace(describe(c), c.name)  # in the character part, which is never trimmed
    scene_text = trim_words(" ".join(source.split()), max(room, 8))
    prompt = ", ".join(p for p in (scene_text, char_text, style.suffix) if p)
    return ScenePrompt(index=index, prompt=prompt, negative=style.negative, seed=scene_seed(job_seed, index))
