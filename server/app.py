"""create_app(config) -> web.Application. No work at import; heavy set-up happens at startup."""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator, Awaitable, Callable

import aiohttp_cors
from aiohttp import web

from server.config import Config
from server.jobs import JobStore
from server.datafolder import data_folder_ctx
from server.keys import Services, config_key, retention_key, services_key
from server.middlewares import error_middleware, make_guard_middleware
from server.retention import Retention
from server.routes import setup_routes
from server.runner import JobRunner
from server.storyboards import StoryboardStore
from server.workerproto import encode_config

logger = logging.getLogger(__name__)


async def _services(app: web.Application) -> AsyncIterator[None]:
    """The job store and the lanes; the models live in the lanes' worker processes."""
    config = app[config_key]
    for folder in (config.data_dir, config.jobs_dir, config.upload_dir, config.videos_dir):
        folder.mkdir(parents=True, exist_ok=True)
    loop = asyncio.get_running_loop()
    store = await loop.run_in_executor(None, JobStore, config.db_path)
    storyboards = await loop.run_in_executor(None, StoryboardStore, config.db_path)
    await loop.run_in_executor(None, storyboards.requeue_running)  # left running by a previous process
    runner = JobRunner(store, config_json=encode_config(config), lanes=config.lane_specs,
                       jobs_dir=config.jobs_dir, videos_dir=config.videos_dir,
                       stall_seconds=config.worker_stall_seconds, tasks=storyboards)
    try:
        await loop.run_in_executor(None, runner.resume_unfinished)
        summary = await runner.start()
    except BaseException:
        await runner.close()
        store.close()
        storyboards.close()
        raise
    app[services_key].start(store, runner, summary, storyboards)
    for stage in summary.stages:
        logger.info(
            "%-9s -> %s%s",
            stage.stage,
            stage.backend,
            "" if stage.real_weights else f"  (embedded default; real model: {stage.fix})",
        )
    logger.info("%s", summary.memory_note)
    for warning in summary.warnings:  # the doctor's start-up checks, loudest first
        logger.warning("%s", warning)
    try:
        yield
    finally:
        await runner.close()
        store.close()
        storyboards.close()
        app[services_key].stop()


CORS_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"


def _cors_on_every_response(
    origins: frozenset[str],
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """aiohttp-cors decorates the routes it knows; this makes every answer to an allowed origin
    carry the CORS headers too (errors, 404s, 405s), so the browser shows our JSON error instead
    of an opaque CORS failure, and the integration guide's curl check sees the methods we allow."""

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if origin in origins:
            response.headers.setdefault("Access-Control-Allow-Origin", origin)
            response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
            if "Origin" not in response.headers.get("Vary", ""):
                response.headers.add("Vary", "Origin")

    return on_prepare


def create_app(config: Config) -> web.Application:
    app = web.Application(
        middlewares=[make_guard_middleware(config), error_middleware],
        client_max_size=config.max_upload_bytes + 1024 * 1024,
    )
    app[config_key] = config
    app[services_key] = Services()
    app.cleanup_ctx.append(data_folder_ctx)  # first: sweeps temporary leftovers before any job runs
    app.cleanup_ctx.append(_services)
    app[retention_key] = Retention(config, lambda: app[services_key].store)
    app.cleanup_ctx.append(app[retention_key].ctx)  # after _services: it needs the job store
    routes = setup_routes(app)
    cors = aiohttp_cors.setup(
        app,
        defaults={
            origin: aiohttp_cors.ResourceOptions(
                allow_headers="*",
                allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
                expose_headers=("Content-Range", "Accept-Ranges", "Content-Length"),
                max_age=600,
            )
            for origin in config.cors_origins
        },
    )
    for route in routes:
        if route.method != "HEAD":
            cors.add(route)
    app.on_response_prepare.append(_cors_on_every_response(frozenset(config.cors_origins)))
    return app
