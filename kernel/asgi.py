"""The base of the server's pure ASGI middlewares, and the ``send`` wrapper that tells them how the response began.

Pure ASGI rather than starlette's ``BaseHTTPMiddleware``: streaming responses pass through unbuffered, and the
contextvars a middleware sets are visible to the endpoint, which runs in the same task.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpMiddleware:
    """``handle`` sees every HTTP request; anything else (lifespan, websockets) passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class ResponseStatus:
    """A ``send`` that passes every message on and notes the status the response started with: ``None`` while
    it has not started, as when the app raised before answering."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status: int | None = None

    @property
    def started(self) -> bool:
        return self.status is not None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)
