"""/api/storyboards: see, edit and regenerate the script and the pictures before the render.

POST   /api/storyboards                               the generate-video body (+ images) -> 202
GET    /api/storyboards                               newest first
GET    /api/storyboards/{id}                          state, progress, title, characters, scenes
PATCH  /api/storyboards/{id}                          title, characters, scenes (order, delete, insert)
DELETE /api/storyboards/{id}                          the storyboard and its folder (renders stay)
PATCH  /api/storyboards/{id}/scenes/{n}               narration, image_prompt, seed, image
POST   /api/storyboards/{id}/scenes/{n}/regenerate    {"what": image|narration|both, prompt?, seed?}
GET    /api/storyboards/{id}/scenes/{n}/image         the scene's picture (PNG); .../thumb: a JPEG
GET    /api/storyboards/{id}/cast/{slug}.png          a character's reference portrait (PNG)
POST   /api/storyboards/{id}/render                   a normal job reusing every unchanged artifact

Scenes are numbered from 1. Handlers are thin: validate (the models in storyboard_models.py), one
store call off the event loop (changes from storyboard_edits.py), a view. A storyboard is kept
until it is deleted (its folder with it; jobs rendered from it are jobs like any other, with the
usual retention)."""

from __future__ import annotations

import asyncio
import re
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any, Callable, Iterator, TypeVar

from aiohttp import web

from server.keys import config_key, services_key
from server.schemas import NotFound, RequestInvalid
from server.storyboard_edits import (
    Change,
    edit_board,
    edit_scene,
    editable,
    make_portraits,
    manual_picture,
    regenerate,
    vet_cast,
)
from server.storyboard_models import (
    SLUG_PATTERN,
    Regenerate,
    RenderQueued,
    SceneEdit,
    StoryboardCreated,
    StoryboardDeleted,
    StoryboardEdit,
    StoryboardList,
    StoryboardRequest,
    StoryboardSummary,
    StoryboardView,
)
from server.storyboard_views import board_view, portrait_file, views_key
from server.storyboards import Board, Conflict, StoryboardStore, storyboards_dir

T = TypeVar("T")
BOARD_ID_PATTERN = r"^[a-f0-9]{16}$"
BOARD_ID = re.compile(BOARD_ID_PATTERN)
KEY = re.compile(r"^[a-f0-9]{8,64}$")
SLUG = re.compile(SLUG_PATTERN)


async def off_loop(fn: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, fn)


def _store(request: web.Request) -> StoryboardStore:
    return request.app[services_key].storyboards


async def _body(request: web.Request) -> Any:
    from server.routes import read_json

    return await read_json(request)


def _validate(model: type[T], body: Any) -> T:
    from server.schemas import validate  # the house's one translation of pydantic's errors

    out: T = validate(model, body)  # type: ignore[arg-type, type-var]
    return out


async def _get(request: web.Request) -> Board:
    board_id = request.match_info["board_id"]
    if not BOARD_ID.match(board_id):
        raise RequestInvalid("storyboard_id", f"{board_id[:40]!r} is not a storyboard id (16 hex digits)")
    board = await off_loop(partial(_store(request).get, board_id))
    if board is None:
        raise NotFound(f"No storyboard with id {board_id!r}")
    return board


def _scene(request: web.Request, board: Board) -> tuple[int, str]:
    """The scene number in the URL and its id."""
    text = request.match_info["n"]
    if not text.isdigit() or not 1 <= int(text) <= len(board.scenes):
        raise NotFound(f"Storyboard {board.id} has no scene {text[:12]!r}; "
                       f"its scenes are 1-{len(board.scenes)}")
    return int(text), board.uids[int(text) - 1]


async def _answer(request: web.Request, board: Board, status: int = 200) -> web.Response:
    maker = request.app[views_key]
    config = request.app[config_key]
    folder = storyboards_dir(config.data_dir) / board.id
    view = await off_loop(lambda: StoryboardView(**board_view(
        board, maker, folder=folder, upload_dir=config.upload_dir)).to_json())
    return web.json_response(view, status=status)


@contextmanager
def _conflicts() -> Iterator[None]:
    """A Conflict raised inside answers 409 naming its field."""
    try:
        yield
    except Conflict as exc:
        raise RequestInvalid(exc.field, exc.message, status=409) from None


async def _change(request: web.Request, board_id: str, change: Change) -> Board:
    try:
        with _conflicts():
            return await off_loop(partial(_store(request).edit, board_id, change))
    except KeyError:
        raise NotFound(f"No storyboard with id {board_id!r}") from None


async def create_storyboard(request: web.Request) -> web.Response:
    from server.paths import path_checker
    from server.routes import check_language

    body = await _body(request)
    config = request.app[config_key]
    check = path_checker(config.manual_roots, config.upload_dir)

    def parse() -> tuple[Any, bool]:
        model = _validate(StoryboardRequest, body)
        spec = model.to_spec(check_path=check)
        spec = check_language(spec, config)  # a 400 now, not a storyboard that fails at its render
        return spec, model.images

    spec, images = await off_loop(parse)
    board = await off_loop(lambda: _store(request).create(spec, want_images=images))
    request.app[services_key].runner.wake()
    created = StoryboardCreated(storyboard_id=board.id, status="drafting", url=f"/api/storyboards/{board.id}")
    return web.json_response(created.to_json(), status=202)


