"""Request guards and the one error middleware.

- Host guard: only loopback names (plus configured ones) are served, against DNS rebinding.
- Origin guard: a state-changing request from a browser origin outside the allowed list is a 403.
- Errors: every failure is JSON {"error": ..., "status": ...}; one log line per request error."""

from __future__ import annotations

import json
import logging
from typing import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from engine.errors import EngineError
from server.config import Config
from server.schemas import NotFound, RequestInvalid

logger = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def error_body(status: int, message: str, **extra: object) -> web.Response:
    return web.json_response({"error": message, "status": status, **extra}, status=status)


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:5000
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def make_guard_middleware(config: Config) -> Middleware:
    allowed_hosts = config.host_names
    allowed_origins = frozenset(config.cors_origins)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = _host_name(request.headers.get("Host", ""))
        if host not in allowed_hosts:
            logger.warning("refused %s %s: Host %r is not allowed", request.method, request.path, host)
            return error_body(403, f"Host {host!r} is not served here; use http://localhost:{config.port}")
        origin = request.headers.get("Origin")
        if request.method in STATE_CHANGING and origin is not None and origin not in allowed_origins:
            logger.warning("refused %s %s: Origin %r is not allowed", request.method, request.path, origin)
            return error_body(
                403,
                f"Origin {origin!r} may not change anything here; allowed origins: "
                f"{', '.join(sorted(allowed_origins))}",
            )
        return await handler(request)

    return guard


def _safe_path(request: web.Request) -> str:
    """The request path for a log line or message: a hostile one can be long and hold anything."""
    path = request.path
    path = path if len(path) <= 200 else path[:200] + "…"
    return path.encode("ascii", "backslashreplace").decode("ascii")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    method, path = request.method, _safe_path(request)
    try:
        return await handler(request)
    except RequestInvalid as exc:
        logger.info("%s %s -> %d %s", method, path, exc.status, exc)
        return web.json_response(exc.as_json(), status=exc.status)
    except NotFound as exc:
        logger.info("%s %s -> 404 %s", method, path, exc.message)
        return error_body(404, exc.message)
    except EngineError as exc:
        logger.info("%s %s -> %d %s", method, path, exc.http_status, exc.message)
        return error_body(exc.http_status, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.content_type == "application/json" and exc.text:
            try:
                json.loads(exc.text)
                logger.info("%s %s -> %d", method, path, exc.status)
                raise
            except ValueError:
                pass
        # A 404 keeps the reason it was raised with; only the router's bare "Not Found" is generic.
        generic = exc.status == 404 and exc.reason == "Not Found"
        message = f"No such endpoint or file: {path}" if generic else exc.reason
        logger.info("%s %s -> %d %s", method, path, exc.status, message)
        return error_body(exc.status, message)
    except Exception:
        logger.exception("%s %s -> 500", method, path)
        return error_body(500, "Internal error; the server log has the details")
