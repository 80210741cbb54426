"""The route table and thin handlers: parse -> one service call -> JSON."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import shutil
import stat
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Sequence, TypeVar

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.helpers import parse_mimetype
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from engine.errors import BadInput
from engine.spec import JobSpec
from engine.tempnames import part_path
from server.config import Config
from server.export_routes import export_routes
from server.storyboard_routes import storyboard_routes
from server.storyboard_views import ViewMaker, views_key
from server.jobs import Job, JobState
from server.keys import config_key, retention_key, services_key
from server.middlewares import quiet_client_errors
from server.openapi import openapi_document
from server.paths import path_checker
from server.http_input import (
    JOB_ID_PATTERN,
    VIDEO_NAME_PATTERN,
    NotFound,
    RequestInvalid,
    check_text,
    decode_json_body,
    shown,
)
from server.http_responses import (
    Deleted,
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
from server.schemas import options, parse_video_request

if TYPE_CHECKING:
    from engine.models import InstalledModel

T = TypeVar("T")
VIDEO_NAME = re.compile(VIDEO_NAME_PATTERN)
JOB_ID = re.compile(JOB_ID_PATTERN)
#: RFC 2046 boundary characters; 1-70 of them, not ending in a space.
BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")


#: Longest wait for the next piece of a request body.
BODY_IDLE_S = 30.0
#: A body this large is decoded off the event loop.
_DECODE_INLINE_BYTES = 64 * 1024
#: Errors a request body can raise while it is read: a malformed chunked/multipart framing, a body
#: shorter than its Content-Length, a client that hangs up half way.
BODY_ERRORS: tuple[type[BaseException], ...] = (
    HttpProcessingError,
    RequestPayloadError,  # a Content-Encoding (gzip, deflate) that does not decode
    ConnectionError,
    asyncio.IncompleteReadError,
)
#: ... and what aiohttp's multipart reader raises for a malformed form (bad boundary line, header,
#: Content-Disposition, or a part cut short).
FORM_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    AssertionError,
    LookupError,
    EOFError,
    *BODY_ERRORS,
)


async def idle_bounded(step: Awaitable[T], field: str) -> T:
    """``step`` (one read of a body), or 408 naming ``field`` when nothing arrives for BODY_IDLE_S:
    a client that stops sending half way does not hold a handler (or an upload slot) for ever."""
    try:
        return await asyncio.wait_for(step, BODY_IDLE_S)
    except asyncio.TimeoutError:
        raise RequestInvalid(field, f"stopped arriving: nothing for {BODY_IDLE_S:g} s", status=408) from None


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, however many TCP pieces it arrives in; 413 as soon as it passes ``limit``."""
    too_big = RequestInvalid("body", f"is larger than {limit} bytes", status=413)
    if request.content_length is not None and request.content_length > limit:
        raise too_big
    raw = bytearray()
    try:
        while chunk := await idle_bounded(request.content.read(limit + 1 - len(raw)), "body"):
            raw += chunk
            if len(raw) > limit:
                raise too_big
    except BODY_ERRORS as exc:
        raise RequestInvalid("body", f"could not be read to its end ({exc.__class__.__name__})") from None
    return bytes(raw)


async def read_json(request: web.Request) -> Any:
    config = request.app[config_key]
    if request.content_type != "application/json":
        raise RequestInvalid(
            "Content-Type", f"must be application/json, got {shown(request.content_type)}", status=415
        )
    raw = await read_body(request, config.max_body_bytes)
    if len(raw) <= _DECODE_INLINE_BYTES:
        return decode_json_body(raw)
    return await asyncio.get_running_loop().run_in_executor(None, decode_json_body, raw)


def job_id_param(text: str) -> str:
    """A job id from a URL or query string, or a 400 naming ``job_id`` (NUL, huge, not an id)."""
    check_text("job_id", text)
    if not JOB_ID.match(text):
        raise RequestInvalid(
            "job_id", f"{shown(text)} is not a job id (1-64 letters, digits, '-' or '_')", status=400
        )
    return text


def _job_or_404(request: web.Request) -> Job:
    job_id = job_id_param(request.match_info["job_id"])
    job = request.app[services_key].store.get(job_id)
    if job is None:
        raise NotFound(f"No job with id {job_id!r}")
    return job


