"""Push: a runtime's agent is told within a second that its view changed, and syncs at once.

The agent keeps one ``GET /director/changes`` open over its mTLS connection (``Accept: text/event-stream``,
server-sent events). The stream starts with ``event: subscribed`` (the agent syncs then, for what changed before),
says ``event: changed`` whenever a committed write names the runtime's view, its tenant's views, or its
credentials (``kernel.changes``: the same tags that drop kept answers, from every process), and a comment every
``heartbeat`` seconds so that a dead connection shows. Changes in quick succession make one event. The agent then
syncs as at every period, with ``If-None-Match``: a change that did not touch its answer costs a 304.

Server-sent events rather than a GraphQL subscription over WebSocket: the stream passes the same middleware as a
poll (the certificate, the trusted proxy's header, the body and metrics), needs no second protocol in the agent,
and a stream costs one idle connection and one watcher (bench/fleet.py --push measures it).

A stream ends when the client goes, when the server drains (``draining``), when its runtime opens another one,
when its certificate expires, or when it is no longer valid (checked at each wake-up: a revocation or deletion
wakes it). A process holds at most ``max_streams``; past that, 503 ``TOO_MANY_CHANGE_STREAMS`` and the agent polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.types import Receive, Scope, Send

from kernel.changes import Watch, Watchers, identity_tags, runtime_view, tenant_views
from kernel.errors import CompassError, ForbiddenError
from kernel.http import MethodNotAllowedError, send_graphql_error
from kernel.models import utcnow
from kernel.observability.metrics import RUNTIME_CHANGE_STREAMS
from kernel.principal import CertificateIdentity, ClientKind, ClientPrincipal

HEARTBEAT_SECONDS = 20.0
SUBSCRIBED = b"retry: 5000\nevent: subscribed\ndata: {}\n\n"
CHANGED = b"event: changed\ndata: {}\n\n"
HEARTBEAT = b": heartbeat\n\n"


class TooManyStreamsError(CompassError):
    """The process holds as many change streams as it may: the runtime polls, and tries again later."""

    code = "TOO_MANY_CHANGE_STREAMS"
    http_status = 503


@dataclass
class _Open:
    """A stream being served: ``replaced`` ends it when its runtime opens another."""

    replaced: asyncio.Event = field(default_factory=asyncio.Event)


class ChangeStream:
    def __init__(
        self,
        watchers: Watchers,
        *,
        still_valid: Callable[[CertificateIdentity], Awaitable[bool]],
        draining: asyncio.Event,
        max_streams: int,
        heartbeat: float = HEARTBEAT_SECONDS,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``still_valid``: whether the certificate is one this CA issued, unrevoked, unexpired, of a client that
        still exists, read from what the process keeps. ``max_streams``: open streams per process, so that they
        never take all of a listener's connections (``COMPASS_MAX_CONNECTIONS``) from polls. ``clock``: the app's,
        which ``still_valid`` judges expiry by too."""
        self.watchers = watchers
        self.still_valid = still_valid
        self.draining = draining
        self.max_streams = max_streams
        self.heartbeat = heartbeat
        self.rng = rng or random.Random()  # noqa: S311 - spreading wake-ups, not a secret
        self.clock = clock
        self._open: dict[str, _Open] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal")
        if scope["method"] != "GET":
            await send_graphql_error(send, MethodNotAllowedError("the change stream is read with GET"))
            return
        if not isinstance(principal, ClientPrincipal) or principal.identity.kind is not ClientKind.RUNTIME:
            await send_graphql_error(send, ForbiddenError("only a runtime's certificate has a change stream"))
            return
        identity = principal.identity
        # Watched before the check: a revocation committed while the certificate was looked up wakes the stream.
        with self.watchers.watching(_tags_of(identity)) as watch:
            if not await self.still_valid(identity):
                await send_graphql_error(
                    send, ForbiddenError("only a valid runtime certificate of this CA has a change stream")
                )
                return
            previous = self._open.pop(identity.client_id, None)
            if previous is not None:
                previous.replaced.set()  # a runtime has one stream: a reconnecting agent's old one may linger
            elif len(self._open) >= self.max_streams:
                await send_graphql_error(send, TooManyStreamsError("this server holds all the change streams it may"))
                return
            mine = self._open[identity.client_id] = _Open()
            try:
                with RUNTIME_CHANGE_STREAMS.track_inprogress():
                    await _start(send)
                    await self._stream(identity, watch, mine.replaced, receive, send)
                    with contextlib.suppress(OSError):
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                if self._open.get(identity.client_id) is mine:
                    del self._open[identity.client_id]

    def _seconds_until(self, moment: datetime) -> float:
        return (moment - self.clock()).total_seconds()

    async def _stream(
        self, identity: CertificateIdentity, watch: Watch, replaced: asyncio.Event, receive: Receive, send: Send
    ) -> None:
        ended: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(_disconnected(receive)),
            asyncio.ensure_future(self.draining.wait()),
            asyncio.ensure_future(replaced.wait()),
        ]
        try:
            while True:
                if not await _woken(watch.changed, ended, min(self.heartbeat, self._seconds_until(identity.not_after))):
                    if any(future.done() for future in ended) or self._seconds_until(identity.not_after) <= 0:
                        return
                    await send({"type": "http.response.body", "body": HEARTBEAT, "more_body": True})
                    continue
                if watch.everything:
                    # Anything may have changed (a listener back, another process's write on SQLite): every stream
                    # was woken, and the fleet is told over a heartbeat period rather than all at once.
                    watch.everything = False
                    watch.changed.clear()
                    await _woken(watch.changed, ended, self.rng.uniform(0, self.heartbeat))
                    if any(future.done() for future in ended):
                        return
                watch.changed.clear()
                if not await self.still_valid(identity):
                    return
                await send({"type": "http.response.body", "body": CHANGED, "more_body": True})
        finally:
            for future in ended:
                future.cancel()


async def _woken(changed: asyncio.Event, ended: Sequence[asyncio.Future[Any]], within: float) -> bool:
    """Whether ``changed`` was set ``within`` seconds; returns early when one of ``ended`` is done."""
    woken = asyncio.ensure_future(changed.wait())
    try:
        await asyncio.wait({woken, *ended}, timeout=max(within, 0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        woken.cancel()
    return changed.is_set() and not any(future.done() for future in ended)


def _tags_of(identity: CertificateIdentity) -> tuple[str, ...]:
    return (runtime_view(identity.object_id), tenant_views(identity.tenant_id), *identity_tags(identity))


async def _start(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream"),
                (b"cache-control", b"no-store"),
                (b"x-accel-buffering", b"no"),  # a proxy in front must not hold the events back
            ],
        }
    )
    await send({"type": "http.response.body", "body": SUBSCRIBED, "more_body": True})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
