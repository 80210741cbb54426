"""Request guards and the one error middleware.

- Host guard: only loopback names (plus configured ones) are served, against DNS rebinding.
- Origin guard: a state-changing request from a browser origin outside the allowed list is a 403.
- Errors: every failure is JSON {"error": ..., "status": ...}; one log line per request error."""

from __future__ import annotations

import json
import logging
from typing import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware
from aiohttp.web_protocol import RequestPayloadError

from engine.errors import EngineError
from server.config import Config
from server.http_input import NotFound, RequestInvalid
from server.http_responses import ErrorBody

logger = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ClientErrorLogFilter(logging.Filter):
    """aiohttp answers a malformed request itself, below the app (a header over 8190 bytes, broken
    chunked framing, a Content-Encoding that does not decode), and logs it at ERROR with a traceback,
    as if the server had failed. It is the client's fault: this turns such records into one INFO
    line without a traceback; a real failure (anything else) is left as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        seen = 0
        cause = exc
        while cause is not None and not isinstance(cause, (HttpProcessingError, RequestPayloadError)):
            cause = cause.__cause__ or cause.__context__
            seen += 1
            if seen > 8:
                cause = None
        if exc is None or cause is None:
            return True
        text = " ".join(str(exc).split())
        text = (text if len(text) <= 200 else text[:200] + "…").encode("ascii", "backslashreplace").decode()
        record.msg, record.args = "refused a malformed request (%s): %s", (type(exc).__name__, text)
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info, record.exc_text = None, None
        return True


def quiet_client_errors() -> None:
    """Installs ClientErrorLogFilter on aiohttp's protocol logger, once per process."""
    protocol_logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientErrorLogFilter) for f in protocol_logger.filters):
        protocol_logger.addFilter(ClientErrorLogFilter())


def error_body(status: int, message: str) -> web.Response:
    return web.json_response(ErrorBody(error=message, status=status).to_json(), status=status)


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