async def health(request: web.Request) -> web.Response:
    choice = request.app[services_key].backends
    return web.json_response(
        Health(
            status="ok",
            backends=choice.describe(),
            draft_stages=[s.stage for s in choice.stages if not s.real_weights],
            memory=choice.memory_note,
            warnings=list(choice.warnings),  # the doctor's, loudest first (python -m server --doctor)
            lanes=request.app[services_key].runner.lanes(),
            disk=request.app[retention_key].disk(),  # bytes used by data/ and videos/, and free
        ).to_json()
    )


def installed_voices(config: Config, installed: Sequence[InstalledModel] | None = None) -> dict[str, Path]:
    """The voice folders the narrator will use (none when it is forced to the embedded voice).
    ``installed``: find_installed(config.models_dir), when the caller has it already."""
    from engine.models import find_installed

    if config.narration_backend == "embedded":
        return {}
    models = find_installed(config.models_dir) if installed is None else installed
    return {m.name: m.path for m in models if m.kind == "tts"}


def installed_writer(config: Config, installed: Sequence[InstalledModel] | None = None) -> bool:
    """A GGUF language model will write scripts (not forced to the draft writer).
    ``installed``: find_installed(config.models_dir), when the caller has it already."""
    from engine.models import find_installed

    if config.script_backend == "draft":
        return False
    models = find_installed(config.models_dir) if installed is None else installed
    return any(m.kind == "llm" for m in models)


def check_language(spec: JobSpec, config: Config) -> JobSpec:
    """A language no installed backend serves is a 400 naming what to download (never a job that
    fails at its narration, or one narrated in Spanish from an English draft): a voice that speaks
    it, and a language model that writes it unless the request has its own ``script``. A language
    the installed GGUFs are not known to write well is accepted with a note in the job's details
    naming the download that writes it well."""
    from engine.models import find_installed
    from engine.narration.voice_packs import require_language, require_writer

    code, own = spec.language, spec.script is not None
    # One look at the models folder (a manifest read and a scan) for all three checks below; none
    # when the narrator and the writer are both forced to what needs no download.
    forced = config.narration_backend == "embedded" and config.script_backend == "draft"
    installed = () if forced else find_installed(config.models_dir)
    problems = []
    for check in (lambda: require_language(code, installed_voices(config, installed)),
                  lambda: require_writer(code, own_script=own,
                                         language_model=installed_writer(config, installed))):
        try:
            check()
        except BadInput as exc:
            problems.append(exc.message)
    if problems:
        raise RequestInvalid("language", "; ".join(problems))
    weak = None if own or config.script_backend == "draft" else weak_writer_note(code, config, installed)
    return replace(spec, notes=(*spec.notes, weak)) if weak else spec


def weak_writer_note(code: str, config: Config,
                     installed: Sequence[InstalledModel] | None = None) -> str | None:
    """A sentence when none of the installed GGUFs is known to write ``code`` well.
    ``installed``: find_installed(config.models_dir), when the caller has it already."""
    from engine.languages import language
    from engine.models import find_installed
    from engine.narration.voice_packs import SCRIPT_MODEL_FIX, script_fix
    from engine.script_choice import GOOD, choose, fit

    models = find_installed(config.models_dir) if installed is None else installed
    llms = [m for m in models if m.kind == "llm"]
    if code == "en" or not llms:
        return None
    model, _ = choose(llms, code)
    best = fit(model, code)
    if best.score >= GOOD:
        return None
    name = language(code).name
    note = f"Script: {model.path.name} is not known to write {name} well"
    if script_fix(code) == SCRIPT_MODEL_FIX and best.family != "Qwen":  # one that does is in the catalog
        note += f"; for a better {name} script run `{SCRIPT_MODEL_FIX}`"
    return note


async def generate_video(request: web.Request) -> web.Response:
    body = await read_json(request)
    config = request.app[config_key]
    check = path_checker(config.manual_roots, config.upload_dir)

    def accept() -> JobSpec:
        return check_language(parse_video_request(body, check_path=check), config)

    spec = await asyncio.get_running_loop().run_in_executor(None, accept)
    job = request.app[services_key].runner.submit(spec)
    return web.json_response(Queued(status="generating", job_id=job.id).to_json())


