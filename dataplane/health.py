"""The health and metrics listener of a runtime-side process: ``/healthz`` (the process serves), ``/readyz``
(it can answer from its whole source), ``/metrics`` (Prometheus), and Kyma's ``/v1/health``. Anything else is
answered in Kyma's error JSON."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_JSON = b"application/json;charset=UTF-8"


class HealthApp:
    def __init__(
        self, ready: Callable[[], bool], *, more_metrics: Callable[[], Awaitable[bytes]] | None = None
    ) -> None:
        """``more_metrics``: exposition text appended to this process's own (another process's metrics)."""
        self._ready = ready
        self._more_metrics = more_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002 - ASGI's signature
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path not in ("/healthz", "/readyz", "/metrics", "/v1/health"):
            await _json(send, 404, {"code": 404, "error": "Requested resource could not be found."})
        elif method not in ("GET", "HEAD"):
            await _json(send, 405, {"code": 405, "error": "Method not allowed."})
        elif path == "/metrics":
            more = await self._more_metrics() if self._more_metrics is not None else b""
            await _answer(send, 200, CONTENT_TYPE_LATEST.encode(), generate_latest() + more)
        elif path == "/readyz" and not self._ready():
            await _json(send, 503, {"code": 503, "error": "not ready: the Applications are still being read"})
        else:
            await _answer(send, 200, b"text/plain; charset=utf-8", b"ok\n" if path != "/v1/health" else b"")


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    await _answer(send, status, _JSON, (json.dumps(body) + "\n").encode())


async def _answer(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
