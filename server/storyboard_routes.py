"""/api/storyboards: see, edit and regenerate the script and the pictures before the render.

POST   /api/storyboards                               the generate-video body (+ script, images) -> 202
GET    /api/storyboards                               newest first
GET    /api/storyboards/{id}                          state, progress, title, characters, scenes
PATCH  /api/storyboards/{id}                          title, characters, scenes (order, delete, insert)
DELETE /api/storyboards/{id}                          the storyboard and its folder (renders stay)
PATCH  /api/storyboards/{id}/scenes/{n}               narration, image_prompt, seed, image
POST   /api/storyboards/{id}/scenes/{n}/regenerate    {"what": image|narration|both, prompt?, seed?}
GET    /api/storyboards/{id}/scenes/{n}/image         the scene's picture (PNG); .../thumb: a small JPEG
POST   /api/storyboards/{id}/render                   a normal job reusing every unchanged artifact

Scenes are numbered from 1. Handlers are thin: parse, one store call off the event loop, a view."""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, TypeVar

from aiohttp import web

from engine.errors import BadInput
from engine.spec import AspectRatio, Character, JobSpec, OwnScript, ScriptScene
from server.keys import config_key, services_key
from server.schemas import NotFound, RequestInvalid
from server.storyboard_views import board_view, views_key
from server.storyboards import Board, Conflict, StoryboardStore, new_uid, storyboards_dir