async def list_storyboards(request: web.Request) -> web.Response:
    raw = request.query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        raise RequestInvalid("limit", "must be an integer between 1 and 200")
    boards = await off_loop(partial(_store(request).recent, int(raw)))
    maker = request.app[views_key]
    body = await off_loop(lambda: StoryboardList(storyboards=[
        StoryboardSummary(**board_view(b, maker, brief=True)) for b in boards]).to_json())
    return web.json_response(body)


async def get_storyboard(request: web.Request) -> web.Response:
    return await _answer(request, await _get(request))


async def patch_storyboard(request: web.Request) -> web.Response:
    board = await _get(request)
    edit = await off_loop(partial(_validate, StoryboardEdit, await _body(request)))
    config = request.app[config_key]
    cast = await off_loop(partial(vet_cast, edit, config))
    if cast is not None and any(c.image for c in cast):
        with _conflicts():
            editable(board, "characters")  # before any file work
        folder = storyboards_dir(config.data_dir) / board.id
        spec = replace(board.spec, characters=cast)
        await off_loop(partial(make_portraits, spec, folder, config))
    return await _answer(request, await _change(request, board.id, edit_board(edit, cast)))


async def patch_scene(request: web.Request) -> web.Response:
    board = await _get(request)
    n, uid = _scene(request, board)
    edit = await off_loop(partial(_validate, SceneEdit, await _body(request)))
    picture, copy = None, None
    if edit.image is not None:
        with _conflicts():
            editable(board, "image", uid)  # before any file work
        config = request.app[config_key]
        folder = storyboards_dir(config.data_dir) / board.id
        prompt = edit.image_prompt if edit.image_prompt is not None else board.scenes[n - 1].image_prompt
        ref = edit.image
        copy, picture = await off_loop(lambda: manual_picture(ref, config, board.spec, folder, prompt))
    return await _answer(request, await _change(request, board.id, edit_scene(edit, uid, n, picture, copy)))


async def regenerate_scene(request: web.Request) -> web.Response:
    board = await _get(request)
    n, uid = _scene(request, board)
    body = await off_loop(partial(_validate, Regenerate, await _body(request)))
    change, payload = regenerate(body, uid, n)
    try:
        with _conflicts():
            updated = await off_loop(
                partial(_store(request).regenerate, board.id, uid, body.what, change, payload))
    except KeyError:
        raise NotFound(f"No storyboard with id {board.id!r}") from None
    request.app[services_key].runner.wake()
    return await _answer(request, updated, status=202)


async def render_storyboard(request: web.Request) -> web.Response:
    board = await _get(request)
    with _conflicts():
        editable(board, "storyboard_id")
    spec = replace(board.spec, storyboard_id=board.id, notes=(f"Rendered from storyboard {board.id}",))
    job = await off_loop(partial(request.app[services_key].runner.submit, spec))
    await off_loop(partial(_store(request).add_render, board.id, job.id))
    queued = RenderQueued(status="generating", job_id=job.id, storyboard_id=board.id)
    return web.json_response(queued.to_json())


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
    deleted = StoryboardDeleted(storyboard_id=board.id, deleted=True, renders=list(board.renders))
    return web.json_response(deleted.to_json())


async def _picture(request: web.Request, thumb: bool) -> web.StreamResponse:
    board = await _get(request)
    n, uid = _scene(request, board)
    record = board.images.get(uid)
    if not record or not KEY.match(str(record.get("key", ""))):
        raise NotFound(f"Scene {n} of storyboard {board.id} has no picture yet")
    from engine.artifacts import pooled
    from engine.storyboard import pool_of, thumbnail_of

    folder = storyboards_dir(request.app[config_key].data_dir) / board.id
    path = pooled(pool_of(folder), "images", str(record["key"]))
    if not await off_loop(path.is_file):
        raise NotFound(f"Scene {n}'s picture is gone from the storyboard's folder")
    if thumb:
        small = await off_loop(partial(thumbnail_of, folder, str(record["key"])))
        return web.FileResponse(small, headers={"Content-Type": "image/jpeg",
                                                "Cache-Control": "max-age=3600"})
    return web.FileResponse(path, headers={"Content-Type": "image/png", "Cache-Control": "max-age=3600"})


async def scene_image(request: web.Request) -> web.StreamResponse:
    return await _picture(request, thumb=False)


async def scene_thumb(request: web.Request) -> web.StreamResponse:
    return await _picture(request, thumb=True)


async def cast_portrait(request: web.Request) -> web.StreamResponse:
    """A character's reference portrait (PNG), as the storyboard's renders use it."""
    board = await _get(request)
    slug = request.match_info["slug"]
    if not SLUG.match(slug):
        raise RequestInvalid("slug", f"{slug[:60]!r} is not a character's portrait name "
                                     "(the cast's portrait_url gives it)")
    folder = storyboards_dir(request.app[config_key].data_dir) / board.id
    path = await off_loop(partial(portrait_file, board, folder, slug))
    if path is None:
        raise NotFound(f"Storyboard {board.id} has no portrait of a character {slug!r} yet")
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
        web.get(base + "/{board_id}/scenes/{n}/image", scene_image),
        web.get(base + "/{board_id}/scenes/{n}/thumb", scene_thumb),
        web.get(base + "/{board_id}/cast/{slug}.png", cast_portrait),
        web.post(base + "/{board_id}/render", render_storyboard),
    ]