async def progress(request: web.Request) -> web.Response:
    store = request.app[services_key].store
    job_id = request.query.get("job_id")
    if job_id:  # absent or empty: the most recent job
        job_id = job_id_param(job_id)
    job = store.get(job_id) if job_id else store.latest()
    if job is None:
        if job_id:
            raise NotFound(f"No job with id {job_id!r}")
        return web.json_response(Progress(status="idle", progress=0).to_json())
    ahead = store.ahead_of(job.id) if job.state is JobState.QUEUED else 0
    return web.json_response(Progress.of(job, ahead).to_json())


async def list_jobs(request: web.Request) -> web.Response:
    try:
        limit = min(200, max(1, int(request.query.get("limit", "50"))))
    except ValueError:
        raise RequestInvalid("limit", "must be an integer between 1 and 200") from None
    store = request.app[services_key].store
    jobs = store.recent(limit)
    views = [JobView.of(j, store.ahead_of(j.id) if j.state is JobState.QUEUED else 0) for j in jobs]
    return web.json_response(JobList(jobs=views).to_json())


async def get_job(request: web.Request) -> web.Response:
    job = _job_or_404(request)
    store = request.app[services_key].store
    ahead = store.ahead_of(job.id) if job.state is JobState.QUEUED else 0
    return web.json_response(JobView.of(job, ahead).to_json())


async def cancel_job(request: web.Request) -> web.Response:
    if request.can_read_body:
        await read_json(request)
    job = _job_or_404(request)
    if job.state.finished:
        return web.json_response(JobView.of(job, 0, cancel="already finished").to_json(), status=409)
    runner = request.app[services_key].runner  # records the cancel, then removes files: off the loop
    updated = await asyncio.get_running_loop().run_in_executor(None, runner.cancel, job.id) or job
    return web.json_response(JobView.of(updated, 0, cancel="requested").to_json(), status=202)


async def delete_job(request: web.Request) -> web.Response:
    """Remove a finished job's work folder (and its video with ?video=true); its record stays."""
    job = _job_or_404(request)
    if not job.state.finished:
        how = ("it is being cancelled; delete it once it has stopped" if job.cancel_requested else
               f"cancel it first (POST /api/jobs/{job.id}/cancel)")
        raise RequestInvalid("job_id", f"job {job.id} is {job.state.value}; {how}", status=409)
    flag = request.query.get("video", "false").strip().lower()
    if flag not in ("true", "false", "1", "0", "yes", "no"):
        raise RequestInvalid("video", f"must be true or false, got {shown(flag)}")
    deleted = await request.app[retention_key].delete(job, video=flag in ("true", "1", "yes"))
    return web.json_response(Deleted.model_validate(deleted.to_json()).to_json())


def _refuse_cross_site(request: web.Request, allowed_origins: frozenset[str]) -> None:
    """A page on another site may not probe for or play our videos. Browsers say where a request
    comes from in Sec-Fetch-Site; the frontend (localhost:5173 -> localhost:5000) is same-site, curl
    sends nothing. A frontend origin we serve (Origin or Referer in the CORS list) is let through
    even when the browser calls it cross-site (localhost:5173 calling 127.0.0.1:5000)."""
    site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    if site != "cross-site":
        return
    origin = request.headers.get("Origin")
    referer = request.headers.get("Referer", "")
    ref_origin = "/".join(referer.split("/", 3)[:3]) if "://" in referer else ""
    if origin in allowed_origins or ref_origin in allowed_origins:
        return
    raise RequestInvalid(
        "Sec-Fetch-Site",
        "videos are served to this machine's own pages only (cross-site requests are refused); "
        "open the video from the StoryReel frontend or download it with curl",
        status=403,
    )


async def video(request: web.Request) -> web.StreamResponse:
    config = request.app[config_key]
    _refuse_cross_site(request, frozenset(config.cors_origins))
    name = request.match_info["name"]
    if not VIDEO_NAME.match(name) or name.startswith("."):
        raise NotFound(f"No video named {shown(name)}")
    path = config.videos_dir / name
    try:
        mode = path.lstat().st_mode
    except OSError:
        raise NotFound(f"No video named {shown(name)}") from None
    if not stat.S_ISREG(mode):  # symlinks, folders, devices: never served
        raise NotFound(f"No video named {shown(name)}")
    return web.FileResponse(path, headers={"Content-Type": "video/mp4", "Cache-Control": "no-cache"})


