"""A storyboard's work, done in a worker process: the script and the pictures before the render,
one scene's picture or narration again. Knows nothing of HTTP or the database: each operation
gets the storyboard's spec (its scenes are ``spec.script``) and folder, and returns what changed.

Folder layout (``data/storyboards/<id>/``):

  work/             the images stage's job folder (images/scene_NN.png + key sidecars, pools.json)
  pool/images/      every picture made for the storyboard, named by its content key (+ sidecar)
  pool/audio/       every narration its renders made, by key (renders publish here)
  manual/           the creator's own pictures for scenes (copied in, so uploads may be swept)
  thumbs/           small JPEGs of pooled pictures, made on first request

Every picture and voice is made by the same code and keyed the same way as in a render, and the
scenes are always read through the own-script writer (as a render reads them), so a render of
the storyboard adopts every picture and voice whose key did not change (engine/artifacts.py)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Final, Mapping

from engine import artifacts
from engine.contracts import Script
from engine.errors import BadInput, ModelFailed
from engine.images.prompts import scene_seed
from engine.pipeline import Backends
from engine.progress import StageProgress
from engine.script.own import OwnScriptWriter
from engine.spec import Character, JobSpec, OwnScript, ScriptScene

WORK: Final = "work"
POOL: Final = "pool"
MANUAL: Final = "manual"
THUMBS: Final = "thumbs"
#: report(percent of the operation 0-100, substatus)
Report = Callable[[float, str], None]
Note = Callable[[str], None]


@dataclass(frozen=True)
class SceneImage:
    """The picture a scene has now (its key names ``pool/images/<key>.png``)."""

    key: str
    source: str  # sdxl | draft | manual | stock
    seed: int | None
    prompt: str  # the scene's image_prompt it was made for
    #: the cast's portraits it shows or is conditioned on: character name -> portrait digest
    portraits: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "source": self.source, "seed": self.seed, "prompt": self.prompt,
                "portraits": dict(self.portraits)}


def pool_of(folder: Path) -> Path:
    return Path(folder) / POOL


def thumbnail_of(folder: Path, key: str) -> Path:
    """The thumbnail of pooled picture ``key`` (``thumbs/<key>.jpg``), made now if it is missing."""
    small = Path(folder) / THUMBS / f"{key}.jpg"
    if not small.is_file():
        thumbnail(artifacts.pooled(pool_of(folder), "images", key), small)
    return small


def with_scenes(spec: JobSpec, scenes: tuple[ScriptScene, ...], title: str) -> JobSpec:
    """``spec`` with these scenes as its script (and as many scenes)."""
    return replace(spec, script=OwnScript(scenes, title), num_scenes=len(scenes))


def read_script(spec: JobSpec) -> Script:
    """The storyboard's scenes as a render reads them (normalised narration, prompts as written,
    the characters each prompt names)."""
    return OwnScriptWriter().write(spec, progress=StageProgress("script"))


def _stage(name: str, lo: float, hi: float, report: Report, note: Note,
           cancel: threading.Event) -> StageProgress:
    """A stage's progress mapped onto [lo, hi] of the storyboard's operation."""
    from engine.progress import STAGE_RANGES

    a, b = STAGE_RANGES[name]

    def sink(stage: str, percent: float, message: str) -> None:
        report(lo + (hi - lo) * (percent - a) / (b - a), message)

    return StageProgress(name, sink, note, cancel)


def _paint(spec: JobSpec, folder: Path, backends: Backends, progress: StageProgress,
           only: frozenset[int] | None) -> dict[int, SceneImage]:
    """Pictures for the scenes ``only`` (default all) through the images stage, filed in the pool."""
    work = Path(folder) / WORK
    work.mkdir(parents=True, exist_ok=True)
    artifacts.set_pools(work, [pool_of(folder)])
    script = read_script(spec)
    images = getattr(backends.images, "images")
    if only is None:
        paths = images(script, spec, work, progress=progress)
    else:
        paths = images(script, spec, work, progress=progress, only=only)
    artifacts.publish_cast(work, pool_of(folder))  # the cast's portraits, for the render
    out: dict[int, SceneImage] = {}
    for i, path in enumerate(paths):
        if only is not None and i not in only:
            continue
        picture = file_picture(path, script.scenes[i].image_prompt, pool_of(folder))
        if picture is None:
            raise ModelFailed(f"the picture of scene {i + 1} was not made")
        out[i] = picture
    return out


def file_picture(path: Path, prompt: str, pool: Path) -> SceneImage | None:
    """A scene's picture made in a job folder (the images stage's ``scene_NN.png`` and its key
    sidecar), filed in ``pool`` under its key (kept if it is there already), as the scene's
    picture record: ``prompt`` is the scene's image_prompt it was made for. None when the file
    does not carry its key (not made, or not intact)."""
    key = artifacts.publish_file(path, "images", pool)
    if key is None:
        return None
    meta = artifacts.read_sidecar(path) or {}
    seed = meta.get("seed")
    faces = meta.get("portraits")
    return SceneImage(key, str(meta.get("source") or "draft"), int(seed) if seed is not None else None,
                      prompt, {str(k): str(v) for k, v in faces.items()} if isinstance(faces, dict) else {})


def draft(spec: JobSpec, folder: Path, backends: Backends, *, images: bool, report: Report, note: Note,
          cancel: threading.Event) -> dict[str, Any]:
    """The script (the creator's own, or the script writer's) and, unless ``images`` is False, a
    picture per scene. Returns the storyboard's spec (its scenes, seeds and characters) and the
    pictures."""
    split = 50.0 if images else 100.0
    progress = _stage("script", 0.0, split, report, note, cancel)
    progress.check_cancelled()
    if spec.script is not None:
        written = OwnScriptWriter().write(spec, progress=progress)
    else:
        progress(0.0, "Writing the script")
        note(f"Script: {backends.script.name}")
        wpm = backends.narration.words_per_minute(spec)
        written = backends.script.write(spec, progress=progress, words_per_minute=wpm)
        if not written.scenes:
            raise ModelFailed("The script writer returned no scenes; try again.")
    own = spec.script.scenes if spec.script is not None else ()
    scenes = tuple(
        ScriptScene(s.narration, s.image_prompt, seed=_seed(own[i].seed if i < len(own) else None, spec, i))
        for i, s in enumerate(written.scenes))
    board = replace(with_scenes(spec, scenes, written.title),
                    characters=_with_images(written.characters, spec))
    progress(1.0, f"Script ready: {len(scenes)} scenes, {written.length_text(spec.language)}")
    pictures: dict[int, SceneImage] = {}
    if images:
        pictures = _paint(board, folder, backends, _stage("images", split, 100.0, report, note, cancel), None)
    report(100.0, "Storyboard ready")
    return {"spec": board.to_dict(), "images": {str(i): p.to_dict() for i, p in pictures.items()}}


def paint(spec: JobSpec, folder: Path, backends: Backends, index: int, *, report: Report, note: Note,
          cancel: threading.Event) -> dict[str, Any]:
    """Scene ``index``'s picture (its prompt and seed as ``spec.script`` says)."""
    _check_index(spec, index)
    pictures = _paint(spec, folder, backends, _stage("images", 0.0, 100.0, report, note, cancel),
                      frozenset({index}))
    report(100.0, f"Scene {index + 1}'s picture ready")
    return {"image": pictures[index].to_dict()}


