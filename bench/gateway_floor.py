"""The gateway bench's floor: a bare forwarder on the gateway's own stack (uvicorn with uvloop and httptools, raw
ASGI, one aiohttp session with the gateway's settings) that passes each call to the target as it came, with no
lookup, credentials, parameters, retry, metrics or rewriting. What it reaches through is the most any proxy written
this way could reach on the same machine; the gateway is measured against it as well as against direct calls.

``python -m bench.gateway_floor PORT TARGET_URL``.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp
import uvicorn

from dataplane.serving import Listener, bind, uvicorn_config

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_DROPPED = frozenset({b"host", b"connection", b"transfer-encoding", b"keep-alive"})


class Forwarder:
    def __init__(self, target_url: str) -> None:
        self.target_url = target_url.rstrip("/")
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        headers = [
            (name.decode(), value.decode()) for name, value in scope["headers"] if name not in _DROPPED
        ]
        message = await receive()
        body = message.get("body", b"") or None
        url = self.target_url + scope["raw_path"].decode()
        async with self.session.request(scope["method"], url, headers=headers, data=body) as response:
            kept = [(name, value) for name, value in response.raw_headers if name.lower() not in _DROPPED]
            await send({"type": "http.response.start", "status": response.status, "headers": kept})
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def main(port: int, target_url: str) -> None:
    """Served as the gateway serves its proxy listeners (dataplane.serving), loop and parser included."""
    listener = Listener("floor", Forwarder(target_url), "127.0.0.1", port, proxy=True)
    uvicorn.Server(uvicorn_config(listener)).run(sockets=bind([listener]))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
