"""The changes the storyboard routes make, as functions of the storyboard as it is when the change
is written (StoryboardStore.edit runs them inside one transaction): they raise Conflict (a 409)
when the storyboard drafts, failed, or the scene is being regenerated. Also the creator's own
picture for a scene, made exactly as a render would make it."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from engine.errors import BadInput
from engine.spec import AspectRatio, Character, JobSpec, ScriptScene
from server.schemas import MAX_SEED, RequestInvalid
from server.storyboard_models import NewScene, Regenerate, SceneEdit, StoryboardEdit
from server.storyboards import Board, Conflict, new_uid

Change = Callable[[Board], Board]


def editable(board: Board, field: str, uid: str | None = None) -> None:
    if board.state == "drafting":
        raise Conflict(field, "the storyboard is still being drafted; edit it once it is ready")
    if board.state == "error" or board.spec.script is None:
        raise Conflict(field, f"the storyboard could not be drafted ({board.error}); create it again")
    if uid is None and board.busy:
        raise Conflict(field, "a scene is being regenerated; change the scenes once it is done")
    if uid is not None and uid in board.busy:
        n = board.uids.index(uid) + 1
        raise Conflict(field, f"scene {n} is being regenerated ({board.busy[uid]}); edit it once it is done")


def board_with_scenes(board: Board, scenes: list[ScriptScene], uids: list[str] | None = None,
                      title: str | None = None, characters: tuple[Character, ...] | None = None) -> Board:
    """``board`` with these scenes (and ids, title, characters); pictures of removed scenes dropped."""
    from engine.storyboard import with_scenes

    cast = board.spec.characters if characters is None else characters
    spec = replace(with_scenes(board.spec, tuple(scenes), board.title if title is None else title),
                   characters=cast)
    ids = tuple(uids if uids is not None else board.uids)
    return replace(board, spec=spec, uids=ids, images={u: r for u, r in board.images.items() if u in ids})


def _first_field(edit: Any) -> str:
    return next(iter(sorted(edit.model_fields_set)), "body")


def vet_cast(edit: StoryboardEdit, config: Any) -> tuple[Character, ...] | None:
    """The edit's characters as the engine takes them, each ``image`` vetted exactly as POST vets
    it (an upload's name or a path under an allowed folder; a 400 naming ``characters[i].image``).
    File work: call it off the event loop."""
    if edit.characters is None:
        return None
    from server.paths import path_checker

    check = path_checker(config.manual_roots, config.upload_dir)
    return tuple(
        Character(c.name, c.description, check(f"characters[{i}].image", c.image) if c.image else None)
        for i, c in enumerate(edit.characters))


def make_portraits(spec: JobSpec, folder: Path, config: Any) -> list[str]:
    """The creator's own portraits of ``spec``'s cast, made now exactly as a render makes them
    (engine.images.cast_scenes.portrait_for, in the storyboard's work folder) and filed in its pool
    (``pool/cast/``), where the next render and the storyboard's view find them: a replaced
    portrait shows at once, and its scenes read as stale. Unchanged ones are kept (by key).
    Returns the names made. File work: call it off the event loop."""
    from engine import artifacts
    from engine.images.cast_scenes import portrait_for
    from engine.progress import StageProgress
    from engine.storyboard import WORK, pool_of, read_script

    owned = [c for c in spec.characters if c.image]
    if not owned or spec.script is None:
        return []
    work = folder / WORK
    work.mkdir(parents=True, exist_ok=True)
    script = read_script(spec)
    roots = (*config.manual_roots, config.upload_dir)
    for c in owned:
        try:
            portrait_for(c.name, script, spec, work, sdxl=None, allowed_roots=roots,
                         progress=StageProgress("images"))
        except BadInput as exc:
            index = next(i for i, o in enumerate(spec.characters) if o is c)
            raise RequestInvalid(f"characters[{index}].image", exc.message) from None
    artifacts.publish_cast(work, pool_of(folder))
    return [c.name for c in owned]


def edit_board(edit: StoryboardEdit, cast: tuple[Character, ...] | None = None) -> Change:
    """PATCH /api/storyboards/{id} (``cast``: the edit's characters, vetted by ``vet_cast``)."""
    if edit.characters is not None and cast is None:
        raise ValueError("the edit's characters are vetted first (vet_cast)")
    title = edit.title
    refs = edit.scenes

    def change(board: Board) -> Board:
        editable(board, _first_field(edit))
        scenes, uids = list(board.scenes), list(board.uids)
        if refs is not None:
            kept = [ref.n for ref in refs if not isinstance(ref, NewScene)]
            for i, ref in enumerate(refs):
                if not isinstance(ref, NewScene) and not 1 <= ref.n <= len(scenes):
                    raise Conflict(f"scenes[{i}].n", f"there is no scene {ref.n} (scenes 1-{len(scenes)})")
            if len(set(kept)) != len(kept):
                raise Conflict("scenes", "lists a scene twice")
            slots = [
                (ScriptScene(ref.narration, ref.image_prompt, seed=secrets.randbelow(MAX_SEED + 1)),
                 new_uid())
                if isinstance(ref, NewScene) else (scenes[ref.n - 1], uids[ref.n - 1])
                for ref in refs
            ]
            scenes, uids = [s for s, _ in slots], [u for _, u in slots]
        return board_with_scenes(board, scenes, uids, title, cast)

    return change


def edit_scene(edit: SceneEdit, uid: str, n: int, picture: dict[str, Any] | None,
               copy: Path | None) -> Change:
    """PATCH /api/storyboards/{id}/scenes/{n} (``picture``/``copy``: the creator's image, made)."""
    changes: dict[str, Any] = {}
    if edit.narration is not None:
        changes["narration"] = edit.narration
    if edit.image_prompt is not None:
        changes.update(image_prompt=" ".join(edit.image_prompt.split()), image=None)
    if edit.seed is not None:
        changes.update(seed=edit.seed, image=None)
    if copy is not None:
        changes["image"] = str(copy)

    def change(board: Board) -> Board:
        editable(board, _first_field(edit), uid)
        index = board.index_of(uid)
        if index is None:
            raise Conflict("n", f"scene {n} was removed meanwhile")
        scenes = list(board.scenes)
        scenes[index] = replace(scenes[index], **changes)
        updated = board_with_scenes(board, scenes)
        return replace(updated, images={**updated.images, uid: picture}) if picture is not None else updated

    return change


def regenerate(body: Regenerate, uid: str, n: int) -> tuple[Change, dict[str, Any]]:
    """POST .../scenes/{n}/regenerate: the scene's new prompt and seed now, and the task's payload.
    For ``narration`` the scene itself does not change until the rewrite is done: ``prompt`` is a
    hint to the writer and ``seed`` picks the rewrite's variant (both travel in the payload, which
    server/storyboard_worker.py reads); for ``image`` and ``both`` they are the picture's."""
    new_seed = body.seed if body.seed is not None else secrets.randbelow(MAX_SEED + 1)
    prompt = " ".join(body.prompt.split()) if body.prompt is not None else None

    def change(board: Board) -> Board:
        editable(board, "what", uid)
        index = board.index_of(uid)
        if index is None:
            raise Conflict("n", f"scene {n} was removed meanwhile")
        if body.what == "narration":
            return replace(board, substatus=f"Rewriting scene {n}", progress=0.0)
        scenes = list(board.scenes)
        scenes[index] = replace(scenes[index], seed=new_seed, image=None,
                                image_prompt=prompt if prompt is not None else scenes[index].image_prompt)
        label = "Painting" if body.what == "image" else "Rewriting and painting"
        return replace(board_with_scenes(board, scenes), substatus=f"{label} scene {n}", progress=0.0)

    payload: dict[str, Any] = {"prompt": prompt} if prompt else {}
    if body.seed is not None:
        payload["seed"] = body.seed
    return change, payload


def manual_picture(ref: str, config: Any, spec: JobSpec, folder: Path,
                   prompt: str) -> tuple[Path, dict[str, Any]]:
    """The creator's picture for a scene (an upload's name, or an allowed local path): copied into
    the storyboard (uploads are swept), made into the scene picture exactly as a render makes it
    (engine.images.normalise at the SDXL size of the aspect) and filed in the pool under the key
    the render will ask for. Returns the copy and the scene's picture record."""
    from engine import artifacts, tempnames
    from engine.images.files import save_png_atomic
    from engine.images.normalise import normalise_image
    from engine.storyboard import MANUAL, pool_of
    from server.paths import path_checker

    upload = config.upload_dir / ref
    if "/" not in ref and "\\" not in ref and upload.is_file():
        source = upload
    else:
        source = Path(path_checker(config.manual_roots, config.upload_dir)("image", ref))
    size = AspectRatio(spec.aspect_ratio).sdxl_bucket
    try:
        picture = normalise_image(source, size, label=f"image {ref!r}")
    except BadInput as exc:
        raise RequestInvalid("image", exc.message) from None
    copy = folder / MANUAL / f"{secrets.token_hex(6)}{source.suffix.lower() or '.png'}"
    with tempnames.atomic_path(copy) as tmp:
        shutil.copyfile(source, tmp)
    key = artifacts.file_key(copy, kind="manual", size=size)
    dest = artifacts.pooled(pool_of(folder), "images", key)
    save_png_atomic(picture, dest)
    artifacts.record(dest, key, {"source": "manual", "seed": None, "prompt": prompt, "origin": str(copy)})
    return copy, {"key": key, "source": "manual", "seed": None, "prompt": prompt}