def rewrite(spec: JobSpec, folder: Path, backends: Backends, index: int, seed: int, *,
            hint: str | None = None,
            report: Report, note: Note, cancel: threading.Event) -> dict[str, Any]:
    """A new narration (and image prompt) for scene ``index`` alone: the script backend rewrites
    that scene in the story's context (title, characters, the scenes around it, the language,
    type and pacing) within the scene's share of the word budget, following the creator's
    ``hint`` where it can; ``seed`` picks the variant. The other scenes are untouched."""
    _check_index(spec, index)
    progress = _stage("script", 0.0, 100.0, report, note, cancel)
    progress(0.0, f"Rewriting scene {index + 1}")
    script = read_script(spec)
    wpm = backends.narration.words_per_minute(spec)
    scene = backends.script.rewrite_scene(script, index, spec, hint=hint, seed=seed, progress=progress,
                                          words_per_minute=wpm)
    if not scene.narration.strip():
        raise ModelFailed(f"The script writer returned no narration for scene {index + 1}; try again.")
    note(f"Scene {index + 1} rewritten by {backends.script.name}")
    progress(1.0, f"Scene {index + 1} rewritten")
    return {"narration": scene.narration, "image_prompt": scene.image_prompt}


def _with_images(written: tuple[Character, ...], spec: JobSpec) -> tuple[Character, ...]:
    """The script's characters, each keeping the portrait (``image``) the request gave it (the
    writers return names and descriptions only)."""
    images = {" ".join(c.name.split()).lower(): c.image for c in spec.characters if c.image}
    return tuple(replace(c, image=c.image or images.get(" ".join(c.name.split()).lower())) for c in written)


def _seed(given: int | None, spec: JobSpec, index: int) -> int:
    return given if given is not None else scene_seed(spec.seed, index)


def _check_index(spec: JobSpec, index: int) -> None:
    if spec.script is None or not 0 <= index < len(spec.script.scenes):
        raise BadInput(f"the storyboard has no scene {index + 1}")


def thumbnail(picture: Path, dest: Path, width: int = 320) -> Path:
    """A small JPEG of a pooled picture (made once)."""
    from PIL import Image

    from engine import tempnames

    with Image.open(picture) as im:
        small = im.convert("RGB")
    small.thumbnail((width, width))
    with tempnames.atomic_path(dest) as tmp, open(tmp, "wb") as fh:
        small.save(fh, format="JPEG", quality=80)
    return dest
