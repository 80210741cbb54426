"""The route table and thin handlers: parse -> one service call -> JSON."""

from __future__ import annotations

import asyncio
import json
import re
import stat
from typing import Any

from aiohttp import web

from server.jobs import Job, JobState
from server.keys import config_key, services_key
from server.openapi import openapi_document
from server.paths import path_checker
from server.schemas import RequestInvalid, options, parse_video_request

VIDEO_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.mp4$")


async def read_json(request: web.Request) -> Any:
    config = request.app[config_key]
    if request.content_type != "application/json":
        raise RequestInvalid(
            "Content-Type", f"must be application/json, got {request.content_type!r}", status=415
        )
    if request.content_length is not None and request.content_length > config.max_body_bytes:
        raise RequestInvalid("body", f"is larger than {config.max_body_bytes} bytes", status=413)
    raw = await request.content.read(config.max_body_bytes + 1)
    if len(raw) > config.max_body_bytes:
        raise RequestInvalid("body", f"is larger than {config.max_body_bytes} bytes", status=413)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestInvalid("body", f"is not valid JSON ({exc})") from None


def progress_view(job: Job, ahead: int) -> dict[str, Any]:
    """The frontend's /api/progress shape; finer states ride along as extra fields."""
    body: dict[str, Any] = {
        "status": job.state.public_status,
        "progress": int(job.progress),
        "job_id": job.id,
        "state": job.state.value,
        "stage": job.stage,
    }
    if job.state is JobState.COMPLETE:
        body.update(
            progress=100,
            video_path=job.video,
            video_url=f"/api/video/{job.video}",
            substatus="Video ready for download",
        )
    elif job.state.finished:
        body.update(error=job.error or "The job failed", substatus=job.substatus)
    elif job.state is JobState.QUEUED:
        body.update(
            progress=int(job.progress),
            substatus=f"Waiting for {ahead} job(s) ahead" if ahead else "Starting…",
        )
    else:
        body["substatus"] = job.substatus
    body["details"] = "\n".join(job.details)
    return body


def job_view(job: Job, ahead: int) -> dict[str, Any]:
    return {
        **progress_view(job, ahead),
        "video": job.video,
        "error": job.error,
        "details": list(job.details),
        "spec": job.spec.to_dict(),
        "timings": dict(job.timings),
        "attempts": job.attempts,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "updated_at": job.updated_at,
    }


def _job_or_404(request: web.Request) -> Job:
    job = request.app[services_key].store.get(request.match_info["job_id"])
    if job is None:
        raise web.HTTPNotFound(reason=f"No job with id {request.match_info['job_id']!r}")
    return job


async def health(request: web.Request) -> web.Response:
    choice = request.app[services_key].backends
    return web.json_response(
        {
            "status": "ok",
            "backends": choice.describe(),
            "draft_stages": [s.stage for s in choice.stages if not s.real_weights],
            "memory": choice.memory_note,
        }
    )


async def generate_video(request: web.Request) -> web.Response:
    body = await read_json(request)
    config = request.app[config_key]
    check = path_checker(config.manual_roots)
    spec = await asyncio.get_running_loop().run_in_executor(
        None, lambda: parse_video_request(body, check_path=check)
    )
    job = request.app[services_key].runner.submit(spec)
    return web.json_response({"status": "generating", "job_id": job.id})


async def progress(request: web.Request) -> web.Response:
    store = request.app[services_key].store
    job_id = request.query.get("job_id")
    job = store.get(job_id) if job_id else store.latest()
    if job is None:
        if job_id:
            raise web.HTTPNotFound(reason=f"No job with id {job_id!r}")
        return web.json_response({"status": "idle", "progress": 0})
    ahead = store.ahead_of(job.id) if job.state is JobState.QUEUED else 0
    return web.json_response(progress_view(job, ahead))


async def list_jobs(request: web.Request) -> web.Response:
    try:
        limit = min(200, max(1, int(request.query.get("limit", "50"))))
    except ValueError:
        raise RequestInvalid("limit", "must be an integer between 1 and 200") from None
    store = request.app[services_key].store
    jobs = store.recent(limit)
    return web.json_response(
        {"jobs": [job_view(j, store.ahead_of(j.id) if j.state is JobState.QUEUED else 0) for j in jobs]}
    )


async def get_job(request: web.Request) -> web.Response:
    job = _job_or_404(request)
    store = request.app[services_key].store
    return web.json_response(job_view(job, store.ahead_of(job.id) if job.state is JobState.QUEUED else 0))


async def cancel_job(request: web.Request) -> web.Response:
    if request.can_read_body:
        await read_json(request)
    job = _job_or_404(request)
    if job.state.finished:
        return web.json_response({**job_view(job, 0), "cancel": "already finished"}, status=409)
    updated = request.app[services_key].runner.cancel(job.id) or job
    return web.json_response({**job_view(updated, 0), "cancel": "requested"}, status=202)


async def video(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if not VIDEO_NAME.match(name) or name.startswith("."):
        raise web.HTTPNotFound(reason=f"No video named {name!r}")
    path = request.app[config_key].videos_dir / name
    try:
        mode = path.lstat().st_mode
    except OSError:
        raise web.HTTPNotFound(reason=f"No video named {name!r}") from None
    if not stat.S_ISREG(mode):  # symlinks, folders, devices: never served
        raise web.HTTPNotFound(reason=f"No video named {name!r}")
    return web.FileResponse(path, headers={"Content-Type": "video/mp4", "Cache-Control": "no-cache"})


async def get_options(request: web.Request) -> web.Response:
    return web.json_response(options())


async def get_voices(request: web.Request) -> web.Response:
    from engine.models import find_installed
    from engine.narration.voices import list_voices

    models_dir = request.app[config_key].models_dir

    def voices() -> list[dict[str, Any]]:
        return list_voices({m.name: m.path for m in find_installed(models_dir) if m.kind == "tts"})

    return web.json_response({"voices": await asyncio.get_running_loop().run_in_executor(None, voices)})


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
    return web.json_response(body)


async def upload(request: web.Request) -> web.Response:
    from engine.images.validate import store_upload

    config = request.app[config_key]
    if not request.content_type.startswith("multipart/"):
        raise RequestInvalid("Content-Type", "must be multipart/form-data with a 'file' part", status=415)
    reader = await request.multipart()
    async for part in reader:
        if getattr(part, "name", None) != "file":
            continue
        data = bytearray()
        while chunk := await part.read_chunk(1 << 16):  # type: ignore[union-attr]
            data += chunk
            if len(data) > config.max_upload_bytes:
                raise RequestInvalid(
                    "file", f"is larger than {config.max_upload_bytes // (1024 * 1024)} MB", status=413
                )
        filename = getattr(part, "filename", None) or "upload"
        path = await asyncio.get_running_loop().run_in_executor(
            None, store_upload, bytes(data), filename, config.upload_dir
        )
        return web.json_response({"path": str(path), "filename": path.name}, status=201)
    raise RequestInvalid("file", "missing: send the image as a multipart part named 'file'")


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


def setup_routes(app: web.Application) -> list[web.AbstractRoute]:
    """Adds every route; returns those that browsers call cross-origin (for CORS)."""
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
                web.get("/api/options", get_options),
                web.get("/api/voices", get_voices),
                web.get("/api/models", get_models),
                web.post("/api/upload", upload),
                web.get("/api/openapi.json", openapi),
            ]
        )
    )
