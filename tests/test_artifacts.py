"""Artifacts keyed by content: a scene's picture and voice are reused only when the key of what
would make them now matches their sidecar, in the job's own folder or from a pool it names."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

from engine import artifacts
from engine.contracts import Scene, Script
from engine.images.router import ImageRouter
from engine.narration.narrator import CatalogNarrator
from engine.progress import StageProgress
from engine.script.own import OwnScriptWriter, parse_script
from engine.spec import Character, ImageMode, JobSpec, OwnScript, ScriptScene

SIZE = (160, 96)


class Notes:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def progress(self, stage: str = "images") -> StageProgress:
        return StageProgress(stage, sink=lambda *a: None, detail=self.lines.append, cancel=threading.Event())


def three_scenes() -> Script:
    return Script("T", tuple(Scene(f"Scene {i} speaks.", p) for i, p in
                             enumerate(["a dark forest", "a rainy street", "a castle on a cliff"])),
                  (Character("Ada", "a woman in a red coat"),))


def paint(workdir: Path, spec: JobSpec, script: Script | None = None) -> tuple[list[bytes], list[str]]:
    notes = Notes()
    router = ImageRouter(sdxl=None, stock_dir=workdir / "no-stock", allowed_roots=(workdir,), size=SIZE)
    paths = router.images(script or three_scenes(), spec, workdir, progress=notes.progress())
    return [p.read_bytes() for p in paths], notes.lines


def test_images_reused_by_key_only(tmp_path: Path) -> None:
    spec = JobSpec(topic="t", image_mode=ImageMode.AI_ONLY, seed=5)
    first, _ = paint(tmp_path, spec)
    mtimes = [p.stat().st_mtime_ns for p in sorted((tmp_path / "images").glob("scene_*.png"))]
    again, notes = paint(tmp_path, spec)
    assert again == first
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "images").glob("scene_*.png"))] == mtimes
    assert any("Reused the pictures of scene(s) 1, 2, 3" in n for n in notes)
    side = json.loads((tmp_path / "images" / "scene_02.json").read_text())
    assert side["source"] == "draft" and side["key"] and side["bytes"] == len(first[1])

    # a new seed for scene 2 only: scene 2 repainted, the others kept
    own = OwnScript(tuple(ScriptScene(s.narration, s.image_prompt, seed=123 if i == 1 else None)
                          for i, s in enumerate(three_scenes().scenes)))
    changed, _ = paint(tmp_path, replace(spec, script=own))
    assert changed[0] == first[0] and changed[2] == first[2] and changed[1] != first[1]

    # a file that merely exists (no sidecar, or another key) is made again
    (tmp_path / "images" / "scene_03.json").unlink()
    (tmp_path / "images" / "scene_01.png").write_bytes(changed[2])
    remade, notes = paint(tmp_path, replace(spec, script=own))
    assert remade == changed
    assert not any("Reused" in n and "3" in n.split(":")[0] for n in notes)


def test_pool_adoption_and_publish(tmp_path: Path) -> None:
    spec = JobSpec(topic="t", image_mode=ImageMode.AI_ONLY, seed=9)
    a, b, pool = tmp_path / "a", tmp_path / "b", tmp_path / "pool"
    first, _ = paint(a, spec)
    assert artifacts.publish(a, pool) == 3 and artifacts.publish(a, pool) == 0
    b.mkdir()
    artifacts.set_pools(b, [pool])
    again, notes = paint(b, spec)
    assert again == first and any("Reused the pictures of scene(s) 1, 2, 3" in n for n in notes)
    assert artifacts.reused_from(b / "images" / "scene_01.png") == str(pool)
    # a damaged pool file (size differs from its sidecar) is never adopted
    key = artifacts.read_sidecar(a / "images" / "scene_01.png")["key"]  # type: ignore[index]
    artifacts.pooled(pool, "images", key).write_bytes(b"xx")
    c = tmp_path / "c"
    c.mkdir()
    artifacts.set_pools(c, [pool])
    made, notes = paint(c, spec)
    assert made == first and any("scene(s) 2, 3" in n for n in notes)


def test_narration_reuses_unchanged_scenes_from_a_pool(tmp_path: Path) -> None:
    spec = JobSpec(topic="t", voice_id="male_narrator_deep", seed=1)
    narrator = CatalogNarrator({})
    script = Script("T", (Scene("The lamp went out.", "a lamp"), Scene("Nobody moved.", "a room")))
    a, b, pool = tmp_path / "a", tmp_path / "b", tmp_path / "pool"
    notes = Notes()
    first = narrator.narrate(script, spec, a, progress=notes.progress("narration"))
    artifacts.publish(a, pool)
    b.mkdir()
    artifacts.set_pools(b, [pool])
    edited = Script("T", (script.scenes[0], Scene("Then somebody screamed.", "a room")))
    notes = Notes()
    second = narrator.narrate(edited, spec, b, progress=notes.progress("narration"))
    assert second.scenes[0].wav.read_bytes() == first.scenes[0].wav.read_bytes()
    assert second.scenes[1].wav.read_bytes() != first.scenes[1].wav.read_bytes()
    assert [w.text.strip(".,") for w in second.scenes[1].words] == ["Then", "somebody", "screamed"]
    assert any("Reused the narration of scene(s) 1:" in n for n in notes.lines)


def test_own_script_is_the_text_given(tmp_path: Path) -> None:
    text = ("The lighthouse keeper climbed the stairs.\n\n  Sarah  saw the light   go out.\n \n"
            "Nobody ever found the keeper.")
    own = parse_script(text)
    assert [s.narration for s in own.scenes] == [
        "The lighthouse keeper climbed the stairs.", "Sarah saw the light go out.",
        "Nobody ever found the keeper."]
    spec = JobSpec(topic="the vanishing lighthouse", story_type="scary_horror", num_scenes=3, script=own,
                   characters=(Character("Sarah", "brown hair"),))
    script = OwnScriptWriter().write(spec, progress=Notes().progress("script"))
    assert [s.narration for s in script.scenes] == [s.narration for s in own.scenes]
    assert all(s.image_prompt for s in script.scenes)
    assert "Sarah (brown hair)" in script.scenes[1].image_prompt and script.scenes[1].characters == ("Sarah",)
    # the writer's output, given back as a script (a storyboard being rendered), is unchanged
    again = OwnScriptWriter().write(
        replace(spec, script=OwnScript(tuple(ScriptScene(s.narration, s.image_prompt) for s in script.scenes),
                                       script.title)), progress=Notes().progress("script"))
    assert again.scenes == script.scenes and again.title == script.title
    listed = parse_script([{"narration": "One.", "image_prompt": "a red door"}, {"narration": "Two."}])
    assert listed.scenes[0].image_prompt == "a red door" and listed.scenes[1].image_prompt == ""
