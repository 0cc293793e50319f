"""The subscriber's service in the events bench: it answers 204 to every POST and notes when each body arrived.

In a runtime the sink runs on another machine. Here it shares the two CPUs with the system under test, so it is
kept as cheap as a sink can be: an asyncio protocol with httptools on the bench's own event loop. It does no
recording of headers, no ASGI, no locks. testing/sinks.py's RecordingSink, which the tests use, costs about four
times as much per event. The bodies are parsed only after a run.
"""

from __future__ import annotations

import asyncio
import time
from typing import Self, cast

import httptools

from testing.ports import LOOPBACK

_ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


class _Connection(asyncio.Protocol):
    def __init__(self, sink: BenchSink) -> None:
        self._sink = sink
        self._parser = httptools.HttpRequestParser(self)
        self._body: list[bytes] = []
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._sink.arrivals.append((time.monotonic(), b"".join(self._body)))
        self._body = []
        if self._transport is not None:
            self._transport.write(_ANSWER)


class BenchSink:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes]] = []  # time.monotonic() when each body arrived, and the body
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        port = self._server.sockets[0].getsockname()[1]
        return f"http://{LOOPBACK}:{port}/events"

    @property
    def delivered_count(self) -> int:
        return len(self.arrivals)

    def reset(self) -> None:
        self.arrivals = []

    async def __aenter__(self) -> Self:
        self._server = await asyncio.get_running_loop().create_server(lambda: _Connection(self), LOOPBACK, 0)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
