"""Style presets, scene prompts (characters, style, CLIP budget) and per-scene seeds."""

from __future__ import annotations

from engine.contracts import Scene, Script
from engine.images.prompts import TOKEN_BUDGET, build_prompt, estimate_tokens, scene_characters, scene_seed
from engine.images.styles import STYLES, style_for
from engine.presets import IMAGE_STYLES
from engine.spec import Character

MARA = Character("Mara", "a tall woman with short silver hair, green raincoat, scar on left cheek")
TOM = Character("Tom", "a small boy with red curly hair and a yellow scarf")
SCRIPT = Script(
    title="The Lighthouse",
    characters=(MARA, TOM),
    scenes=(
        Scene("Mara climbed the stairs.", "a spiral staircase inside an old lighthouse at night", ("Mara",)),
        Scene("Tom waited below.", "a stormy beach, Tom holding a lantern", ()),
        Scene("The lamp went dark.", "the lighthouse lamp room, broken glass", ()),
        Scene("They met again.", "two figures on the rocks at dawn", ("mara", "Tom")),
    ),
)


def test_every_image_style_has_suffix_and_negative() -> None:
    assert set(STYLES) == set(IMAGE_STYLES)
    for name, preset in STYLES.items():
        assert preset.name == name
        assert len(preset.suffix.split()) >= 5
        assert "watermark" in preset.negative and preset.avoid in preset.negative
    suffixes = [p.suffix for p in STYLES.values()]
    assert len(set(suffixes)) == len(suffixes)


def test_unknown_style_maps_to_nearest() -> None:
    assert style_for("noir").name == "noir"
    assert style_for("black and white noir").name == "noir"
    assert style_for("watercolour").name == "watercolor"
    assert style_for("something else entirely").name == "cinematic"


def test_prompt_has_scene_characters_and_style() -> None:
    style = STYLES["oil_painting"]
    p0 = build_prompt(SCRIPT.scenes[0], 0, SCRIPT, style, job_seed=42)
    assert p0.prompt.startswith("a spiral staircase inside an old lighthouse at night")
    assert "Mara (a tall woman with short silver hair" in p0.prompt
    assert "Tom" not in p0.prompt
    assert p0.prompt.endswith(style.suffix)
    assert p0.negative == style.negative
    # named in the image prompt only -> still described
    p1 = build_prompt(SCRIPT.scenes[1], 1, SCRIPT, style, job_seed=42)
    assert "Tom (a small boy with red curly hair" in p1.prompt and "Mara" not in p1.prompt
    p2 = build_prompt(SCRIPT.scenes[2], 2, SCRIPT, style, job_seed=42)
    assert "Mara" not in p2.prompt and "Tom" not in p2.prompt


def test_character_description_is_identical_across_scenes() -> None:
    style = STYLES["anime"]
    prompts = [build_prompt(s, i, SCRIPT, style, 7).prompt for i, s in enumerate(SCRIPT.scenes)]
    mara = "Mara (a tall woman with short silver hair, green raincoat, scar on left cheek)"
    assert mara in prompts[0] and mara in prompts[3]
    assert [c.name for c in scene_characters(SCRIPT.scenes[3], SCRIPT.characters)] == ["Mara", "Tom"]


def test_request_characters_fill_in_when_script_lacks_them() -> None:
    script = Script("t", (Scene("n", "a hut", ("Zed",)),))
    p = build_prompt(
        script.scenes[0], 0, script, STYLES["comic"], 1, extra_characters=(Character("Zed", "a robot"),)
    )
    assert "Zed (a robot)" in p.prompt


def test_long_scene_text_is_trimmed_to_fit_clip() -> None:
    long_scene = Scene("n", " ".join(f"word{i}" for i in range(200)) + " FINALWORD", ("Mara", "Tom"))
    p = build_prompt(long_scene, 0, SCRIPT, STYLES["cinematic"], 1)
    assert estimate_tokens(p.prompt) <= TOKEN_BUDGET + 2
    assert "FINALWORD" not in p.prompt and p.prompt.startswith("word0 word1")
    assert STYLES["cinematic"].suffix in p.prompt
    assert "Mara (" in p.prompt and "Tom (" in p.prompt


def test_empty_image_prompt_falls_back_to_narration() -> None:
    scene = Scene("A fox crossed the frozen river.", "", ())
    p = build_prompt(scene, 0, Script("t", (scene,)), STYLES["watercolor"], 3)
    assert p.prompt.startswith("A fox crossed the frozen river.")


def test_scene_seeds_are_deterministic_and_distinct() -> None:
    seeds = [scene_seed(1234, i) for i in range(50)]
    assert seeds == [scene_seed(1234, i) for i in range(50)]
    assert len(set(seeds)) == 50
    assert all(0 <= s < 2**31 for s in seeds)
    assert scene_seed(1235, 0) != seeds[0]
    assert build_prompt(SCRIPT.scenes[1], 1, SCRIPT, STYLES["noir"], 1234).seed == seeds[1]


def test_description_already_in_the_image_prompt_appears_once() -> None:
    described = "Mara (a tall woman with short silver hair, green raincoat, scar on left cheek)"
    scene = Scene("Mara ran.", f"wide shot of {described} running along a pier at night", ("Mara",))
    p = build_prompt(scene, 0, SCRIPT, STYLES["cinematic"], job_seed=1)
    assert p.prompt.count("short silver hair") == 1
    assert p.prompt.startswith("wide shot of Mara running along a pier at night")
