"""create_app(config) -> web.Application. No work at import; heavy set-up happens at startup."""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator, Awaitable, Callable

import aiohttp_cors
from aiohttp import web

from engine.backends import BackendChoice, choose_backends
from server.config import Config
from server.jobs import JobStore
from server.keys import Services, config_key, services_key
from server.middlewares import error_middleware, make_guard_middleware
from server.routes import setup_routes
from server.runner import JobRunner

logger = logging.getLogger(__name__)
BackendFactory = Callable[[Config], BackendChoice]


def default_backends(config: Config) -> BackendChoice:
    return choose_backends(
        models_dir=config.models_dir,
        stock_dir=config.stock_path,
        manual_roots=config.manual_roots,
        script=config.script_backend,
        images=config.images_backend,
        narration=config.narration_backend,
        keep_warm=config.keep_warm,
    )


def _remove_stale_parts(config: Config) -> None:
    for part in config.videos_dir.glob("*.part*"):
        part.unlink(missing_ok=True)


def _services_ctx(backend_factory: BackendFactory) -> Callable[[web.Application], AsyncIterator[None]]:
    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        from engine.models import set_offline_env

        config = app[config_key]
        set_offline_env()
        for folder in (config.data_dir, config.jobs_dir, config.upload_dir, config.videos_dir):
            folder.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        choice = await loop.run_in_executor(None, backend_factory, config)
        await loop.run_in_executor(None, _remove_stale_parts, config)
        store = JobStore(config.db_path)
        runner = JobRunner(store, choice.backends, jobs_dir=config.jobs_dir, videos_dir=config.videos_dir)
        app[services_key].start(store, runner, choice)
        for stage in choice.stages:
            logger.info(
                "%-9s -> %s%s",
                stage.stage,
                stage.backend,
                "" if stage.real_weights else f"  (embedded default; real model: {stage.fix})",
            )
        logger.info("%s", choice.memory_note)
        runner.resume_unfinished()
        try:
            yield
        finally:
            await runner.close()
            store.close()
            app[services_key].stop()

    return services_ctx


CORS_METHODS = "GET, POST, OPTIONS"


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


def create_app(config: Config, *, backend_factory: BackendFactory = default_backends) -> web.Application:
    app = web.Application(
        middlewares=[make_guard_middleware(config), error_middleware],
        client_max_size=config.max_upload_bytes + 1024 * 1024,
    )
    app[config_key] = config
    app[services_key] = Services()
    app.cleanup_ctx.append(_services_ctx(backend_factory))
    routes = setup_routes(app)
    cors = aiohttp_cors.setup(
        app,
        defaults={
            origin: aiohttp_cors.ResourceOptions(
                allow_headers="*",
                allow_methods=["GET", "POST", "OPTIONS"],
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
