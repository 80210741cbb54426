"""A storyboard adopts what its finished render made: each scene the render painted (or reused)
shows that picture afterwards, so a scene repainted by the render (its prompt or seed edited, a
portrait it shows replaced) no longer reads as stale and its preview is the render's picture.

Only scenes whose picture inputs did not change since the render was queued adopt it: the same
image prompt and characters as read (engine.storyboard.read_script, as the render read them), the
same seed and creator's picture, the same definitions of the characters it shows, the same style
and aspect. A scene is matched by those inputs, not by its place, so a scene moved, inserted or
edited while the render ran keeps its own picture (and stays stale), and a render that finishes
after a later one cannot undo that one's pictures for scenes changed in between.

``render_pictures`` is the file work (off the store's lock, in the lane's thread): the render's
pictures filed in the storyboard's pool under their keys (after_render has published them already;
then nothing is copied), each with its thumbnail. ``adopt`` is the change, applied in one store
transaction to the storyboard as it is then (StoryboardStore.render_done)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from engine.contracts import Script
from engine.errors import BadInput
from engine.images.files import IMAGES_DIR, scene_path
from engine.spec import JobSpec
from engine.storyboard import SceneImage, file_picture, pool_of, read_script, thumbnail_of
from server.storyboards import DETAIL_LINES, Board

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Made:
    """The picture a render used for one of its scenes, and what that picture follows."""

    scene: int  # 1-based, in the render
    inputs: tuple[Any, ...]
    picture: SceneImage


def _inputs(spec: JobSpec, script: Script, index: int) -> tuple[Any, ...]:
    """What scene ``index``'s picture follows that the storyboard can change."""
    assert spec.script is not None
    scene, read = spec.script.scenes[index], script.scenes[index]
    cast = {c.name: c for c in spec.characters}
    seed = scene.seed if scene.seed is not None else ("at", index, spec.seed)
    return (read.image_prompt, tuple((name, cast.get(name)) for name in read.characters), seed, scene.image,
            spec.image_style, spec.aspect_ratio)


def render_pictures(spec: JobSpec, workdir: Path, folder: Path) -> tuple[Made, ...]:
    """The pictures of the render of ``spec`` in ``workdir``, filed in the storyboard ``folder``'s
    pool with a thumbnail. A scene whose picture is missing or not intact is left out. Never raises
    for a file: what cannot be filed is logged and left out."""
    if spec.script is None:
        return ()
    try:
        script = read_script(spec)
    except BadInput as exc:
        log.warning("storyboard %s: the render's scenes could not be read (%s)", folder.name, exc)
        return ()
    made: list[Made] = []
    for i, read in enumerate(script.scenes):
        path = scene_path(Path(workdir) / IMAGES_DIR, i)
        try:
            picture = file_picture(path, read.image_prompt, pool_of(folder))
        except OSError as exc:
            log.warning("storyboard %s: scene %d's rendered picture not kept (%s)", folder.name, i + 1, exc)
            continue
        if picture is None:
            continue
        try:
            thumbnail_of(folder, picture.key)
        except (OSError, ValueError) as exc:  # made again on its first request
            log.warning("storyboard %s: no thumbnail of scene %d (%s)", folder.name, i + 1, exc)
        made.append(Made(i + 1, _inputs(spec, script, i), picture))
    return tuple(made)


def _scenes(numbers: list[int]) -> str:
    return f"scene{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))}"


def adopt(board: Board, job_id: str, made: tuple[Made, ...]) -> Board:
    """``board`` with every scene whose picture inputs match a scene of the render showing the
    render's picture, and a line in its details saying so."""
    if board.state != "ready" or board.spec.script is None or not board.scenes:
        return board
    script = read_script(board.spec)
    by_inputs = {m.inputs: m for m in made}
    images: dict[str, Mapping[str, Any]] = dict(board.images)
    new: list[int] = []
    changed: list[int] = []
    for i, uid in enumerate(board.uids):
        match = by_inputs.get(_inputs(board.spec, script, i))
        if match is None:
            changed.append(i + 1)
            continue
        record = match.picture.to_dict()
        if (images.get(uid) or {}).get("key") != record["key"]:
            new.append(i + 1)
        images[uid] = record
    line = f"Updated from job {job_id}: " + (
        f"{_scenes(new)} now show{'' if len(new) > 1 else 's'} the render's picture" if new
        else "the scenes already showed the render's pictures")
    if changed:
        keep = "keep" if len(changed) > 1 else "keeps"
        line += f"; {_scenes(changed)} changed since it was queued and {keep} their own picture"
    return replace(board, images=images, details=(*board.details, line)[-DETAIL_LINES:])
