"""/api/openapi.json: OpenAPI 3.1, generated from the pydantic models in server/schemas.py.

ENDPOINTS is the one table of what each route takes and answers; the schemas themselves come from
the models (``models_json_schema``), so the document cannot drift from the validation. A frontend
makes TypeScript types from it: ``npx openapi-typescript http://localhost:5000/api/openapi.json``."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cache
from http import HTTPStatus
from typing import Any, Literal, Mapping

from pydantic import BaseModel, Field, RootModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from engine.exports import EXPORTS
from server.http_input import JOB_ID_PATTERN, VIDEO_NAME_PATTERN
from server.http_validation import EdgeJsonSchema
from server.http_responses import (
    Deleted,
    ErrorBody,
    Health,
    JobList,
    JobView,
    ModelsReport,
    Options,
    Progress,
    Queued,
    Stored,
    Voices,
)
from server.schemas import VideoRequest
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
    StoryboardView,
)

REF = "#/components/schemas/{model}"
JSON = "application/json"
ERROR_WORDS = "an ErrorBody saying why, naming the field when one is wrong"


class UploadForm(BaseModel):
    """POST /api/upload: a multipart form with one part."""

    file: bytes = Field(description="The image (PNG, JPEG or WebP).")


class OpenAPIDocument(RootModel[dict[str, Any]]):
    """An OpenAPI 3.1 document: this one."""


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["path", "query"]
    schema: Mapping[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Endpoint:
    """One route: what it takes and every answer it gives. ``answers`` maps a status to the model
    of its JSON body, or to the media types of a file (``("video/mp4",)``); every status in
    ``errors`` (and COMMON_ERRORS) answers an ErrorBody."""

    method: Literal["get", "post", "patch", "delete"]
    path: str
    summary: str
    answers: Mapping[int, type[BaseModel] | tuple[str, ...]]
    errors: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    body_media: str = JSON
    params: tuple[Param, ...] = field(default=())


#: Any route: a foreign Host (DNS rebinding) or, for POST/DELETE, a foreign Origin is a 403; a
#: failure of ours a 500.
COMMON_ERRORS = (403, 500)
JOB_ID = Param("job_id", "path", {"type": "string", "pattern": JOB_ID_PATTERN}, "A job id.")

BOARD_ID = Param("board_id", "path", {"type": "string", "pattern": "^[a-f0-9]{16}$"}, "A storyboard id.")
SCENE = Param("n", "path", {"type": "integer", "minimum": 1, "maximum": 60}, "A scene's number, from 1.")
BOARD = "/api/storyboards/{board_id}"
BODY_ERRORS = (400, 404, 408, 413, 415)
STORYBOARD_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("post", "/api/storyboards", "Draft a storyboard (script, then pictures) from the generate-video "
             "body; returns at once", {202: StoryboardCreated}, errors=(400, 408, 413, 415),
             body=StoryboardRequest),
    Endpoint("get", "/api/storyboards", "Storyboards, newest first", {200: StoryboardList}, errors=(400,),
             params=(Param("limit", "query",
                           {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),)),
    Endpoint("get", BOARD, "A storyboard: state, progress, title, characters and scenes",
             {200: StoryboardView},
             errors=(400, 404), params=(BOARD_ID,)),
    Endpoint("patch", BOARD, "Change the title, characters or scenes (order, delete, insert); 409 while "
             "it drafts or a scene is regenerated", {200: StoryboardView}, errors=(*BODY_ERRORS, 409),
             body=StoryboardEdit, params=(BOARD_ID,)),
    Endpoint("delete", BOARD, "Delete a storyboard and its folder (jobs and videos rendered from it stay)",
             {200: StoryboardDeleted}, errors=(400, 404), params=(BOARD_ID,)),
    Endpoint("patch", BOARD + "/scenes/{n}", "Change a scene's narration, image prompt, seed or picture; "
             "409 while it is regenerated", {200: StoryboardView}, errors=(*BODY_ERRORS, 409), body=SceneEdit,
             params=(BOARD_ID, SCENE)),
    Endpoint("post", BOARD + "/scenes/{n}/regenerate", "Make a scene's picture, narration or both again "
             "(progress on the storyboard)", {202: StoryboardView}, errors=(*BODY_ERRORS, 409),
             body=Regenerate,
             params=(BOARD_ID, SCENE)),
    Endpoint("get", BOARD + "/scenes/{n}/image", "A scene's picture", {200: ("image/png",)},
             errors=(400, 404),
             params=(BOARD_ID, SCENE)),
    Endpoint("get", BOARD + "/scenes/{n}/thumb", "A small JPEG of a scene's picture", {200: ("image/jpeg",)},
             errors=(400, 404), params=(BOARD_ID, SCENE)),
    Endpoint("get", BOARD + "/cast/{slug}.png", "A character's reference portrait", {200: ("image/png",)},
             errors=(400, 404), params=(BOARD_ID, Param("slug", "path", {
                 "type": "string", "pattern": SLUG_PATTERN}, "The character's slug (the cast lists it)."))),
    Endpoint("post", BOARD + "/render", "Render the storyboard: a normal job that reuses every picture and "
             "voice that did not change", {200: RenderQueued}, errors=(400, 404, 409), params=(BOARD_ID,)),
)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("get", "/health", "Liveness, and which backend serves each stage", {200: Health}),
    Endpoint(
        "post", "/api/generate-video", "Queue a video; returns at once", {200: Queued},
        errors=(400, 408, 413, 415), body=VideoRequest,
    ),
    Endpoint(
        "get", "/api/progress", "Progress of a job (the most recent one without job_id)", {200: Progress},
        errors=(400, 404),
        params=(Param("job_id", "query", JOB_ID.schema, "A job id; absent or empty: the most recent job."),),
    ),
    Endpoint(
        "get", "/api/video/{name}", "The finished MP4 (Range requests supported; HEAD too)",
        {200: ("video/mp4",), 206: ("video/mp4",)}, errors=(404, 416),
        params=(Param("name", "path", {"type": "string", "pattern": VIDEO_NAME_PATTERN}, "The file name."),),
    ),
    Endpoint(
        "get", "/api/jobs", "Recent jobs, newest first", {200: JobList}, errors=(400,),
        params=(Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),),
    ),
    Endpoint(
        "get", "/api/jobs/{job_id}", "One job: status, stage, progress, details, error, video, spec, timings",
        {200: JobView}, errors=(400, 404), params=(JOB_ID,),
    ),
    Endpoint(
        "delete", "/api/jobs/{job_id}",
        "Remove a finished or cancelled job's work folder (and its video with ?video=true); the job's "
        "record stays. 409 while it is queued or running",
        {200: Deleted}, errors=(400, 404, 409),
        params=(JOB_ID, Param("video", "query", {"type": "boolean", "default": False}, "Remove the video")),
    ),
    Endpoint(
        "get", "/api/jobs/{job_id}/export/{name}", "A complete job's export, written beside its video",
        {200: tuple(dict.fromkeys(EXPORTS.values()))}, errors=(400, 404),
        params=(JOB_ID, Param("name", "path", {"type": "string", "enum": list(EXPORTS)}, "The export.")),
    ),
    Endpoint(
        "post", "/api/jobs/{job_id}/cancel", "Cancel a queued or running job (takes effect within 2 s)",
        {202: JobView, 409: JobView}, errors=(400, 404, 408, 413, 415), params=(JOB_ID,),
    ),
    Endpoint("get", "/api/options", "Every allowed value of each choice field, with a line", {200: Options}),
    Endpoint("get", "/api/voices", "The voice catalog: is each voice's model installed", {200: Voices}),
    Endpoint(
        "get", "/api/models", "Installed models, what each stage uses, what is missing and its fix",
        {200: ModelsReport},
    ),
    Endpoint(
        "post", "/api/upload", "Store an image for manual_image_paths", {201: Stored},
        errors=(400, 408, 413, 415, 429, 507), body=UploadForm, body_media="multipart/form-data",
    ),
    Endpoint("get", "/api/openapi.json", "This document", {200: OpenAPIDocument}),
    *STORYBOARD_ENDPOINTS,
)


def openapi_document() -> dict[str, Any]:
    """The whole document, its schemas generated from the models each endpoint names: a copy of
    the one made on the first call (it never changes while the server runs), the caller's to change."""
    return copy.deepcopy(_document())


