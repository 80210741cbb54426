"""Script text tools: speakable narration, word budgets and trimming, visual prompts, the
character sheet and the model-answer validation. No model needed."""

from __future__ import annotations

import json

import pytest

from engine.script.finish import DraftScene, finish, merge_sheet
from engine.script.guidance import HOOKS, PACING, STORY_GUIDES, missing_guides
from engine.script.length import MIN_SCENE_WORDS, trim_to_budget, word_budget
from engine.script.llama import plan_calls
from engine.script.llama_schema import plan_schema, read_more, read_outline, read_scenes
from engine.script.names import mentions, short_name
from engine.script.speakable import sentences, speakable, trim_to_words, word_count
from engine.script.visuals import look, visual_prompt, with_looks
from engine.spec import Character, HookIntensity, Pacing


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("## Scene 1\n**The door** opened. [pause] She *froze*.", "The door opened. She froze."),
        ("Narrator: It was late (whispers) and cold 😱🔥.", "It was late and cold."),
        ("- First point\n- Second point", "First point Second point."),
        ("SCENE 2 - EXT. FOREST\nThe wind rose.", "The wind rose."),
        ("Visit [our page](https://example.com) now", "Visit our page now."),
        ('"The end."', "The end."),
        ("Tom & Jerry ran __fast__ <b>home</b>!", "Tom and Jerry ran fast home!"),
        ("He waited (and he knew it) for hours", "He waited (and he knew it) for hours."),
        ("(SOUND OF THUNDER) The sky split.", "The sky split."),
        ("```\nPlain words\n```", "Plain words."),
    ],
)
def test_speakable_strips_markup_and_directions(raw: str, expected: str) -> None:
    assert speakable(raw) == expected


def test_speakable_is_stable_and_empty_for_noise() -> None:
    text = "It rained. Then it stopped!"
    assert speakable(speakable(text)) == speakable(text) == text
    assert speakable("### \n[music] 🎵 ***") == ""


def test_sentences_and_trim_to_words() -> None:
    text = "One two three. Four five six seven! Eight nine?"
    assert sentences(text) == ["One two three.", "Four five six seven!", "Eight nine?"]
    assert trim_to_words(text, 7) == "One two three. Four five six seven!"
    assert trim_to_words(text, 5) == "One two three."
    assert trim_to_words(text, 6, exact=True) == "One two three. Four five six."
    assert trim_to_words(text, 5, exact=True) == "One two three."  # two words are not worth a fragment
    assert trim_to_words("A very long sentence without any end at all", 4) == "A very long sentence."


@pytest.mark.parametrize(
    ("scenes", "minutes", "wpm"), [(1, 0.25, 150), (6, 1, 150), (10, 5, 160), (60, 30, 150), (7, 2.3, 135)]
)
def test_word_budget_is_balanced(scenes: int, minutes: float, wpm: float) -> None:
    budget = word_budget(scenes, minutes, wpm)
    assert budget.target == round(minutes * wpm)
    assert sum(budget.scene_targets) == budget.target
    assert max(budget.scene_targets) - min(budget.scene_targets) <= 1
    assert (
        budget.accepts(budget.target)
        and not budget.accepts(budget.high + 1)
        and not budget.accepts(budget.low - 1)
    )


def test_word_budget_floors_many_scenes_in_a_short_video() -> None:
    budget = word_budget(60, 0.25)
    assert budget.floored and budget.target == 60 * MIN_SCENE_WORDS
    with pytest.raises(ValueError):
        word_budget(0, 1.0)


def test_trim_to_budget_cuts_at_sentence_boundaries_into_range() -> None:
    budget = word_budget(2, 0.2)  # 30 words
    long = " ".join(f"Sentence number {i} has exactly six words." for i in range(8))  # 48 words... per scene
    out = trim_to_budget([long, "Short and sweet here."], budget)
    total = sum(word_count(t) for t in out)
    assert budget.accepts(total)
    assert out[1] == "Short and sweet here."
    assert all(t.endswith(".") for t in out)
    in_range = ["word " * 15, "word " * 15]
    assert trim_to_budget(in_range, budget) == in_range


def test_trim_to_budget_cuts_inside_one_giant_sentence() -> None:
    budget = word_budget(1, 0.1)  # 15 words
    out = trim_to_budget(["and " * 60 + "end."], budget)
    assert budget.accepts(word_count(out[0])) and out[0].endswith(".")


def test_visual_prompt_drops_style_and_text() -> None:
    raw = (
        "Wide shot of a keeper on a cliff, cinematic, 8k, masterpiece, in the style of Turner, "
        'a sign that reads "KEEP OUT", golden hour light, text overlay'
    )
    assert visual_prompt(raw) == "Wide shot of a keeper on a cliff, golden hour light"
    assert visual_prompt("Dr. Mara Quinn in a lab. Soft light") == "Dr. Mara Quinn in a lab, Soft light"


