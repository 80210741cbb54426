"""Image prompts the painter can use: visual content only (the image stage adds the style), never
a request for text in the picture, and each present character's sheet description carried in, in
the same ``Name (description)`` form in every scene so the character keeps one look."""

from __future__ import annotations

import re
from typing import Final, Iterable

from engine.script.names import name_pattern
from engine.spec import Character

#: Style and quality words: the image stage owns the look, so the script never sets it.
_STYLE: Final = re.compile(
    r"\b(?:in the style of [^,.;]+|style of [^,.;]+|trending on \w+|artstation|"
    r"unreal engine|octane render|octane|masterpiece|best quality|high quality|ultra[- ]detailed|"
    r"highly detailed|hyper[- ]?detailed|hyper[- ]?realistic|photo[- ]?realistic|photorealism|"
    r"cinematic|anime|manga|watercolou?r|oil painting|pixel art|3d render|cgi|digital art|"
    r"digital painting|concept art|illustration|film still|movie still|8k|4k|uhd|hdr|"
    r"sharp focus|award[- ]winning|studio ghibli|pixar|by greg rutkowski)\b",
    re.IGNORECASE,
)
#: A clause that asks for lettering in the image is dropped whole.
_TEXT_CLAUSE: Final = re.compile(
    r"\b(?:text|texts|captions?|subtitles?|title card|lettering|typography|logos?|watermarks?|signature|"
    r"inscriptions?|inscribed|written|writing on|the words?|with the"
    r" word|letters|labelled|labeled|headlines?|"
    r"(?:sign|banner|poster|note|page|screen)s? (?:that |which )?(?:reads?|says|saying))\b",
    re.IGNORECASE,
)
_QUOTED: Final = re.compile(r"\"[^\"]*\"|'[^'\s][^']*[^'\s]'")
_CLAUSE_SPLIT: Final = re.compile(r"\s*[,;]\s*|(?<=[a-z]{3})\.\s+")
_SPACES: Final = re.compile(r"\s+")


def visual_prompt(prompt: str) -> str:
    """``prompt`` without style words, quoted text or clauses that ask for lettering."""
    t = _QUOTED.sub(" ", prompt.replace("\n", " "))
    t = re.sub(r"[*#_`\[\]{}<>|]+", " ", t)
    clauses = []
    for clause in _CLAUSE_SPLIT.split(t):
        if _TEXT_CLAUSE.search(clause):
            continue
        clause = _STYLE.sub(" ", clause)
        clause = _SPACES.sub(" ", clause).strip(" .,:;-")
        clause = re.sub(r"^(?:and|with|in|of)\s*$", "", clause, flags=re.IGNORECASE)
        if clause:
            clauses.append(clause)
    return ", ".join(clauses)


def look(character: Character) -> str:
    """``Name (description)``, the form the image stage also uses; just the name without one."""
    desc = " ".join(character.description.split()).strip(" ,.;")
    return f"{character.name} ({desc})" if desc else character.name


def with_looks(prompt: str, present: Iterable[Character]) -> str:
    """Carry each present character's description into ``prompt``: where the prompt names the
    character, the name becomes ``Name (description)``; otherwise ``Name (description)`` is
    appended. A description already in the prompt is not repeated."""
    out = prompt.strip()
    for character in present:
        desc = " ".join(character.description.split()).strip(" ,.;")
        if not desc:
            if not name_pattern(character.name).search(out):
                out = f"{out}, {character.name}" if out else character.name
            continue
        if desc.lower() in out.lower():
            continue
        pattern = name_pattern(character.name)
        if pattern.search(out):
            out = pattern.sub(lambda m: look(character), out, count=1)
        else:
            out = f"{out}, {look(character)}" if out else look(character)
    return out