@cache
def _document() -> dict[str, Any]:
    """The document, made once (~20 ms of schema generation); never changed: openapi_document copies it."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for e in ENDPOINTS:
        wanted += [(e.body, "validation")] if e.body is not None else []
        wanted += [(m, "serialization") for m in e.answers.values() if not isinstance(m, tuple)]
    refs, defs = models_json_schema(
        list(dict.fromkeys(wanted)), ref_template=REF, schema_generator=EdgeJsonSchema
    )
    paths: dict[str, dict[str, Any]] = {}
    for e in ENDPOINTS:
        paths.setdefault(e.path, {})[e.method] = _operation(e, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "StoryReel backend",
            "version": "0.1.0",
            "description": "Offline topic-to-narrated-video backend. Jobs run one at a time per GPU lane.",
        },
        "paths": paths,
        "components": {"schemas": defs.get("$defs", {})},
    }


def _operation(e: Endpoint, refs: Mapping[tuple[Any, JsonSchemaMode], Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": e.summary, "responses": {}}
    if e.params:
        op["parameters"] = [
            {"name": p.name, "in": p.where, "required": p.where == "path", "schema": dict(p.schema)}
            | ({"description": p.description} if p.description else {})
            for p in e.params
        ]
    if e.body is not None:
        op["requestBody"] = {"required": True, **_content(e.body_media, refs[(e.body, "validation")])}
    for status, what in e.answers.items():
        if isinstance(what, tuple):  # a file: its bytes
            binary = {"schema": {"type": "string", "format": "binary"}}
            answer = {"description": ", ".join(what), "content": {media: binary for media in what}}
        else:
            described = (what.__doc__ or what.__name__).strip().split("\n")[0]
            answer = {"description": described, **_content(JSON, refs[(what, "serialization")])}
        op["responses"][str(status)] = answer
    error = _content(JSON, refs[(ErrorBody, "serialization")])
    for status in sorted(set(e.errors + COMMON_ERRORS) - set(e.answers)):
        op["responses"][str(status)] = {"description": f"{HTTPStatus(status).phrase}: {ERROR_WORDS}", **error}
    return op


def _content(media: str, schema: Any) -> dict[str, Any]:
    return {"content": {media: {"schema": schema}}}
