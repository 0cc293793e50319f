"""The Runtime Watcher's listener: ``POST /v2/<module>/event`` from a runtime's watcher, with its client certificate.

Kyma's listener (DATAPLANE.md E.5) checks, in order: the announced body size (413), the method (405), the contract
version (400); then pycompass checks the certificate (401 without one, 403 for one that is not a runtime's or is
revoked; the authentication middleware decided which, ``Credential.CERTIFICATE``), reads the body (413 past 16 KiB)
and parses it (400). Kyma answers 500 to a body it cannot parse, which makes the sender retry a body that can never
parse: here it is 400, with Kyma's message. Refusals are plain text as Go's ``http.Error`` writes them.

The runtime is the certificate's, and its tenant the certificate's runtime's: nothing in the body names either. An
event is answered 200 after it is committed, in one transaction with its runtime's pruning and the tags its
module's consumers name; then the consumers run in this process (``director.watcher.consumers``).
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any

import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from director.polling.invalidation import unit_of_work
from director.watcher.consumers import Consumers
from director.watcher.inputs import WatchEventInput
from director.watcher.models import WatchEvent
from director.watcher.service import watcher as watcher_service
from kernel.db import Database
from kernel.errors import CompassError, InvalidInputError
from kernel.observability.metrics import WATCH_EVENTS_TOTAL
from kernel.principal import ClientKind, ClientPrincipal
from kernel.settings import Settings
from kernel.transactions import run_again_on_conflict

log = structlog.get_logger("compass.watch_listener")

PATH = "/{contract}/{module}/event"
CONTRACT = "v2"
MAX_BODY_BYTES = 16_384
TOO_LARGE = f"Body size greater than {MAX_BODY_BYTES} bytes is not allowed"
OTHER_MODULE = "other"
_LISTENER_PATH = re.compile(r"/[^/]+/[^/]+/event")


def is_listener_path(path: str) -> bool:
    """``/<contract>/<module>/event``: the middleware knows the path before routing does."""
    return _LISTENER_PATH.fullmatch(path) is not None


class _Refused(Exception):
    def __init__(self, status: int, outcome: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome
        self.message = message


def _text(status: int, message: str) -> Response:
    """Go's ``http.Error``: the message and a newline, as plain text that a browser must not sniff."""
    headers = {"X-Content-Type-Options": "nosniff"}
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        headers["Allow"] = "POST"
    return PlainTextResponse(message + "\n", status_code=status, headers=headers)


def _member(value: dict[str, Any], name: str) -> Any:
    """``value[name]`` as Go's encoding/json finds it: the exact key, else one equal ignoring case."""
    if name in value:
        return value[name]
    return next((item for key, item in value.items() if key.casefold() == name.casefold()), None)


def _string(value: dict[str, Any], name: str) -> str:
    found = _member(value, name)
    if found is None:
        return ""
    if not isinstance(found, str):
        raise TypeError(name)
    return found


def _object(value: Any, name: str) -> dict[str, Any]:
    found = _member(value, name) if isinstance(value, dict) else None
    if not isinstance(found, dict):
        raise TypeError(name)
    return found


def _parsed(module: str, body: bytes) -> WatchEventInput:
    """The v2 body: ``{"watched": {"Namespace", "Name"}, "watchedGvk": {"group", "version", "kind"}}``."""
    shown = f"Body{{{body.decode('utf-8', 'replace')}}}"
    try:
        document = json.loads(body)
        watched, gvk = _object(document, "watched"), _object(document, "watchedGvk")
        event = WatchEventInput(
            module=module,
            namespace=_string(watched, "Namespace"),
            name=_string(watched, "Name"),
            group=_string(gvk, "group"),
            version=_string(gvk, "version"),
            kind=_string(gvk, "kind"),
        )
    except (ValueError, TypeError):
        raise _Refused(400, "invalid", f"could not unmarshal watcher event: {shown}") from None
    if not event.name or not event.kind:
        raise _Refused(400, "invalid", f"watcher event names no watched object (watched.Name) or kind: {shown}")
    return event


async def _body(request: Request) -> bytes:
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > MAX_BODY_BYTES:
            raise _Refused(413, "too_large", TOO_LARGE)
    return bytes(received)


def _runtime(scope: Scope) -> ClientPrincipal:
    state = scope.get("state", {})
    refusal = state.get("refusal")
    if isinstance(refusal, CompassError):
        outcome = "unauthenticated" if refusal.http_status == HTTPStatus.UNAUTHORIZED else "forbidden"
        raise _Refused(refusal.http_status, outcome, f"client certificate refused: {refusal.message}")
    principal = state.get("principal")
    if not isinstance(principal, ClientPrincipal):
        raise _Refused(
            401,
            "unauthenticated",
            "could not get client certificate from request: none was presented over mTLS, nor by a trusted proxy "
            "in X-Forwarded-Client-Cert",
        )
    if principal.identity.kind is not ClientKind.RUNTIME:
        raise _Refused(403, "forbidden", f"the client certificate is an {principal.identity.kind.value.lower()}'s: "
                       "only a runtime's watcher sends watch events")  # fmt: skip
    return principal


class WatchListener:
    """The ASGI endpoint of ``PATH``; every method reaches it, so that it answers 405 itself."""

    def __init__(self, database: Database, settings: Settings, consumers: Consumers) -> None:
        self.database = database
        self.settings = settings
        self.consumers = consumers

    def routes(self) -> list[Route]:
        return [Route(PATH, self)]

    def _label(self, module: str) -> str:
        return module if module in self.consumers.modules else OTHER_MODULE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        module = str(request.path_params.get("module", ""))
        try:
            event = await self._accept(request, module)
        except _Refused as refused:
            WATCH_EVENTS_TOTAL.labels(module=self._label(module), outcome=refused.outcome).inc()
            await _text(refused.status, refused.message)(scope, receive, send)
            return
        except ClientDisconnect:
            return
        WATCH_EVENTS_TOTAL.labels(module=self._label(module), outcome="stored").inc()
        await Response(status_code=200)(scope, receive, send)
        await self.consumers.dispatch(event)

    async def _accept(self, request: Request, module: str) -> WatchEvent:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise _Refused(413, "too_large", TOO_LARGE)
        if request.method != "POST":
            raise _Refused(405, "method_not_allowed", f"{request.method} method is not allowed on this path")
        contract = str(request.path_params.get("contract", ""))
        if contract != CONTRACT:
            raise _Refused(
                400, "unsupported_contract", f"could not read contract version: {contract!r} is not served, only {CONTRACT!r}"
            )
        runtime = _runtime(request.scope)
        data = _parsed(module, await _body(request))
        try:
            return await run_again_on_conflict(
                lambda: self._store(runtime, data), attempts=self.settings.transaction_attempts, what="watch event"
            )
        except InvalidInputError as error:
            raise _Refused(400, "invalid", f"invalid watcher event: {error.message}") from None

    async def _store(self, runtime: ClientPrincipal, data: WatchEventInput) -> WatchEvent:
        identity = runtime.identity
        async with unit_of_work(self.database, identity.tenant_id) as session:
            return await watcher_service.record(
                session,
                identity.tenant_id,
                identity.object_id,
                data,
                kept=self.settings.watch_events_kept,
                consumers=self.consumers,
            )
