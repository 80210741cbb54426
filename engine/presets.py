"""Named presets a request may pick (story types, image styles), each with a one-line description
for /api/options, and the word-based nearest match used for names we don't know."""

from __future__ import annotations

import re
from typing import Final, Mapping

STORY_TYPES: Final[Mapping[str, str]] = {
    "scary_horror": "Slow-building dread, an uncanny threat and a chilling final turn.",
    "mystery": "A puzzle laid out clue by clue, resolved with a reveal.",
    "true_crime": "A factual-sounding case told through timeline, evidence and investigators.",
    "urban_legend": "A retold local legend: 'they say...', the rule, and the one who broke it.",
    "sci_fi": "A speculative idea, its consequences and the people caught in them.",
    "fantasy": "A quest in a world of magic, with a cost to pay.",
    "history": "A real-feeling historical episode: context, turning point and legacy.",
    "motivational": "A struggle, a lesson and a call to act, spoken to the viewer.",
    "fun_facts": "Surprising facts told briskly, each one topping the last.",
    "educational": "A clear explanation, built up step by step with examples.",
    "bedtime": "A gentle, calm tale that winds down to a soft ending.",
    "comedy": "Escalating mishaps with setups, callbacks and a punchline.",
    "drama": "People, a conflict between them and the choice that resolves it.",
}

IMAGE_STYLES: Final[Mapping[str, str]] = {
    "cinematic": "Film still: dramatic lighting, shallow depth of field, anamorphic look.",
    "photorealistic": "Natural photograph, true-to-life detail and light.",
    "anime": "Japanese animation: clean line art, cel shading, vivid colour.",
    "comic": "Comic book panel: bold ink outlines, halftone, flat colour.",
    "oil_painting": "Classical oil painting: visible brush strokes, rich pigment.",
    "watercolor": "Soft watercolour: bleeding washes on textured paper.",
    "dark_fantasy": "Grim, moody fantasy illustration: deep shadows, muted palette.",
    "noir": "Black-and-white film noir: hard shadows, rain, venetian-blind light.",
    "pixel_art": "Retro pixel art: limited palette, crisp pixels.",
    "3d_render": "Stylised 3D render: soft global illumination, clean materials.",
}

#: Extra words that point at a preset, so "horror", "ghost_story" or "spooky" find scary_horror.
_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "scary_horror": ("horror", "scary", "ghost", "spooky", "creepy", "haunted", "terror", "creepypasta"),
    "mystery": ("detective", "whodunit", "puzzle", "suspense", "thriller"),
    "true_crime": ("crime", "murder", "case", "investigation", "heist"),
    "urban_legend": ("legend", "myth", "folklore", "folk", "cryptid"),
    "sci_fi": ("science", "fiction", "scifi", "space", "future", "robot", "cyberpunk", "alien"),
    "fantasy": ("magic", "dragon", "quest", "wizard", "fairy", "epic", "adventure"),
    "history": ("historical", "ancient", "war", "biography", "documentary"),
    "motivational": ("inspiration", "inspirational", "success", "self", "help", "motivation"),
    "fun_facts": ("facts", "trivia", "fun", "did", "know", "top", "list"),
    "educational": ("explainer", "learn", "tutorial", "education", "lesson", "science"),
    "bedtime": ("kids", "children", "sleep", "lullaby", "calm", "fairy"),
    "comedy": ("funny", "humor", "humour", "joke", "satire", "parody", "comic"),
    "drama": ("romance", "love", "family", "emotional", "tragedy", "relationship"),
    "cinematic": ("movie", "film", "dramatic", "epic", "hollywood"),
    "photorealistic": ("realistic", "photo", "photography", "real", "documentary", "hyperrealistic"),
    "anime": ("manga", "ghibli", "cartoon", "animated", "japanese"),
    "comic": ("comics", "graphic", "novel", "cartoon", "marvel", "superhero"),
    "oil_painting": ("painting", "oil", "classical", "renaissance", "baroque", "painted"),
    "watercolor": ("watercolour", "aquarelle", "pastel", "soft"),
    "dark_fantasy": ("dark", "gothic", "grim", "horror", "eldritch", "macabre"),
    "noir": ("black", "white", "monochrome", "detective", "bw"),
    "pixel_art": ("pixel", "8bit", "16bit", "retro", "game", "sprite"),
    "3d_render": ("3d", "render", "pixar", "cgi", "blender", "octane", "clay"),
}


def words(name: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", name.lower()) if w}


def nearest(name: str, choices: Mapping[str, str], default: str) -> str:
    """The preset in ``choices`` whose name or aliases share the most words with ``name``;
    ``default`` when nothing matches. Exact names win."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in choices:
        return key
    asked = words(name)
    best, best_score = default, 0
    for preset in choices:
        vocab = words(preset) | set(_ALIASES.get(preset, ()))
        score = len(asked & vocab) * 2 + sum(
            1 for a in asked for v in vocab if len(a) > 3 and (a in v or v in a)
        )
        if score > best_score:
            best, best_score = preset, score
    return best
