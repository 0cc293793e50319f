"""What the agent does with each TokenRequest (see the package's docstring): fill, ask again, delete when expired."""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from agent.connection import Clock, system_clock
from agent.director_client import FetchResult
from agent.errors import AgentError, DirectorError
from agent.resources import kubernetes_name
from agent.tokenrequests.base import STATE_ERROR, STATE_OK, TokenRequest, TokenRequestStore

log = structlog.get_logger("agent.tokenrequests")

FOLLOW_RETRY_SECONDS = 5.0


class TokenIssuer(Protocol):
    """What the controller needs of a DirectorClient."""

    async def request_application_token(self, application_id: str) -> dict[str, Any]: ...

    @property
    def last_result(self) -> FetchResult | None: ...


class Work(enum.Enum):
    FILL = "fill"  # no (valid) status: ask for a token
    RETRY = "retry"  # Error: ask again
    EXPIRE = "expire"  # OK, and expireAfter has passed: delete


@dataclass
class Reconciled:
    """What one reconcile did, by ``namespace/name``."""

    filled: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # Error written (or kept)
    deleted: list[str] = field(default_factory=list)
    # changed or gone while being handled; its status could not be written (then left until it changes)
    skipped: list[str] = field(default_factory=list)


def expire_after(status: Mapping[str, Any]) -> datetime | None:
    value = status.get("expireAfter")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def work_for(request: TokenRequest, now: datetime) -> Work | None:
    status = request.status
    state = status.get("state")
    if state == STATE_ERROR:
        return Work.RETRY
    expiry = expire_after(status)
    if state != STATE_OK or not status.get("token") or expiry is None:
        return Work.FILL
    return Work.EXPIRE if now >= expiry else None


def application_ids(applications: Sequence[Mapping[str, Any]]) -> dict[str, str | None]:
    """Resource name → the Compass id of the application the runtime has under it (None: several share it)."""
    ids: dict[str, str | None] = {}
    for application in applications:
        name = kubernetes_name(str(application["name"]))
        ids[name] = None if name in ids else str(application["id"])
    return ids


