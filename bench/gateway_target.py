"""The gateway bench's target: a raw ASGI app whose own cost is tiny and the same whether a call comes directly or
through the gateway, served by uvicorn (uvloop, httptools, no access log) in a process of its own.

- ``GET /bytes/{n}``: n bytes, with ``Authorization`` Basic ``USER:PASSWORD`` or ``Bearer <TOKEN>``, else 401.
  Bodies up to ``BLOCK`` bytes are kept whole per size; larger ones are sent as ``BLOCK``-sized slices of one kept
  block, so a 100 MiB download costs the target no 100 MiB of memory.
- ``POST /sink``: reads the body and drops it (same credentials); answers its length in bytes.
- ``POST /token``: OAuth 2.0 client credentials, the client authenticated by Basic ``CLIENT_ID:CLIENT_SECRET``;
  always the same token, ``expires_in`` 3600.
- ``GET /stats``: ``{"tokens": <token requests answered>}``, so the bench can show the gateway kept its token.
- ``GET /healthz``: 200, for readiness.

Standard library and uvicorn only: ``python -m bench.gateway_target PORT``.
"""

from __future__ import annotations

import base64
import json
import secrets
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

USER, PASSWORD = "bench-user", "bench-password"
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret"
TOKEN_EXPIRES_IN = 3600
BLOCK = 1024 * 1024
# One token for the life of the process: direct calls fetch it once, as the gateway does.
TOKEN = secrets.token_urlsafe(16)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


_ACCEPTED = frozenset({basic(USER, PASSWORD).encode(), f"Bearer {TOKEN}".encode()})
_CLIENT = basic(CLIENT_ID, CLIENT_SECRET).encode()
_bodies: dict[int, bytes] = {}
_tokens_issued = 0


def _authorization(scope: Scope) -> bytes | None:
    return next((value for name, value in scope["headers"] if name == b"authorization"), None)


async def _answer(send: Send, status: int, body: bytes, content_type: bytes = b"text/plain") -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _kept(size: int) -> bytes:
    body = _bodies.get(size)
    if body is None:
        body = _bodies[size] = b"x" * size
    return body


async def _bytes(send: Send, size: int) -> None:
    if size <= BLOCK:
        await _answer(send, 200, _kept(size), b"application/octet-stream")
        return
    block = _kept(BLOCK)
    headers = [(b"content-type", b"application/octet-stream"), (b"content-length", str(size).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for start in range(0, size, BLOCK):
        rest = size - start
        await send(
            {
                "type": "http.response.body",
                "body": block if rest >= BLOCK else block[:rest],
                "more_body": True,
            }
        )
    await send({"type": "http.response.body", "body": b""})


async def _body_length(receive: Receive) -> int:
    length, more = 0, True
    while more:
        message = await receive()
        length += len(message.get("body", b""))
        more = message.get("more_body", False)
    return length


async def _token(scope: Scope, receive: Receive, send: Send) -> None:
    global _tokens_issued  # noqa: PLW0603 - the count /stats reports; one event loop, no lock needed
    await _body_length(receive)
    if _authorization(scope) != _CLIENT:
        await _answer(send, 401, b'{"error":"invalid_client"}', b"application/json")
        return
    _tokens_issued += 1
    token = {"access_token": TOKEN, "token_type": "bearer", "expires_in": TOKEN_EXPIRES_IN}
    await _answer(send, 200, json.dumps(token).encode(), b"application/json")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    path: str = scope["path"]
    if path == "/healthz":
        await _answer(send, 200, b"ok")
    elif path == "/token":
        await _token(scope, receive, send)
    elif path == "/stats":
        await _answer(send, 200, json.dumps({"tokens": _tokens_issued}).encode(), b"application/json")
    elif _authorization(scope) not in _ACCEPTED:
        await _answer(send, 401, b"unauthorized")
    elif path.startswith("/bytes/") and path[len("/bytes/") :].isdigit():
        await _bytes(send, int(path[len("/bytes/") :]))
    elif path == "/sink":
        await _answer(send, 200, str(await _body_length(receive)).encode())
    else:
        await _answer(send, 404, b"not found")


def main(port: int) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="off",
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
