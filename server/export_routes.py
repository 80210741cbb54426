"""GET /api/jobs/{job_id}/export/{name}: a complete job's exports (engine/exports.py) — captions.srt,
captions.vtt, script.json, poster.jpg — served from the job's folder while it is kept."""

from __future__ import annotations

import stat

from aiohttp import web

from engine.exports import EXPORTS, EXPORTS_DIR
from server.jobs import Job, JobState
from server.keys import config_key, services_key


def export_urls(job: Job) -> dict[str, str]:
    """name -> URL of every export of a complete job (empty for any other)."""
    if job.state is not JobState.COMPLETE:
        return {}
    return {name: f"/api/jobs/{job.id}/export/{name}" for name in EXPORTS}


async def get_export(request: web.Request) -> web.StreamResponse:
    from server.routes import job_id_param
    from server.schemas import NotFound

    job_id = job_id_param(request.match_info["job_id"])
    name = request.match_info["name"]
    if name not in EXPORTS:
        raise NotFound(f"No export named {name[:40]!r}; there are {', '.join(EXPORTS)}")
    job = request.app[services_key].store.get(job_id)
    if job is None:
        raise NotFound(f"No job with id {job_id!r}")
    if job.state is not JobState.COMPLETE:
        raise NotFound(f"Job {job_id} is {job.state.value}; its exports are written once it is complete")
    path = request.app[config_key].jobs_dir / job_id / EXPORTS_DIR / name
    try:
        regular = stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        regular = False
    if not regular:
        raise NotFound(f"Job {job_id} has no {name} (its work folder was deleted, or it finished before "
                       "exports were written)")
    headers = {"Content-Type": EXPORTS[name], "Cache-Control": "no-cache"}
    if name != "poster.jpg":
        headers["Content-Disposition"] = f'attachment; filename="{job_id}-{name}"'
    return web.FileResponse(path, headers=headers)


def export_routes() -> list[web.RouteDef]:
    return [web.get("/api/jobs/{job_id}/export/{name}", get_export)]
