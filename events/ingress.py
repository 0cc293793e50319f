"""The ingress: one ASGI app behind the HTTPS listener. Per request: the validator's ladder (certificate,
application, subject, path) → the route → the body, up to ``EVENTS_MAX_BODY`` → the format's parsing → the
event appended to the log → the answer. An event is acknowledged only once ``append`` returned: by then it is
stored durably, and a refusal from the store (503) tells the application to send it again.

Routes (after the validator): ``POST /<app>/v1/events`` (legacy), ``GET /<app>/v1/events/subscribed``,
``POST /<app>/v2/events`` and ``POST /<app>/events`` (CloudEvents); any other path under those prefixes is 404,
another method 405.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import structlog

from dataplane.catalog.base import Catalog
from dataplane.catalog.model import Application
from events import cloud, legacy, metrics
from events.model import Event
from events.settings import EventsSettings
from events.store.base import EventLog, StoreUnavailable
from events.validator import (
    NOT_ROUTED,
    Admitted,
    Destination,
    Refusal,
    Validator,
    destination_of,
    json_body,
    kyma_error,
    split_path,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# What GET /<app>/v1/events/subscribed lists for an application: (event name, version) pairs.
Subscribed = Callable[[Application], Sequence[tuple[str, str]]]

log = structlog.get_logger("events.ingress")

SUBSCRIBED_PATH = "/v1/events/subscribed"
_LEGACY_PATH = "/v1/events"
_CLOUD_PATHS = frozenset({"/v2/events", "/events"})
_UNAVAILABLE = 503


class ClientGone(Exception):
    """The application disconnected before its whole body arrived."""


def event_entries(application: Application) -> list[tuple[str, str]]:
    """The default of what an application may publish: the names of its services' Events entries (the
    Application carries no versions)."""
    return [
        (entry.name, "")
        for service in application.services
        for entry in service.entries
        if entry.type == "Events"
    ]


class Ingress:
    def __init__(
        self,
        catalog: Catalog,
        log: EventLog,
        settings: EventsSettings,
        *,
        subscribed: Subscribed = event_entries,
    ) -> None:
        self.validator = Validator(catalog, settings.trusted_proxies)
        self.log = log
        self.prefix = settings.type_prefix
        self.max_body = settings.max_body
        self.subscribed = subscribed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        application = ""  # the label: only an application that exists
        try:
            admitted = self.validator.admit(scope)
            application = admitted.application.name
            await self._route(admitted, scope, receive, send)
        except Refusal as refusal:
            _count(refusal.application or application, _format_of(scope["path"]), refusal.status)
            await _answer(send, refusal.status, refusal.content_type, refusal.body)
        except ClientGone:
            log.info("client_gone", path=scope["path"])

    async def _route(self, admitted: Admitted, scope: Scope, receive: Receive, send: Send) -> None:
        application, remainder, method = admitted.application, admitted.remainder, scope["method"]
        if remainder == SUBSCRIBED_PATH:
            _allow(method, "GET")
            await self._answer_subscribed(application, send)
        elif admitted.destination is Destination.LEGACY and remainder == _LEGACY_PATH:
            _allow(method, "POST")
            await self._publish_legacy(application, scope, receive, send)
        elif admitted.destination is Destination.CLOUDEVENTS and remainder in _CLOUD_PATHS:
            _allow(method, "POST")
            await self._publish_cloud(application, scope, receive, send)
        else:
            raise kyma_error(404, NOT_ROUTED)

    async def _publish_legacy(
        self, application: Application, scope: Scope, receive: Receive, send: Send
    ) -> None:
        body = await _body(scope, receive, self.max_body, legacy.too_large)
        event = legacy.parse(body, application, self.prefix)
        await self._store(event, application, "legacy", lambda why: legacy.unavailable(_UNAVAILABLE, why))
        _count(application.name, "legacy", 200)
        await _answer(send, 200, legacy.CONTENT_TYPE, legacy.accepted(event.id))

    async def _publish_cloud(
        self, application: Application, scope: Scope, receive: Receive, send: Send
    ) -> None:
        body = await _body(scope, receive, self.max_body, cloud.too_large)
        event = cloud.parse(scope["headers"], body, application, self.prefix)
        await self._store(event, application, "cloudevents", lambda _why: cloud.unavailable(_UNAVAILABLE))
        _count(application.name, "cloudevents", 204)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def _store(
        self, event: Event, application: Application, kind: str, refusal: Callable[[str], Refusal]
    ) -> None:
        started = time.perf_counter()
        try:
            await self.log.append([event])
        except StoreUnavailable as exc:
            log.warning("event_not_stored", application=application.name, reason=str(exc))
            raise refusal(str(exc) or "the event store is unavailable") from exc
        metrics.APPEND_SECONDS.observe(time.perf_counter() - started)
        metrics.stored(application.name, kind).inc()

    async def _answer_subscribed(self, application: Application, send: Send) -> None:
        events = [{"name": name, "version": version} for name, version in self.subscribed(application)]
        _count(application.name, "subscribed", 200)
        await _answer(send, 200, legacy.CONTENT_TYPE, json_body({"eventsInfo": events}))


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise kyma_error(405, f"method {method} is not allowed here: use {allowed}")


async def _body(scope: Scope, receive: Receive, limit: int, too_large: Callable[[], Refusal]) -> bytes:
    """The whole request body, refused as soon as it is known to be longer than ``limit``."""
    for key, value in scope["headers"]:
        if key == b"content-length" and value.isdigit() and int(value) > limit:
            raise too_large()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _format_of(path: str) -> str:
    parts = split_path(path)
    if parts is None:
        return "unknown"
    if parts[1] == SUBSCRIBED_PATH:
        return "subscribed"
    destination = destination_of(parts[1])
    return "unknown" if destination is None else destination.value


def _count(application: str, kind: str, status: int) -> None:
    metrics.requests(application, kind, status).inc()


async def _answer(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
