"""Per-request correlation id: accepted from the caller or generated, bound to every log line, echoed back.

asgi-correlation-id reads, checks, generates and echoes the ``x-request-id``; ``AccessLogMiddleware`` binds it
for structlog and writes the one ``http_request`` line. Both are pure ASGI middlewares (not
``BaseHTTPMiddleware``) so the contextvars they set are visible to the endpoint, which runs in the same task,
and streaming responses are not buffered.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Final

import structlog
from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from starlette.types import ASGIApp, Receive, Scope, Send

from kernel.asgi import HttpMiddleware, ResponseStatus

REQUEST_ID_HEADER: Final = "x-request-id"

#: Caller-supplied ids end up in logs and response headers: only short, boring characters are trusted.
_SANE_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,128}")

#: Probe and scrape endpoints are hit every few seconds; logging them would drown real traffic.
_QUIET_PATHS: Final[frozenset[str]] = frozenset({"/healthz", "/readyz", "/metrics", "/v1/health"})

_log = structlog.get_logger("compass.http")


def _sane(candidate: str) -> bool:
    """A hostile header must not forge or bloat log lines: anything else is replaced by a fresh id."""
    return _SANE_REQUEST_ID.fullmatch(candidate) is not None


def request_id() -> str | None:
    """The id of the request this task serves."""
    return correlation_id.get()


class RequestContextMiddleware(CorrelationIdMiddleware):
    """Give every HTTP request an id, bind it for structlog, echo it, and log one ``http_request`` line."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(
            AccessLogMiddleware(app),
            header_name=REQUEST_ID_HEADER,
            generator=lambda: uuid.uuid4().hex,
            validator=_sane,
            update_request_header=False,
        )


class AccessLogMiddleware(HttpMiddleware):
    """Binds the request id for structlog and logs the request's method, path, status and duration."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = ResponseStatus(send)
        # reset (not clear_contextvars) so bindings made by outer layers survive this request.
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id())
        started = time.perf_counter()
        try:
            await self.app(scope, receive, response)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 3)
            if scope.get("path") not in _QUIET_PATHS:
                _log.info(
                    "http_request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=response.status or 500,  # what the client sees if the app died before answering
                    duration_ms=duration_ms,
                )
            structlog.contextvars.reset_contextvars(**tokens)
