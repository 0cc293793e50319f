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

A stream ends when the client goes, when the server drains (``draining``), or when its certificate is no longer
valid (checked at each wake-up: a revocation or deletion wakes it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from starlette.types import Receive, Scope, Send

from kernel.changes import (
    Watchers,
    certificate_revoked,
    client_gone,
    credential_gone,
    runtime_view,
    tenant_gone,
    tenant_views,
)
from kernel.errors import ForbiddenError
from kernel.http import MethodNotAllowedError, send_graphql_error
from kernel.observability.metrics import RUNTIME_CHANGE_STREAMS
from kernel.principal import CertificateIdentity, ClientKind, ClientPrincipal

HEARTBEAT_SECONDS = 20.0
SUBSCRIBED = b"retry: 5000\nevent: subscribed\ndata: {}\n\n"
CHANGED = b"event: changed\ndata: {}\n\n"
HEARTBEAT = b": heartbeat\n\n"


class ChangeStream:
    def __init__(
        self,
        watchers: Watchers,
        *,
        still_valid: Callable[[CertificateIdentity], Awaitable[bool]],
        draining: asyncio.Event,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.watchers = watchers
        self.still_valid = still_valid
        self.draining = draining
        self.heartbeat = heartbeat

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal")
        if scope["method"] != "GET":
            await send_graphql_error(send, MethodNotAllowedError("the change stream is read with GET"))
            return
        if not isinstance(principal, ClientPrincipal) or principal.identity.kind is not ClientKind.RUNTIME:
            await send_graphql_error(send, ForbiddenError("only a runtime's certificate has a change stream"))
            return
        identity = principal.identity
        tags = (
            runtime_view(identity.object_id),
            tenant_views(identity.tenant_id),
            tenant_gone(identity.tenant_id),
            client_gone(identity.object_id),
            credential_gone(identity.client_id),
            certificate_revoked(identity.serial),
        )
        with self.watchers.watching(tags) as watch, RUNTIME_CHANGE_STREAMS.track_inprogress():
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
            await self._stream(identity, watch.changed, receive, send)
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _stream(
        self, identity: CertificateIdentity, changed: asyncio.Event, receive: Receive, send: Send
    ) -> None:
        gone = asyncio.ensure_future(_disconnected(receive))
        draining = asyncio.ensure_future(self.draining.wait())
        try:
            while True:
                woken = asyncio.ensure_future(changed.wait())
                done, _ = await asyncio.wait(
                    {woken, gone, draining}, timeout=self.heartbeat, return_when=asyncio.FIRST_COMPLETED
                )
                woken.cancel()
                if gone in done or draining in done:
                    return
                if changed.is_set():
                    changed.clear()
                    if not await self.still_valid(identity):
                        return
                    await send({"type": "http.response.body", "body": CHANGED, "more_body": True})
                else:
                    await send({"type": "http.response.body", "body": HEARTBEAT, "more_body": True})
        finally:
            gone.cancel()
            draining.cancel()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
