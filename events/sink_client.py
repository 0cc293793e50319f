"""The HTTP/1.1 client that POSTs events to the Subscriptions' sinks.

Written here instead of using aiohttp's client, because delivery makes one small POST per event. aiohttp spends
about 150 µs of CPU on each of those, as much as the ingress spends taking the event in. This client is an
asyncio protocol that uses httptools (uvicorn's parser) to read the answer, and it spends about 45 µs (see
ARCHITECTURE.md, "Where we wrote our own").

It does only what delivery needs:

- a POST whose body length is known, over http or https;
- kept-alive connections, per origin;
- one total timeout per POST;
- the answer's status and reason. Its body is read and dropped.

A sink that answers 3xx did not take the event, so redirects are not followed. Proxies and cookies are not
supported either. A POST on a kept-alive connection that the sink closed meanwhile is sent once more on a new
connection, but only when no byte of an answer came back. Delivery is at least once either way.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import cast
from urllib.parse import urlsplit

import httptools

IDLE_PER_ORIGIN = 4  # kept-alive connections kept per origin; more are closed after their answer
_FORBIDDEN_IN_HEADERS = re.compile("[\r\n\0]")


class SinkError(Exception):
    """No answer: the connection was refused, reset or timed out, or the answer was not HTTP."""


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int

    @property
    def tls(self) -> bool:
        return self.scheme == "https"


@dataclass(frozen=True)
class _Target:
    origin: _Origin
    head: bytes  # the request line and Host header


@lru_cache(maxsize=256)
def _target(url: str) -> _Target:
    """The origin and request head of a sink URL; a Subscription's sink is parsed once, not per event."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"not an http or https URL: {url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc.rpartition("@")[2]  # user information is not sent in Host
    head = f"POST {target} HTTP/1.1\r\nHost: {host}\r\n".encode("ascii")
    return _Target(_Origin(parts.scheme, parts.hostname, port), head)


def _header_lines(headers: Mapping[str, str], length: int) -> bytes:
    if _FORBIDDEN_IN_HEADERS.search("".join(headers) + "".join(headers.values())):
        raise ValueError("a header holds a line break or NUL")
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"{lines}Content-Length: {length}\r\n\r\n".encode("latin-1")  # UnicodeEncodeError is a ValueError


class _Connection(asyncio.Protocol):
    """One connection; at most one request on it at a time (no pipelining)."""

    def __init__(self, open_connections: set[_Connection]) -> None:
        self.closed = False
        self._open = open_connections  # the client's: what its close() closes
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Answer] | None = None
        self._reason = b""
        self._received = False  # any byte of the current request's answer
        self._headers_done = False
        self._keep_alive = True

    @property
    def received(self) -> bool:
        return self._received

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self._open.add(self)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # nothing was asked: a sink that talks out of turn is not trusted further
            self.close()
            return
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(SinkError(f"the answer is not HTTP/1.1: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._open.discard(self)
        if self._headers_done and self._waiter is not None and not self._waiter.done():
            # The status came, and that is the answer: one without Content-Length or chunked encoding ends
            # when the connection does.
            self._waiter.set_result(Answer(self._parser.get_status_code(), self._reason.decode("latin-1")))
            return
        reason = f": {exc}" if exc is not None else ""
        self._fail(SinkError(f"the sink closed the connection without an answer{reason}"))

    # httptools callbacks

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # noqa: PLR2004 - 1xx: an interim answer, the final one follows
            self._reason, self._headers_done = b"", False
            return
        self._keep_alive = self._parser.should_keep_alive()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(Answer(status, self._reason.decode("latin-1")))

    # the client's side

    async def request(self, data: bytes) -> Answer:
        if self._transport is None or self.closed:
            raise SinkError("the connection is closed")
        self._waiter = asyncio.get_running_loop().create_future()
        self._reason, self._received, self._headers_done = b"", False, False
        try:
            self._transport.write(data)
            answer = await self._waiter
        except BaseException:
            self.close()  # timed out or cancelled mid-request: the rest of the answer must not meet the next one
            raise
        finally:
            self._waiter = None
        if not self._keep_alive:
            self.close()
        return answer

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def _fail(self, error: SinkError) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)


class SinkClient:
    def __init__(self, timeout: float, *, tls: ssl.SSLContext | None = None) -> None:
        self.timeout = timeout
        self._tls = tls
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._open: set[_Connection] = set()

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """The sink's answer to one POST.

        Raises:
            ValueError: the URL is no http(s) URL, or a header cannot be sent (a line break, not Latin-1).
            SinkError: no answer within the timeout, or none at all.
        """
        target = _target(url)
        request = target.head + _header_lines(headers, len(body)) + body
        try:
            async with asyncio.timeout(self.timeout):
                connection, reused = await self._acquire(target.origin)
                try:
                    answer = await connection.request(request)
                except SinkError:
                    if not reused or connection.received:
                        raise
                    # The sink closed the kept-alive connection before this request reached it.
                    connection, _ = await self._acquire(target.origin, fresh=True)
                    answer = await connection.request(request)
        except TimeoutError:
            raise SinkError(f"no answer within {self.timeout:g} s") from None
        except OSError as exc:  # refused, unreachable, a failed TLS handshake
            raise SinkError(str(exc) or type(exc).__name__) from None
        self._release(target.origin, connection)
        return answer

    def close(self) -> None:
        for connection in [*self._open]:
            connection.close()
        self._idle.clear()

    async def _acquire(self, origin: _Origin, *, fresh: bool = False) -> tuple[_Connection, bool]:
        idle = self._idle.get(origin, [])
        while idle and not fresh:
            connection = idle.pop()
            if not connection.closed:
                return connection, True
        tls: ssl.SSLContext | None = None
        if origin.tls:
            if self._tls is None:
                self._tls = ssl.create_default_context()  # the system's CAs, loaded once
            tls = self._tls
        _, connection = await asyncio.get_running_loop().create_connection(
            lambda: _Connection(self._open),
            origin.host,
            origin.port,
            ssl=tls,
            server_hostname=origin.host if tls else None,
        )
        return connection, False

    def _release(self, origin: _Origin, connection: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if connection.closed or len(idle) >= IDLE_PER_ORIGIN:
            connection.close()
        else:
            idle.append(connection)