def test_with_looks_carries_descriptions_once() -> None:
    mara = Character("Detective Mara Quinn", "a tall woman with short grey hair and a navy coat")
    ben = Character("Ben", "a boy of ten in a red hoodie")
    prompt = with_looks("Close-up of Mara at the door", [mara, ben])
    assert (
        prompt
        == "Close-up of Detective Mara Quinn (a tall woman with short grey hair and a navy coat) at the"
        " door, "
        "Ben (a boy of ten in a red hoodie)"
    )
    assert with_looks(prompt, [mara, ben]) == prompt
    assert look(Character("Nobody")) == "Nobody"


def test_names_match_distinctive_parts() -> None:
    mara = Character("Detective Mara Quinn", "")
    assert mentions("Quinn knocked.", mara) and mentions("Mara knocked.", mara)
    assert not mentions("The detective knocked.", mara)
    assert short_name("Dr. Lena Park") == "Lena" and short_name("Al") == "Al"


def test_merge_sheet_keeps_requested_names_and_traits() -> None:
    requested = (Character("Mara", "a tall woman in a navy coat"), Character("Ben", ""))
    proposed = [
        Character("mara", "short hair, cinematic"),
        Character("Ben", "a boy in a red hoodie, 4k"),
        Character("The Keeper", "an old man with a white beard"),
    ]
    sheet = merge_sheet(requested, proposed)
    assert sheet == (
        Character("Mara", "a tall woman in a navy coat"),
        Character("Ben", "a boy in a red hoodie"),
        Character("The Keeper", "an old man with a white beard"),
    )


def test_finish_cleans_and_links_characters() -> None:
    sheet = (Character("Mara", "a tall woman in a navy coat"), Character("Ben", "a boy in a red hoodie"))
    script = finish(
        "**The Light**",
        sheet,
        [
            DraftScene("# One\nMara climbed the stairs. [beat]", "Mara on a spiral staircase, 4k", ()),
            DraftScene("The lamp went out.", "A dark lamp room", ("Ben",)),
        ],
        "test",
    )
    assert script.title == "The Light"
    assert [s.narration for s in script.scenes] == ["Mara climbed the stairs.", "The lamp went out."]
    assert script.scenes[0].characters == ("Mara",)
    assert "Mara (a tall woman in a navy coat)" in script.scenes[0].image_prompt
    assert "4k" not in script.scenes[0].image_prompt
    assert script.scenes[1].image_prompt.endswith("Ben (a boy in a red hoodie)")


def test_guidance_covers_every_story_type() -> None:
    assert missing_guides() == ()
    assert len(STORY_GUIDES) >= 13
    assert set(HOOKS) == set(HookIntensity) and set(PACING) == set(Pacing)


def test_read_scenes_validates_shape_and_length() -> None:
    good = {
        "title": "T",
        "characters": [{"name": "Mara", "description": "a tall woman"}],
        "scenes": [
            {"narration": "Mara walked " + "on " * 18, "characters": ["Mara"], "image_prompt": "a cliff"},
            {"narration": "word " * 20, "characters": [], "image_prompt": "a lamp room"},
        ],
    }
    plan, problems = read_scenes(json.dumps(good), [20, 20])
    assert plan is not None and problems == [] and len(plan.scenes) == 2
    _, problems = read_scenes('{"title": "cut off', [20, 20])
    assert problems and "not complete JSON" in problems[0].message and problems[0].fatal
    _, problems = read_scenes(json.dumps({**good, "scenes": good["scenes"][:1]}), [20, 20])
    assert "exactly 2" in problems[0].message
    short = {**good, "scenes": [{"narration": "Too short.", "characters": [], "image_prompt": "x y"}] * 2}
    _, problems = read_scenes(json.dumps(short), [20, 20])
    assert any("needs about 20" in p.message and p.fatal for p in problems)
    missing = {
        **good,
        "scenes": [{"narration": "word " * 25, "characters": [], "image_prompt": "a cliff"}] * 2,
    }
    _, problems = read_scenes(json.dumps(missing), [25, 25], requested=[Character("Ben")])
    assert [p.fatal for p in problems] == [False] and "Ben" in problems[0].message


def test_read_outline_and_more() -> None:
    outline = {"title": "T", "characters": [], "scenes": [{"summary": "It starts.", "characters": []}] * 3}
    plan, problems = read_outline(json.dumps(outline), 3)
    assert plan is not None and not problems and plan.summaries == ("It starts.",) * 3
    texts, problems = read_more('{"continuations": [{"text": "More words here"}]}', [3])
    assert texts == ["More words here."] and not problems


def test_plan_schema_pins_scene_count_and_word_ranges() -> None:
    schema = plan_schema([10, 30], requested=1)
    scenes = schema["properties"]["scenes"]
    assert scenes["minItems"] == scenes["maxItems"] == 2
    assert "{27,40}" in scenes["prefixItems"][1]["properties"]["narration"]["pattern"]


def test_plan_calls_splits_long_scripts_into_parts_that_fit() -> None:
    short = plan_calls(word_budget(6, 1))
    assert short.single and short.batches == ()
    long = plan_calls(word_budget(60, 30))
    assert not long.single
    covered = [i for a, b in long.batches for i in range(a, b)]
    assert covered == list(range(60))
    assert all(sum(long.first_words[a:b]) <= 900 for a, b in long.batches)
    assert long.n_ctx <= 32768 and long.expected_tokens > 4500
