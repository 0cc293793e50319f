"""Deadlines and a cap for the connections of both listeners, which uvicorn's httptools protocol does not have.

uvicorn closes a connection only when it has been idle ``timeout_keep_alive`` seconds *after a response*. A
connection that never completes a request line and headers (idle from the start, or a header trickled byte
by byte: every byte cancels the keep-alive timer) or that sends its body a byte at a time stays open for
ever, and each holds a file descriptor: 800 idle, 400 partial-header and 200 slow-body sockets all stayed
open for 80 s, and with a lower file limit 300 idle sockets made ``/healthz`` fail. ``limit_concurrency``
does not help: beyond its limit uvicorn answers 503 to every request, ``/healthz`` included, for as long as
the attacker's sockets stay open.

``GuardedHttpToolsProtocol`` therefore adds, per connection,

- a header deadline: the request line and headers must be complete within ``header_timeout`` of the
  connection's start or of the request's first byte; not reset by further bytes;
- a body deadline: the whole body must be in within ``body_timeout`` of the headers (the app then sees a
  disconnect);

and, per listener, a cap on open connections: one more closes the connection idle for longest (no request in
flight: waiting for its first request, between two, or mid-headers); when every connection has a request in
flight the new connection is closed instead. So a flood of idle or slowloris sockets costs the attacker its
oldest sockets, and a health probe still gets in; a flood of slow bodies holds the listener for at most
``body_timeout``.

TLS connections are counted from the end of their handshake (asyncio calls ``connection_made`` only then);
the handshake itself is bounded by the event loop (60 s).
"""

from __future__ import annotations

import asyncio
import itertools
import resource
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kernel.observability.metrics import CONNECTIONS_CLOSED_TOTAL

#: File descriptors kept for everything that is not a client connection: database files and pools, logs,
#: metric files, the listening sockets.
RESERVED_FILE_DESCRIPTORS = 128
_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 34\r\n"
    b"connection: close\r\n\r\nthe request did not arrive in time"
)

CloseReason = Literal["header_timeout", "body_timeout", "connection_limit"]
#: Orders connections by when they last became idle; the loop's clock is too coarse (one reading per turn).
_IDLE_ORDER = itertools.count()


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float
    body_timeout: float
    max_connections: int


def connection_cap(configured: int, listeners: int) -> int:
    """``configured``, lowered so that the listeners' connections together leave file descriptors to spare."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(1, min(configured, (soft - RESERVED_FILE_DESCRIPTORS) // listeners))


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body deadlines and a per-listener connection cap.

    Subclasses set ``limits`` (``guarded(base, limits)`` builds them); it cooperates with other subclasses of
    ``HttpToolsProtocol`` (``TLSHttpToolsProtocol``) through ``super()``.
    """

    limits: ClassVar[ConnectionLimits]
    _header_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None
    _reading_body = False
    _partial_request = False
    _idle_since = 0

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._idle_since = next(_IDLE_ORDER)
        self._arm_header_timer()
        cap = self.limits.max_connections
        # Counted only past the cap: connections being closed stay in the set until the next turn.
        if len(self.connections) > cap and self._open_connections() > cap:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Bytes between requests (a new request, or stray line breaks, which start no message) cancel
        # uvicorn's keep-alive timer: the header deadline takes over, and further bytes do not move it.
        if not self._reading_body:
            self._partial_request = True
            self._arm_header_timer()
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        self._partial_request = False
        self._reading_body = True
        self._body_timer = self.loop.call_later(self.limits.body_timeout, self._close, "body_timeout")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        self._reading_body = False
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._idle_since = next(_IDLE_ORDER)
        super().on_response_complete()

    @property
    def _idle(self) -> bool:
        """No request in flight: a victim of the cap loses nothing it asked for."""
        if self._reading_body or self.pipeline:
            return False
        return self.cycle is None or self.cycle.response_complete

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            timeout = self.limits.header_timeout
            self._header_timer = self.loop.call_later(timeout, self._close, "header_timeout")

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _open_connections(self) -> int:
        """The listener's connections that are not closing already (those leave the set a turn later)."""
        return sum(not connection.transport.is_closing() for connection in self.connections)

    def _make_room(self) -> None:
        idle = [
            connection
            for connection in self.connections
            if connection is not self
            and isinstance(connection, GuardedHttpToolsProtocol)
            and connection._idle
            and not connection.transport.is_closing()
        ]
        victim = min(idle, key=lambda connection: connection._idle_since, default=self)
        victim._close("connection_limit")

    def _close(self, reason: CloseReason) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
        if self.transport.is_closing():
            return
        CONNECTIONS_CLOSED_TOTAL.labels(reason=reason).inc()
        if reason == "header_timeout" and self._partial_request and self._idle:
            self.transport.write(_REQUEST_TIMEOUT)
        self.transport.close()


def guarded(base: type[HttpToolsProtocol], limits: ConnectionLimits) -> type[GuardedHttpToolsProtocol]:
    """A protocol class for uvicorn's ``http``: ``base`` (uvicorn's own or a subclass) under ``limits``."""
    protocol = type(f"Guarded{base.__name__}", (GuardedHttpToolsProtocol, base), {"limits": limits})
    return cast(type[GuardedHttpToolsProtocol], protocol)