T = TypeVar("T")
BOARD_ID = re.compile(r"^[a-f0-9]{16}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_SEED = 2**32 - 1
NARRATION_MAX = 2000
PROMPT_MAX = 600
TITLE_MAX = 200
WHATS = ("image", "narration", "both")


async def off_loop(fn: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, fn)


def _store(request: web.Request) -> StoryboardStore:
    return request.app[services_key].storyboards


def _board_id(request: web.Request) -> str:
    text = request.match_info["board_id"]
    if not BOARD_ID.match(text):
        raise RequestInvalid("storyboard_id", f"{text[:40]!r} is not a storyboard id (16 hex digits)")
    return text


def _scene_no(request: web.Request, board: Board) -> int:
    text = request.match_info["n"]
    if not text.isdigit() or not 1 <= int(text) <= len(board.scenes):
        raise NotFound(f"Storyboard {board.id} has no scene {text[:12]!r}; "
                       f"its scenes are 1-{len(board.scenes)}")
    return int(text)


async def _get(request: web.Request) -> Board:
    board_id = _board_id(request)
    board = await off_loop(partial(_store(request).get, board_id))
    if board is None:
        raise NotFound(f"No storyboard with id {board_id!r}")
    return board


async def _view(request: web.Request, board: Board, status: int = 200) -> web.Response:
    maker = request.app[views_key]
    return web.json_response(await off_loop(partial(board_view, board, maker)), status=status)


# -- field checks -------------------------------------------------------------------------------
def _object(body: Any, field: str = "body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RequestInvalid(field, "must be a JSON object")
    return body


def _allowed(body: dict[str, Any], names: tuple[str, ...], where: str = "") -> None:
    unknown = sorted(set(body) - set(names))
    if unknown:
        raise RequestInvalid(f"{where}{unknown[0]}", f"is not a field here; use {', '.join(names)}")


def text(field: str, value: Any, limit: int, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise RequestInvalid(field, "must be a string")
    clean = " ".join(value.split())
    if not clean and not empty:
        raise RequestInvalid(field, "must not be empty")
    if len(clean) > limit:
        raise RequestInvalid(field, f"is longer than {limit} characters")
    bad = _CONTROL.search(value)
    if bad or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise RequestInvalid(field, "contains control characters or lone surrogates; remove them")
    return clean


def seed(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise RequestInvalid(field, f"must be an integer from 0 to {MAX_SEED}")
    return value


def characters(value: Any) -> tuple[Character, ...]:
    if not isinstance(value, list) or len(value) > 8:
        raise RequestInvalid("characters", "must be a list of at most 8 {name, description}")
    out = []
    for i, c in enumerate(value):
        c = _object(c, f"characters[{i}]")
        _allowed(c, ("name", "description"), f"characters[{i}].")
        out.append(Character(text(f"characters[{i}].name", c.get("name"), 60),
                             text(f"characters[{i}].description", c.get("description", ""), 300, empty=True)))
    return tuple(out)


# -- POST /api/storyboards ------------------------------------------------------------------------
def parse_storyboard_request(body: Any, check_path: Callable[[str, str], str] | None) -> tuple[JobSpec, bool]:
    """The generate-video body (validated the same way) plus ``script`` and ``images``."""
    from engine.script.own import parse_script
    from server.schemas import parse_video_request

    body = _object(body)
    images = body.get("images", True)
    if not isinstance(images, bool):
        raise RequestInvalid("images", "must be true or false")
    spec = parse_video_request({k: v for k, v in body.items() if k not in ("script", "images")},
                               check_path=check_path)
    if body.get("script") is not None:
        try:
            own = parse_script(body["script"])
        except BadInput as exc:
            raise RequestInvalid("script", exc.message) from None
        for i, s in enumerate(own.scenes):
            text(f"script[{i}].narration", s.narration, NARRATION_MAX)
        spec = own_script_spec(spec, own, duration_given="duration" in body)
    return spec, images


def own_script_spec(spec: JobSpec, own: OwnScript, *, duration_given: bool) -> JobSpec:
    """A request with the creator's script: as many scenes as it has, and (unless the request says
    how long) a length that fits its words at an ordinary pace."""
    notes = list(spec.notes)
    if spec.num_scenes != len(own.scenes):
        notes.append(f"num_scenes follows your script: {len(own.scenes)} scenes")
    minutes = spec.duration_minutes
    if not duration_given:
        words = sum(len(s.narration.split()) for s in own.scenes)
        minutes = round(max(0.1, words / 150.0), 2)
    return replace(spec, script=own, num_scenes=len(own.scenes), duration_minutes=minutes, notes=tuple(notes))


async def create_storyboard(request: web.Request) -> web.Response:
    from server.paths import path_checker
    from server.routes import read_json

    body = await read_json(request)
    check = path_checker(request.app[config_key].manual_roots)
    spec, images = await off_loop(lambda: parse_storyboard_request(body, check))
    board = await off_loop(lambda: _store(request).create(spec, want_images=images))
    request.app[services_key].runner.wake()
    return web.json_response({"storyboard_id": board.id, "status": "drafting",
                              "url": f"/api/storyboards/{board.id}"}, status=202)


async def list_storyboards(request: web.Request) -> web.Response:
    raw = request.query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        raise RequestInvalid("limit", "must be an integer between 1 and 200")
    boards = await off_loop(partial(_store(request).recent, int(raw)))
    maker = request.app[views_key]
    views = await off_loop(lambda: [board_view(b, maker, brief=True) for b in boards])
    return web.json_response({"storyboards": views})


async def get_storyboard(request: web.Request) -> web.Response:
    return await _view(request, await _get(request))


# -- edits --------------------------------------------------------------------------------------
def _editable(board: Board, field: str, uid: str | None = None) -> None:
    if board.state == "drafting":
        raise Conflict(field, "the storyboard is still being drafted; edit it once it is ready")
    if board.state == "error" or board.spec.script is None:
        raise Conflict(field, f"the storyboard could not be drafted ({board.error}); create it again")
    if uid is None and board.busy:
        raise Conflict(field, "a scene is being regenerated; change the scenes once it is done")
    if uid is not None and uid in board.busy:
        n = board.uids.index(uid) + 1
        raise Conflict(field, f"scene {n} is being regenerated ({board.busy[uid]}); edit it once it is done")


def _with(board: Board, scenes: list[ScriptScene], uids: list[str] | None = None,
          title: str | None = None, **spec_changes: Any) -> Board:
    own = OwnScript(tuple(scenes), board.title if title is None else title)
    spec = replace(board.spec, script=own, num_scenes=len(scenes), **spec_changes)
    kept = set(uids if uids is not None else board.uids)
    images = {u: r for u, r in board.images.items() if u in kept}
    return replace(board, spec=spec, uids=tuple(uids if uids is not None else board.uids), images=images)


def patch_board(body: Any) -> Callable[[Board], Board]:
    body = _object(body)
    _allowed(body, ("title", "characters", "scenes"))
    title = text("title", body["title"], TITLE_MAX) if "title" in body else None
    cast = characters(body["characters"]) if "characters" in body else None
    refs = body.get("scenes")
    if refs is not None and (not isinstance(refs, list) or not 1 <= len(refs) <= 60):
        raise RequestInvalid("scenes", "must list 1-60 scenes: {\"n\": <scene number>} to keep one (in "
                             "the new order), {\"narration\": ..., \"image_prompt\"?: ...} to insert one")
    inserts: list[tuple[int, ScriptScene]] = []
    keeps: list[tuple[int, int]] = []
    for i, ref in enumerate(refs or []):
        ref = _object(ref, f"scenes[{i}]")
        if "n" in ref:
            _allowed(ref, ("n",), f"scenes[{i}].")
            if isinstance(ref["n"], bool) or not isinstance(ref["n"], int):
                raise RequestInvalid(f"scenes[{i}].n", "must be a scene number")
            keeps.append((i, ref["n"]))
        else:
            _allowed(ref, ("narration", "image_prompt"), f"scenes[{i}].")
            prompt = text(f"scenes[{i}].image_prompt", ref.get("image_prompt", ""), PROMPT_MAX, empty=True)
            narration = text(f"scenes[{i}].narration", ref.get("narration"), NARRATION_MAX)
            inserts.append((i, ScriptScene(narration, prompt, seed=secrets.randbelow(MAX_SEED + 1))))

    def change(board: Board) -> Board:
        _editable(board, next(iter(body), "body"))
        scenes, uids = list(board.scenes), list(board.uids)
        if refs is not None:
            numbers = [n for _, n in keeps]
            for i, n in keeps:
                if not 1 <= n <= len(scenes):
                    raise Conflict(f"scenes[{i}].n", f"there is no scene {n} (scenes 1-{len(scenes)})")
            if len(set(numbers)) != len(numbers):
                raise Conflict("scenes", "lists a scene twice")
            slots: list[tuple[ScriptScene, str]] = [None] * len(refs)  # type: ignore[list-item]
            for i, n in keeps:
                slots[i] = (scenes[n - 1], uids[n - 1])
            for i, scene in inserts:
                slots[i] = (scene, new_uid())
            scenes, uids = [s for s, _ in slots], [u for _, u in slots]
        extra = {"characters": cast} if cast is not None else {}
        return _with(board, scenes, uids, title, **extra)
    return change


async def patch_storyboard(request: web.Request) -> web.Response:
    from server.routes import read_json

    board_id = _board_id(request)
    change = patch_board(await read_json(request))
    return await _view(request, await _edit(request, board_id, change))


async def _edit(request: web.Request, board_id: str, change: Callable[[Board], Board]) -> Board:
    try:
        return await off_loop(partial(_store(request).edit, board_id, change))
    except KeyError:
        raise NotFound(f"No storyboard with id {board_id!r}") from None
    except Conflict as exc:
        raise RequestInvalid(exc.field, exc.message, status=409) from None


async def patch_scene(request: web.Request) -> web.Response:
    from server.routes import read_json

    board = await _get(request)
    n = _scene_no(request, board)
    uid = board.uids[n - 1]
    body = _object(await read_json(request))
    _allowed(body, ("narration", "image_prompt", "seed", "image"))
    changes: dict[str, Any] = {}
    if "narration" in body:
        changes["narration"] = text("narration", body["narration"], NARRATION_MAX)
    if "image_prompt" in body:
        changes["image_prompt"] = text("image_prompt", body["image_prompt"], PROMPT_MAX, empty=True)
        changes["image"] = None  # a new prompt asks for a painted picture
    if "seed" in body:
        changes["seed"] = seed("seed", body["seed"])
        changes["image"] = None
    picture: dict[str, Any] | None = None
    if body.get("image") is not None:
        folder = storyboards_dir(request.app[config_key].data_dir) / board.id
        config = request.app[config_key]
        prompt = changes.get("image_prompt", board.scenes[n - 1].image_prompt)
        copy, picture = await off_loop(
            lambda: manual_picture(body["image"], config, board.spec, folder, prompt))
        changes["image"] = str(copy)
    elif "image" in body:
        changes["image"] = None

    def change(current: Board) -> Board:
        _editable(current, next(iter(body), "body"), uid)
        index = current.index_of(uid)
        if index is None:
            raise Conflict("n", f"scene {n} was removed meanwhile")
        scenes = list(current.scenes)
        scenes[index] = replace(scenes[index], **changes)
        updated = _with(current, scenes)
        if picture is not None:
            updated = replace(updated, images={**updated.images, uid: picture})
        return updated

    return await _view(request, await _edit(request, board.id, change))


def manual_picture(ref: Any, config: Any, spec: JobSpec, folder: Path,
                   prompt: str) -> tuple[Path, dict[str, Any]]:
    """The creator's picture for a scene (an upload's name, or an allowed local path): copied into
    the storyboard (uploads are swept), made into the scene picture exactly as a render would make
    it and filed in the pool under its key. Returns the copy and the scene's picture record."""
    from engine import artifacts, tempnames
    from engine.images.files import save_png_atomic
    from engine.images.normalise import normalise_image
    from server.paths import path_checker

    if not isinstance(ref, str) or not ref.strip():
        raise RequestInvalid("image", "must be an upload's name (POST /api/upload) or a local image path")
    text("image", ref, 4096)
    upload = config.upload_dir / ref
    if "/" not in ref and "\\" not in ref and upload.is_file():
        source = upload
    else:
        source = Path(path_checker(config.manual_roots)("image", ref))
    size = AspectRatio(spec.aspect_ratio).sdxl_bucket
    try:
        picture = normalise_image(source, size, label=f"image {ref!r}")
    except BadInput as exc:
        raise RequestInvalid("image", exc.message) from None
    copy = folder / "manual" / f"{secrets.token_hex(6)}{source.suffix.lower() or '.png'}"
    with tempnames.atomic_path(copy) as tmp:
        shutil.copyfile(source, tmp)
    key = artifacts.file_key(copy, kind="manual", size=size)
    dest = artifacts.pooled(folder / "pool", "images", key)
    save_png_atomic(picture, dest)
    artifacts.record(dest, key, {"source": "manual", "seed": None, "prompt": prompt, "origin": str(copy)})
    return copy, {"key": key, "source": "manual", "seed": None, "prompt": prompt}


async def regenerate_scene(request: web.Request) -> web.Response:
    from server.routes import read_json

    board = await _get(request)
    n = _scene_no(request, board)
    uid = board.uids[n - 1]
    body = _object(await read_json(request))
    _allowed(body, ("what", "prompt", "seed"))
    what = body.get("what")
    if what not in WHATS:
        raise RequestInvalid("what", f"must be one of {', '.join(WHATS)}", allowed=list(WHATS))
    if what == "narration" and ("prompt" in body or "seed" in body):
        field = "prompt" if "prompt" in body else "seed"
        raise RequestInvalid(field, "applies to the picture; use what: image or both")
    prompt = text("prompt", body["prompt"], PROMPT_MAX) if body.get("prompt") is not None else None
    new_seed = seed("seed", body["seed"]) if body.get("seed") is not None else secrets.randbelow(MAX_SEED + 1)
    payload = {"prompt": prompt} if prompt else {}

    def change(current: Board) -> Board:
        _editable(current, "what", uid)
        index = current.index_of(uid)
        if index is None:
            raise Conflict("n", f"scene {n} was removed meanwhile")
        if what == "narration":
            return replace(current, substatus=f"Rewriting scene {n}", progress=0.0)
        scenes = list(current.scenes)
        scenes[index] = replace(scenes[index], seed=new_seed, image=None,
                                image_prompt=prompt if prompt is not None else scenes[index].image_prompt)
        label = "Painting" if what == "image" else "Rewriting and painting"
        return replace(_with(current, scenes), substatus=f"{label} scene {n}", progress=0.0)

    try:
        updated = await off_loop(partial(_store(request).regenerate, board.id, uid, what, change, payload))
    except KeyError:
        raise NotFound(f"No storyboard with id {board.id!r}") from None
    except Conflict as exc:
        raise RequestInvalid(exc.field, exc.message, status=409) from None
    request.app[services_key].runner.wake()
    return await _view(request, updated, status=202)


async def render_storyboard(request: web.Request) -> web.Response:
    board = await _get(request)
    if request.can_read_body:
        from server.routes import read_json

        _allowed(_object(await read_json(request)), ())
    try:
        _editable(board, "storyboard_id")
    except Conflict as exc:
        raise RequestInvalid(exc.field, exc.message, status=409) from None
    spec = replace(board.spec, storyboard_id=board.id, notes=(f"Rendered from storyboard {board.id}",))
    job = await off_loop(partial(request.app[services_key].runner.submit, spec))
    await off_loop(partial(_store(request).add_render, board.id, job.id))
    return web.json_response({"status": "generating", "job_id": job.id, "storyboard_id": board.id})


async def delete_storyboard(request: web.Request) -> web.Response:
    """The storyboard, its pending work and its folder; videos and jobs rendered from it stay."""
    from engine.tempnames import remove

    board = await _get(request)
    folder = storyboards_dir(request.app[config_key].data_dir) / board.id
    await off_loop(partial(_store(request).delete, board.id))
    why = await off_loop(partial(remove, folder))
    if why is not None:
        raise RequestInvalid("storyboard_id", f"the storyboard is deleted but its folder could not be "
                                              f"removed: {why}", status=500)
    return web.json_response({"storyboard_id": board.id, "deleted": True, "renders": list(board.renders)})


async def scene_picture(request: web.Request) -> web.StreamResponse:
    board = await _get(request)
    n = _scene_no(request, board)
    record = board.images.get(board.uids[n - 1])
    if not record:
        raise NotFound(f"Scene {n} of storyboard {board.id} has no picture yet")
    folder = storyboards_dir(request.app[config_key].data_dir) / board.id
    key = str(record["key"])
    if not re.fullmatch(r"[a-f0-9]{8,64}", key):
        raise NotFound(f"Scene {n} has no picture")
    path = folder / "pool" / "images" / f"{key}.png"
    if request.match_info.get("kind") == "thumb":
        from engine.storyboard import thumbnail

        thumb = folder / "thumbs" / f"{key}.jpg"
        if not await off_loop(thumb.is_file):
            if not await off_loop(path.is_file):
                raise NotFound(f"Scene {n}'s picture is gone from the storyboard's folder")
            await off_loop(partial(thumbnail, path, thumb))
        return web.FileResponse(thumb, headers={"Content-Type": "image/jpeg",
                                                "Cache-Control": "max-age=3600"})
    if not await off_loop(path.is_file):
        raise NotFound(f"Scene {n}'s picture is gone from the storyboard's folder")
    return web.FileResponse(path, headers={"Content-Type": "image/png", "Cache-Control": "max-age=3600"})


def storyboard_routes() -> list[web.RouteDef]:
    base = "/api/storyboards"
    return [
        web.post(base, create_storyboard),
        web.get(base, list_storyboards),
        web.get(base + "/{board_id}", get_storyboard),
        web.patch(base + "/{board_id}", patch_storyboard),
        web.delete(base + "/{board_id}", delete_storyboard),
        web.patch(base + "/{board_id}/scenes/{n}", patch_scene),
        web.post(base + "/{board_id}/scenes/{n}/regenerate", regenerate_scene),
        web.get(base + "/{board_id}/scenes/{n}/{kind:image|thumb}", scene_picture),
        web.post(base + "/{board_id}/render", render_storyboard),
    ]
