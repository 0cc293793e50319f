"""Per-request correlation id: accepted from the caller or generated, bound to every log line, echoed back.

A pure ASGI middleware (not ``BaseHTTPMiddleware``) so the contextvars it binds are visible to the
endpoint, which runs in the same task, and streaming responses are not buffered.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Final

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER: Final = "x-request-id"
_REQUEST_ID_HEADER_BYTES: Final = REQUEST_ID_HEADER.encode("latin-1")

#: Caller-supplied ids end up in logs and response headers: only short, boring characters are trusted.
_SANE_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,128}")

#: Probe and scrape endpoints are hit every few seconds; logging them would drown real traffic.
_QUIET_PATHS: Final[frozenset[str]] = frozenset({"/healthz", "/readyz", "/metrics"})

_log = structlog.get_logger("compass.http")


def _incoming_request_id(scope: Scope) -> str | None:
    """The caller's ``x-request-id`` if it is sane, so a hostile header cannot forge or bloat log lines."""
    for name, value in scope.get("headers", ()):
        if name.lower() == _REQUEST_ID_HEADER_BYTES:
            candidate = value.decode("latin-1")
            return candidate if _SANE_REQUEST_ID.fullmatch(candidate) else None
    return None


def request_id_from_scope(scope: Scope) -> str | None:
    """The id ``RequestContextMiddleware`` stored for this request, for code that has only the scope."""
    state = scope.get("state")
    if not isinstance(state, dict):
        return None
    request_id = state.get("request_id")
    return request_id if isinstance(request_id, str) else None


class RequestContextMiddleware:
    """Give every HTTP request an id, bind it for structlog, echo it, and log one ``http_request`` line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["request_id"] = request_id
        header_value = request_id.encode("latin-1")
        status = 500  # what the client sees if the app dies before starting a response

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() != _REQUEST_ID_HEADER_BYTES
                ]
                headers.append((_REQUEST_ID_HEADER_BYTES, header_value))
                message["headers"] = headers
            await send(message)

        # reset (not clear_contextvars) so bindings made by outer layers survive this request.
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 3)
            if scope.get("path") not in _QUIET_PATHS:
                _log.info(
                    "http_request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=status,
                    duration_ms=duration_ms,
                )
            structlog.contextvars.reset_contextvars(**tokens)