def _timestamp(value: str) -> str:
    """The Director's ``expiresAt`` as Kubernetes writes a time (RFC 3339, UTC, seconds)."""
    moment = datetime.fromisoformat(value)
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TokenRequests:
    """The TokenRequests of one store, reconciled with the Director's answers; ``clock`` is injectable."""

    def __init__(self, store: TokenRequestStore, *, clock: Clock = system_clock) -> None:
        self.store = store
        self._clock = clock
        self._listing_error: str | None = None  # as last logged
        # namespace/name -> the version whose status could not be written: a token was (or may have been)
        # issued for it, so it is not asked for again until the object changes (every ask is a new system auth).
        self._unwritable: dict[str, Hashable] = {}

    async def aclose(self) -> None:
        await self.store.aclose()

    async def reconcile(self, director: TokenIssuer) -> Reconciled:
        """Handles every TokenRequest that needs it, against the applications of the Director's last complete
        answer; a store that cannot be read is logged (once per reason) and tried at the next reconcile."""
        done = Reconciled()
        fetched = director.last_result
        if fetched is None:
            return done
        try:
            requests = await self.store.current()
        except AgentError as error:
            if error.reason != self._listing_error:
                log.warning("token_requests_unreadable", error=error.reason)
            self._listing_error = error.reason
            return done
        self._listing_error = None
        self._unwritable = {request.key: request.version for request in requests if self._held(request)}
        now = self._clock()
        ids: dict[str, str | None] | None = None
        for request in requests:
            work = work_for(request, now)
            if work is None:
                continue
            if self._held(request):
                done.skipped.append(request.key)
                continue
            if work is Work.EXPIRE:
                await self._delete(request, done)
                continue
            ids = ids if ids is not None else application_ids(fetched.applications)
            await self._fill(director, request, ids, done)
        return done

    async def follow(self, nudge: Callable[[], None]) -> None:
        """Calls ``nudge`` whenever a TokenRequest without a status shows up, until cancelled; an unexpected
        failure is logged and following starts again (the syncs still handle every request meanwhile)."""
        while True:
            try:
                async with contextlib.aclosing(self.store.changes()) as changes:
                    async for _ in changes:
                        await self._nudge_if_new(nudge)
            except Exception:  # whatever it was, the agent keeps going
                log.exception("token_request_follow_failed")
            await asyncio.sleep(FOLLOW_RETRY_SECONDS)

    async def _nudge_if_new(self, nudge: Callable[[], None]) -> None:
        try:
            requests = await self.store.current()
        except AgentError:
            return  # the next reconcile says why
        now = self._clock()
        if any(work_for(request, now) is Work.FILL and not self._held(request) for request in requests):
            nudge()

    def _held(self, request: TokenRequest) -> bool:
        """Whether the request is the version whose status could not be written."""
        return request.key in self._unwritable and self._unwritable[request.key] == request.version

    async def _fill(
        self, director: TokenIssuer, request: TokenRequest, ids: Mapping[str, str | None], done: Reconciled
    ) -> None:
        try:
            status = await self._status(director, request, ids)
        except AgentError as error:  # the ApplicationMapping could not be read: nothing asked, tried later
            log.warning("token_request_not_handled", token_request=request.key, error=error.reason)
            done.skipped.append(request.key)
            return
        if status.get("state") == STATE_ERROR and request.status == status:
            done.failed.append(request.key)  # refused again, for the same reason: nothing to write
            return
        try:
            written = await self.store.write_status(request, status)
        except AgentError as error:
            log.warning(
                "token_request_not_written",
                token_request=request.key,
                error=error.reason,
                consequence="not asked for again until the TokenRequest changes",
            )
            self._unwritable[request.key] = request.version
            done.skipped.append(request.key)
            return
        if not written:
            done.skipped.append(request.key)
            return
        if status["state"] == STATE_OK:
            log.info("token_request_filled", token_request=request.key, expire_after=status["expireAfter"])
            done.filled.append(request.key)
        else:
            log.info("token_request_refused", token_request=request.key, reason=status["message"])
            done.failed.append(request.key)

    async def _status(
        self, director: TokenIssuer, request: TokenRequest, ids: Mapping[str, str | None]
    ) -> dict[str, Any]:
        if request.name not in ids:
            why = f"this runtime has no Application {request.name} (no application of its formations has that name)"
            return _error(request, why)
        application_id = ids[request.name]
        if application_id is None:
            return _error(request, f"several applications of this runtime are named {request.name}")
        if not await self.store.mapped(request):
            why = (
                f"namespace {request.namespace} has no ApplicationMapping {request.name}: an application's token is "
                f"given only to a namespace the application is mapped into"
            )
            return _error(request, why)
        try:
            token = await director.request_application_token(application_id)
            status = {
                "token": str(token["token"]),
                "url": str(token["legacyConnectorURL"]),
                "connectorURL": str(token["connectorURL"]),
                "expireAfter": _timestamp(str(token["expiresAt"])),
                "application": request.name,
                "state": STATE_OK,
            }
        except DirectorError as error:
            return _error(
                request, f"the Director refused a token for application {application_id}: {error.reason}"
            )
        except (KeyError, ValueError) as error:
            return _error(
                request, f"the Director's token for application {application_id} is malformed: {error!r}"
            )
        return status

    async def _delete(self, request: TokenRequest, done: Reconciled) -> None:
        try:
            await self.store.delete(request)
        except AgentError as error:
            log.warning("token_request_not_deleted", token_request=request.key, error=error.reason)
            done.skipped.append(request.key)
            return
        log.info("token_request_expired", token_request=request.key)
        done.deleted.append(request.key)


def _error(request: TokenRequest, message: str) -> dict[str, Any]:
    return {"application": request.name, "state": STATE_ERROR, "message": message}