async def get_options(request: web.Request) -> web.Response:
    from engine.narration.voice_packs import support

    config = request.app[config_key]

    def listed() -> dict[str, list[dict[str, Any]]]:
        out = options()
        tts = installed_voices(config)
        out["language"] = [{**row, **{k: v for k, v in support(row["value"], tts).to_dict().items()
                                      if k in ("served", "voices", "backends", "install", "notes")}}
                           for row in out["language"]]
        return out

    answer = await asyncio.get_running_loop().run_in_executor(None, listed)
    return web.json_response(Options.model_validate(answer).model_dump(mode="json", exclude_none=True))


async def get_voices(request: web.Request) -> web.Response:
    from engine.models import find_installed
    from engine.narration.voices import list_voices

    models_dir = request.app[config_key].models_dir

    def voices() -> list[dict[str, Any]]:
        return list_voices({m.name: m.path for m in find_installed(models_dir) if m.kind == "tts"})

    listed = await asyncio.get_running_loop().run_in_executor(None, voices)
    return web.json_response(Voices.model_validate({"voices": listed}).to_json())


async def get_models(request: web.Request) -> web.Response:
    from engine.models import device_info, find_installed, missing_report

    models_dir = request.app[config_key].models_dir

    def report() -> dict[str, Any]:
        installed = find_installed(models_dir)
        return {
            "installed": [m.to_dict() for m in installed],
            "missing": missing_report(models_dir, installed),
            "device": device_info().to_dict(),
        }

    body = await asyncio.get_running_loop().run_in_executor(None, report)
    body["stages"] = request.app[services_key].backends.describe()
    body["warnings"] = list(request.app[services_key].backends.warnings)
    return web.json_response(ModelsReport.model_validate(body).to_json())


#: Uploads received at once; one more is answered 429 (each holds one chunk in memory, at most).
UPLOADS_AT_ONCE = 4
#: Uploads decoded (checked pixel by pixel) at once: a 50-megapixel image takes ~200 MB to decode.
DECODES_AT_ONCE = 1
UPLOAD_CHUNK = 64 * 1024
#: Multipart framing allowed on top of the file itself (boundaries, part headers, small fields).
MULTIPART_OVERHEAD = 64 * 1024
MAX_FORM_PARTS = 8


@dataclass
class UploadGate:
    """Bounds uploads at once (refused past ``limit``) and full decodes at once (queued)."""

    limit: int = UPLOADS_AT_ONCE
    active: int = 0
    decodes: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(DECODES_AT_ONCE))

    def enter(self) -> bool:
        if self.active >= self.limit:
            return False
        self.active += 1
        return True

    def leave(self) -> None:
        self.active -= 1


upload_gate_key = web.AppKey("upload_gate", UploadGate)


def _too_large(config: Config) -> RequestInvalid:
    return RequestInvalid("file", f"is larger than {config.max_upload_bytes / 2**20:.4g} MB", status=413)


