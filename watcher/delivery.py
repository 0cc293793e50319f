"""Delivery: the spool's events, oldest first, POSTed to the control plane over mTLS until it takes each.

One event at a time, in order: the next is sent only once the control plane took the one before (2xx) or refused
it for good. What each answer means:

- 2xx: delivered; removed from the spool (only now: a crash before it sends the event again, never loses it).
- no answer (connection refused, TLS failure, timeout), 5xx, 429, 408 or a redirect: the same event again after a
  backoff that doubles from ``WATCHER_RETRY_SECONDS`` up to ``WATCHER_RETRY_CAP_SECONDS`` (each wait drawn between
  half and all of it, so a fleet of runtimes does not return in step).
- 401 or 403: the certificate was refused; the agent may have renewed it meanwhile, so the files are read again,
  and the event is retried after the same backoff.
- any other 4xx (400, 404, 413: the control plane says the event itself is wrong): dropped, logged and counted
  (``compass_watcher_events_rejected_total``); sending it again cannot help.
- not sent at all (the agent has not connected, or its files cannot be used): the files are looked at again within
  ``NOT_READY_POLL_SECONDS``, however long the backoff has grown.

``wake()`` (after an append) starts delivery when the deliverer is idle, but never cuts a backoff short: a control
plane that is failing is not hammered by every admission request.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
import structlog
from prometheus_client import Counter

from dataplane.control_plane import ControlPlane, ControlPlaneClient, ControlPlaneCredentials
from watcher.events import WatchEvent
from watcher.settings import WatcherSettings
from watcher.spool import Spool

log = structlog.get_logger(__name__)

REQUEST_TIMEOUT_SECONDS = 30.0
_RETRIED_CLIENT_ERRORS = frozenset({408, 429})
_CERTIFICATE_REFUSED = frozenset({401, 403})

DELIVERED = Counter("compass_watcher_events_delivered", "Events the control plane took (2xx).")
REJECTED = Counter(
    "compass_watcher_events_rejected",
    "Events the control plane refused as wrong (a 4xx other than 401, 403, 408 and 429) and that were dropped.",
    ["code"],
)
FAILURES = Counter(
    "compass_watcher_delivery_failures",
    "Delivery attempts to be retried, by reason: not_ready (no usable credentials or control plane URL), "
    "unreachable (no answer), unavailable (5xx, 429, 408 or a redirect), refused (401 or 403), spool (its disk "
    "failed).",
    ["reason"],
)


NOT_READY_POLL_SECONDS = 1.0


class Failure(StrEnum):
    NOT_READY = "not_ready"
    UNREACHABLE = "unreachable"
    UNAVAILABLE = "unavailable"
    REFUSED = "refused"
    SPOOL = "spool"


@dataclass
class Backoff:
    """Doubling from ``initial`` to ``cap``; each wait drawn between half and all of that (jitter)."""

    initial: float
    cap: float
    failures: int = 0

    def next_delay(self, rng: random.Random) -> float:
        delay = min(self.cap, self.initial * 2**self.failures)
        self.failures += 1
        return rng.uniform(delay / 2, delay)

    def reset(self) -> None:
        self.failures = 0


class Deliverer:
    def __init__(
        self,
        spool: Spool,
        credentials: ControlPlaneCredentials,
        settings: WatcherSettings,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.spool, self.credentials = spool, credentials
        self._backoff = Backoff(settings.retry_seconds, settings.retry_cap_seconds)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._wakeup = asyncio.Event()
        self._connection = ControlPlaneClient(credentials, REQUEST_TIMEOUT_SECONDS)

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Delivers until ``stop`` is set; an event being sent then stays in the spool."""
        try:
            while not stop.is_set():
                try:
                    failure = await self._step(stop)
                except OSError:  # the spool's disk failing: the event stays where it is, tried again later
                    log.exception("delivery_spool_failed", directory=str(self.spool.directory))
                    failure = Failure.SPOOL
                if failure is None:
                    self._backoff.reset()
                    continue
                FAILURES.labels(failure).inc()
                delay = self._backoff.next_delay(self._rng)
                if failure is Failure.NOT_READY:
                    # Looking for the agent's files again costs a few stat calls: a connection the agent just made
                    # is used within a second, not after a backoff grown while it had none.
                    delay = min(delay, NOT_READY_POLL_SECONDS)
                log.debug("delivery_retry_scheduled", reason=failure, seconds=round(delay, 3))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
        finally:
            await self._connection.aclose()

    async def _step(self, stop: asyncio.Event) -> Failure | None:
        """Delivers the oldest event, or waits for one (or for ``stop``) when the spool is empty."""
        self._wakeup.clear()  # before looking: an append from now on wakes the wait below
        oldest = await self.spool.peek()
        if oldest is None:
            await _first(stop.wait(), self._wakeup.wait())
            return None
        return await self._deliver(*oldest)

    async def _deliver(self, sequence: int, event: WatchEvent) -> Failure | None:
        """One attempt; None when the event is done with (taken, or refused for good)."""
        ready = await self._client()
        if ready is None:
            return Failure.NOT_READY
        plane, http = ready
        url = f"{plane.base_url}/v2/{event.module}/event"
        try:
            response = await http.post(url, content=event.body(), headers={"Content-Type": "application/json"})
        except (httpx.HTTPError, OSError) as error:  # ssl.SSLError is an OSError
            log.warning("delivery_failed", url=url, sequence=sequence, error=str(error) or type(error).__name__)
            return Failure.UNREACHABLE
        status = response.status_code
        if response.is_success:
            await self.spool.remove(sequence)
            DELIVERED.inc()
            log.debug("event_delivered", url=url, sequence=sequence, status=status)
            return None
        detail = response.text[:200]
        if status in _CERTIFICATE_REFUSED:
            log.warning("delivery_refused", url=url, sequence=sequence, status=status, detail=detail)
            self.credentials.reload()
            return Failure.REFUSED
        if response.is_client_error and status not in _RETRIED_CLIENT_ERRORS:
            await self.spool.remove(sequence)
            REJECTED.labels(str(status)).inc()
            log.error(
                "event_rejected", url=url, sequence=sequence, status=status, detail=detail, body=event.body().decode()
            )
            return None
        log.warning("delivery_failed", url=url, sequence=sequence, status=status, detail=detail)
        return Failure.UNAVAILABLE

    async def _client(self) -> tuple[ControlPlane, httpx.AsyncClient] | None:
        """The control plane and an HTTP client for the credentials as they are now, or None when they cannot be
        used."""
        return await self._connection.current()


async def _first(*waits: Coroutine[Any, Any, object]) -> None:
    """Returns when the first of the coroutines is done; the others are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
