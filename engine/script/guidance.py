"""Craft notes for the language model: what each story type sounds like and how it is built, how
hard the opening hits (hook intensity) and how fast it moves (pacing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Mapping

from engine.presets import STORY_TYPES
from engine.spec import HookIntensity, Pacing


@dataclass(frozen=True)
class StoryGuide:
    voice: str  # tone and point of view
    shape: str  # the beats, in order
    craft: str  # what makes this type work when spoken aloud
    visuals: str  # what its pictures tend to show


STORY_GUIDES: Final[Mapping[str, StoryGuide]] = {
    "scary_horror": StoryGuide(
        "Close third person or first person, quiet and controlled; dread grows from small wrong details.",
        "ordinary place -> first wrong detail -> rules or warnings -> escalation -> confrontation -> "
        "a chilling final turn that is not fully explained",
        "Use the senses (sounds, cold, smell). Hold back the monster; suggest rather than show. Short "
        "sentences at the scariest moments. End on an unsettling image, never a moral.",
        "dim interiors, long shadows, single light sources, empty corridors, figures half seen",
    ),
    "mystery": StoryGuide(
        "A clear, observant narrator who plays fair with the listener.",
        "the puzzle -> the people involved -> clue one -> a false lead -> the clue that changes "
        "everything -> the reveal and how it fits",
        "Plant every clue the reveal needs before the reveal. Name the suspects early. Each scene adds "
        "one fact. The ending explains the how and the why in plain words.",
        "rooms full of telling objects, close-ups of clues, lamplight, rain on windows, faces in thought",
    ),
    "true_crime": StoryGuide(
        "Measured documentary narration; factual-sounding, respectful of victims, no gore.",
        "the place and the day it happened -> the people -> the discovery -> the investigation -> "
        "the break in the case -> what happened after",
        "Use a timeline with dates and times, evidence and investigators. Never glamorise the crime. "
        "Keep speculation labelled as speculation.",
        "small towns, police tape at a distance, evidence on a desk, empty roads, archival-feeling rooms",
    ),
    "urban_legend": StoryGuide(
        "A storyteller retelling what people say; 'they say', 'the story goes'.",
        "where the legend lives -> what people say -> the rule you must not break -> the one who broke "
        "it -> what happened to them -> the legend today, and an invitation to doubt or believe",
        "Make the rule simple and memorable. Keep details that feel local. Leave room for doubt.",
        "roadsides at night, old bridges, abandoned buildings, small-town streets, woods at dusk",
    ),
    "sci_fi": StoryGuide(
        "Grounded and curious; the future described through people who live in it.",
        "a world with one big change -> a person it affects -> the problem the change creates -> "
        "attempts and consequences -> the turning point -> what it means for everyone",
        "Explain one speculative idea clearly and follow its consequences. Use concrete technology "
        "details, not jargon. Keep the human stakes in front.",
        "spacecraft interiors, future cities, labs, alien landscapes, screens glowing on faces",
    ),
    "fantasy": StoryGuide(
        "Warm, vivid storyteller voice with a sense of wonder.",
        "the hero's ordinary world -> the call to a quest -> allies and the first trial -> the dark "
        "middle -> the price paid for victory -> the changed world",
        "Magic has rules and a cost. Name places and objects. Each scene moves the quest forward.",
        "ancient forests, castles, mountain passes, glowing artefacts, creatures, golden or moonlit skies",
    ),
    "history": StoryGuide(
        "A documentary narrator: vivid, accurate-sounding, anchored in time and place.",
        "the world before -> the people involved -> rising pressure -> the turning point -> the "
        "aftermath -> the legacy that reaches us today",
        "Give dates, places and concrete details of daily life. Explain why it mattered. Avoid "
        "inventing precise statistics.",
        "period streets, costumes, maps on tables, battlefields at a distance, candlelit rooms",
    ),
    "motivational": StoryGuide(
        "Direct and warm, spoken to the viewer as 'you'.",
        "a struggle the viewer knows -> why it is hard -> a story or example of someone who pushed "
        "through -> the lesson -> a clear step to take today",
        "Concrete examples over slogans. Build energy scene by scene. End with one action the viewer "
        "can take now.",
        "sunrise runs, mountain summits, people working late, hands at work, open roads",
    ),
    "fun_facts": StoryGuide(
        "Bright and brisk, like a friend who cannot wait to tell you the next thing.",
        "a surprising opener -> fact after fact, each topping the last -> the most surprising fact -> "
        "a quick wrap-up",
        "One fact per beat, each with a 'why' or a vivid comparison. Vary sentence openings. No lists "
        "read aloud as lists.",
        "the subject of each fact shown clearly, close-ups, bright daylight, clean compositions",
    ),
    "educational": StoryGuide(
        "A patient teacher; clear, friendly, step by step.",
        "the question -> what you need to know first -> the core idea -> an example -> a common "
        "mistake -> a short recap",
        "Define terms before using them. One idea per scene, each building on the last. Use everyday "
        "comparisons.",
        "diagram-like scenes described as real objects, workshops, nature, labs, hands demonstrating",
    ),
    "bedtime": StoryGuide(
        "Soft, gentle and slow; safe and cosy, nothing frightening.",
        "a cosy beginning -> a small wish or adventure -> gentle helpers -> a little problem solved "
        "kindly -> winding down -> sleep",
        "Long, flowing sentences, soothing repetition, calm sounds. The last scene slows to rest.",
        "moonlit bedrooms, soft lamps, friendly animals, meadows at dusk, starry skies",
    ),
    "comedy": StoryGuide(
        "Playful, with timing; the narrator enjoys the chaos.",
        "a normal plan -> a small mistake -> the fix that makes it worse -> escalating mishaps -> the "
        "peak of the disaster -> a punchline that calls back to the start",
        "Set up jokes before paying them off. Use callbacks and the rule of three. Keep it kind.",
        "expressive faces, messy kitchens and offices, pets causing trouble, bright everyday settings",
    ),
    "drama": StoryGuide(
        "Intimate and honest; feelings shown through actions and words.",
        "people and what they want -> the conflict between them -> pressure builds -> the moment of "
        "truth -> the choice -> what it costs and what it heals",
        "Give each person a clear want. Let the conflict come from the people, not accidents. The "
        "resolution is a choice someone makes.",
        "kitchens, hospital corridors, rain on car windows, faces in close-up, family homes at evening",
    ),
}

HOOKS: Final[Mapping[HookIntensity, str]] = {
    HookIntensity.LOW: "Open calmly: set the scene and invite the listener in; no shock, no question.",
    HookIntensity.MEDIUM: (
        "Open with an intriguing question or a curious detail that makes the listener want the answer."
    ),
    HookIntensity.HIGH: (
        "Open in the middle of the action or with a startling statement in the first "
        "sentence; promise a payoff."
    ),
    HookIntensity.EXTREME: (
        "Open with the most shocking, urgent line of the whole story in the first five "
        "words, then a cliffhanger promise; no slow introduction at all."
    ),
}

PACING: Final[Mapping[Pacing, str]] = {
    Pacing.SLOW: (
        "Slow pacing: long flowing sentences (about 18-25 words), rich description, one event per scene."
    ),
    Pacing.MODERATE: "Moderate pacing: medium sentences (about 12-18 words), one or two events per scene.",
    Pacing.DYNAMIC: (
        "Dynamic pacing: vary sentence length, mixing short punchy lines with longer ones; two "
        "events per scene."
    ),
    Pacing.FAST: (
        "Fast pacing: short sentences (about 5-10 words), something new happens in every "
        "sentence, two or three events per scene."
    ),
}


def guide_for(story_type: str) -> StoryGuide:
    """The guide for ``story_type``; an unknown name gets the mystery guide (the edge already maps
    names to the nearest preset)."""
    return STORY_GUIDES.get(story_type, STORY_GUIDES["mystery"])


def missing_guides() -> tuple[str, ...]:
    """Story types the presets offer that have no guide (an empty tuple when complete)."""
    return tuple(k for k in STORY_TYPES if k not in STORY_GUIDES)