def _discard(path: Path) -> None:
    """Remove a temp file that may not exist (or whose folder is gone); never raises."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _not_stored(config: Config, exc: OSError) -> RequestInvalid:
    """A 507 that says why the upload folder would not take the file, in words a creator can act on."""
    why = exc.strerror or exc.__class__.__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = shutil.disk_usage(config.upload_dir).free
            why = f"the disk is full ({free / 2**20:.0f} MB free); free some space and send it again"
        except OSError:
            why = "the disk is full; free some space and send it again"
    return RequestInvalid("file", f"could not be stored in {config.upload_dir}: {why}", status=507)


async def _save_file_part(request: web.Request, reader: MultipartReader, config: Config) -> tuple[str, Path]:
    """Streams the form's ``file`` part into a temp file in the upload folder: (filename, temp path).
    Memory holds one chunk; the file stops at the size limit."""
    loop = asyncio.get_running_loop()
    body_limit = config.max_upload_bytes + MULTIPART_OVERHEAD
    parts = 0
    while (part := await idle_bounded(reader.next(), "file")) is not None:  # skipped parts are dropped
        parts += 1
        if parts > MAX_FORM_PARTS:
            raise RequestInvalid("file", f"the form has over {MAX_FORM_PARTS} parts; send one named 'file'")
        if request.content.total_bytes > body_limit:
            raise _too_large(config)
        if not isinstance(part, BodyPartReader) or part.name != "file":
            continue
        filename = part.filename or "upload"
        tmp = part_path(config.upload_dir / "upload")  # swept at start if a crash leaves it
        try:
            tmp.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                size = 0
                while chunk := await idle_bounded(part.read_chunk(UPLOAD_CHUNK), "file"):
                    size += len(chunk)
                    if size > config.max_upload_bytes:
                        raise _too_large(config)
                    await loop.run_in_executor(None, fh.write, chunk)
        except OSError as exc:  # ours, not the client's: disk full, read-only or missing folder
            await loop.run_in_executor(None, _discard, tmp)
            raise _not_stored(config, exc) from None
        except BaseException:
            await loop.run_in_executor(None, _discard, tmp)
            raise
        return filename, tmp
    raise RequestInvalid("file", "missing: send the image as a multipart part named 'file'")


async def upload(request: web.Request) -> web.Response:
    from engine.images.validate import store_upload_file

    config = request.app[config_key]
    if request.content_type != "multipart/form-data":
        raise RequestInvalid("Content-Type", "must be multipart/form-data with a 'file' part", status=415)
    declared = request.content_length
    if declared is not None and declared > config.max_upload_bytes + MULTIPART_OVERHEAD:
        raise _too_large(config)
    gate = request.app[upload_gate_key]
    if not gate.enter():
        raise RequestInvalid(
            "file", f"{gate.limit} uploads are already in progress; send this one when one ends", status=429
        )
    loop = asyncio.get_running_loop()
    try:
        boundary = parse_mimetype(request.headers.get("Content-Type", "")).parameters.get("boundary", "")
        if not BOUNDARY.match(boundary):
            raise RequestInvalid(
                "Content-Type",
                "multipart/form-data needs a boundary=... parameter of 1-70 letters, digits or "
                "'()+_,-./:=? (let the HTTP client build the form)",
            )
        reader = await request.multipart()
        try:
            filename, tmp = await _save_file_part(request, reader, config)
        except web.HTTPRequestEntityTooLarge:
            raise _too_large(config) from None
        except FORM_ERRORS as exc:
            raise RequestInvalid(
                "file", f"the multipart form is malformed or cut short ({exc.__class__.__name__})"
            ) from None
        try:
            async with gate.decodes:
                path = await loop.run_in_executor(None, store_upload_file, tmp, filename, config.upload_dir)
        except BadInput as exc:
            raise RequestInvalid("file", exc.message) from None
        except OSError as exc:  # the stored name could not be made (disk full, read-only folder)
            raise _not_stored(config, exc) from None
        finally:
            await loop.run_in_executor(None, _discard, tmp)
    finally:
        gate.leave()
    return web.json_response(Stored(path=str(path), filename=path.name).to_json(), status=201)


@cache
def _openapi_text() -> str:
    """/api/openapi.json's body, as json_response writes it (json.dumps): made on the first request."""
    return json.dumps(openapi_document())


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(text=_openapi_text())


def setup_routes(app: web.Application) -> list[web.AbstractRoute]:
    """Adds every route (and the upload gate); returns those that browsers call cross-origin (for CORS)."""
    app[upload_gate_key] = UploadGate()
    app[views_key] = ViewMaker(app[config_key].models_dir)
    quiet_client_errors()  # aiohttp's own 400s for malformed HTTP: one INFO line, not an ERROR traceback
    return list(
        app.router.add_routes(
            [
                web.get("/health", health),
                web.post("/api/generate-video", generate_video),
                web.get("/api/progress", progress),
                web.get("/api/video/{name}", video),  # GET also answers HEAD
                web.get("/api/jobs", list_jobs),
                web.get("/api/jobs/{job_id}", get_job),
                web.post("/api/jobs/{job_id}/cancel", cancel_job),
                web.delete("/api/jobs/{job_id}", delete_job),
                web.get("/api/options", get_options),
                web.get("/api/voices", get_voices),
                web.get("/api/models", get_models),
                web.post("/api/upload", upload),
                web.get("/api/openapi.json", openapi),
                *export_routes(),
                *storyboard_routes(),
            ]
        )
    )
