"""Delivery: every Subscription's matching events, POSTed to its sink as binary-mode CloudEvents, at least once
and in order.

One worker per Subscription reads the log from its cursor. A new Subscription starts at the log's head (it gets
only later events) and its cursor is saved at once, so a restart does not move that start. Each matching event
is POSTed until the sink answers 2xx, retried meanwhile with capped exponential backoff (the worker waits on
that event: order is kept), and dead-lettered after ``attempts`` tries. The cursor is saved after the events of
a read batch were delivered (or given up), never before: a crash repeats a delivery, it never skips one.

The supervisor looks at the Subscriptions every ``rescan_seconds``: it starts workers for new ones, stops those
of removed ones, hands changed ones (sink, types) to their running worker, and compacts the log: events every
listed Subscription's saved cursor is past are deleted (dead letters keep their own copy). A Subscription that
is removed and added again resumes from its old cursor, over whatever was compacted meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from urllib.parse import quote

import structlog

from events.metrics import DEAD_LETTERED, DELIVERED, DELIVERY_LAG, RETRIED
from events.model import DeadLetter, Event, StoredEvent
from events.settings import EventsSettings
from events.sink_client import SinkClient, SinkError
from events.store.base import EventLog, StoreUnavailable
from events.subscriptions.base import SubscriptionSource
from events.subscriptions.model import DEFAULT_TYPE_PREFIX, Matcher, Subscription

log = structlog.get_logger("events.delivery")

BATCH = 100  # events read per query
CURSOR_SECONDS = 0.5  # the longest a delivered position goes unsaved while events keep coming
IDLE_SECONDS = 1.0  # how long a caught-up worker waits for a new event before it looks again
# CloudEvents HTTP binding 3.1.3.2: these and everything outside printable ASCII are percent-encoded.
_HEADER_SAFE = "".join(chr(byte) for byte in range(0x21, 0x7F) if chr(byte) not in '"%')
_NEEDS_ENCODING = re.compile(r'[^\x21-\x7e]|["%]')


@runtime_checkable
class Compactable(Protocol):
    """A log that deletes what every subscription is past itself when told (SQLite); JetStream keeps its own
    retention."""

    async def compact(self, through: int) -> int: ...


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 10
    initial: float = 0.5
    maximum: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (from 1)."""
        return float(min(self.initial * 2 ** (attempt - 1), self.maximum))


def binary_headers(event: Event) -> dict[str, str]:
    """The CloudEvent's attributes as ``ce-`` headers, ``Content-Type`` its datacontenttype (binary mode)."""
    headers = {
        "ce-specversion": event.specversion,
        "ce-id": event.id,
        "ce-source": event.source,
        "ce-type": event.type,
    }
    optional = {"time": event.time, "subject": event.subject, "dataschema": event.dataschema}
    for name, value in (*optional.items(), *event.extensions.items()):
        if value is not None:
            headers[f"ce-{name}"] = value
    headers = {name: _header_value(value) for name, value in headers.items()}
    if event.datacontenttype is not None:
        headers["Content-Type"] = event.datacontenttype
    return headers


def _header_value(value: str) -> str:
    # Most values need no encoding, and one regular expression finds that sooner than quote() does.
    return quote(value, safe=_HEADER_SAFE) if _NEEDS_ENCODING.search(value) else value


class Delivery:
    def __init__(
        self,
        log: EventLog,
        subscriptions: SubscriptionSource,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        type_prefix: str = DEFAULT_TYPE_PREFIX,
        rescan_seconds: float = 0.5,
    ) -> None:
        self.log, self.subscriptions = log, subscriptions
        self.retry = retry or RetryPolicy()
        self.type_prefix, self.rescan_seconds = type_prefix, rescan_seconds
        self._workers: dict[str, _Worker] = {}
        self._compacted = 0
        self._supervisor: asyncio.Task[None] | None = None
        self._client = SinkClient(timeout)

    @classmethod
    def from_settings(
        cls, log: EventLog, subscriptions: SubscriptionSource, settings: EventsSettings
    ) -> Delivery:
        return cls(
            log,
            subscriptions,
            retry=RetryPolicy(settings.delivery_attempts, settings.retry_initial, settings.retry_max),
            timeout=settings.delivery_timeout,
            type_prefix=settings.type_prefix,
        )

    async def start(self) -> None:
        await self._cover_listed()
        self._supervisor = asyncio.create_task(self._supervise(), name="events-delivery")

    async def _cover_listed(self) -> None:
        """Every Subscription listed at start gets its cursor now, before the ingress acknowledges anything: a
        worker started a moment later would otherwise begin at a head that already passed those events."""
        if not self.subscriptions.ready:
            return  # listed later (Kubernetes): they are subscriptions added later, and receive later events
        head: int | None = None
        for identity in self.subscriptions.current():
            if await self.log.cursor(identity) is None:
                head = await self.log.head() if head is None else head
                await self.log.save_cursor(identity, head)

    async def stop(self) -> None:
        tasks = [self._supervisor] if self._supervisor is not None else []
        tasks += [worker.task for worker in self._workers.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._supervisor, self._workers = None, {}
        self._client.close()

    @property
    def subscriptions_running(self) -> list[str]:
        return sorted(self._workers)

    async def _supervise(self) -> None:
        while True:
            try:
                if self.subscriptions.ready:
                    self._reconcile(self.subscriptions.current())
                    await self._compact()
            except StoreUnavailable as exc:
                log.warning("delivery_compaction_failed", reason=str(exc))
            except Exception:  # a dead supervisor would freeze the set of subscriptions
                log.exception("delivery_supervisor_failed")
            await asyncio.sleep(self.rescan_seconds)

    def _reconcile(self, wanted: Mapping[str, Subscription]) -> None:
        for identity in set(self._workers) - set(wanted):
            self._workers.pop(identity).task.cancel()
            log.info("subscription_stopped", subscription=identity)
        for identity, subscription in wanted.items():
            worker = self._workers.get(identity)
            if worker is None:
                self._workers[identity] = _Worker(self, subscription)
                log.info("subscription_started", subscription=identity, sink=subscription.sink)
            elif worker.subscription != subscription:
                worker.update(subscription)
                log.info("subscription_changed", subscription=identity, sink=subscription.sink)

    async def _compact(self) -> None:
        if not isinstance(self.log, Compactable):
            return
        saved = [worker.saved for worker in self._workers.values()]
        if any(cursor is None for cursor in saved):
            return  # a worker has not read its cursor yet: nothing is known to be past
        through = min((cursor for cursor in saved if cursor is not None), default=await self.log.head())
        if through > self._compacted:
            deleted = await self.log.compact(through)
            self._compacted = through
            if deleted:
                log.debug("log_compacted", through=through, deleted=deleted)

    async def post(self, subscription: Subscription, event: Event) -> str | None:
        """One attempt; None when the sink took it (2xx), else why not."""
        try:
            answer = await self._client.post(subscription.sink, binary_headers(event), event.data)
        except SinkError as exc:
            return str(exc)
        except ValueError as exc:  # a header no HTTP request can carry: every attempt fails alike
            return f"cannot be sent: {exc}"
        if 200 <= answer.status < 300:  # noqa: PLR2004
            return None
        return f"{answer.status} {answer.reason}".strip()


class _Worker:
    """One Subscription's reader: its cursor, the events after it, one at a time."""

    def __init__(self, delivery: Delivery, subscription: Subscription) -> None:
        self.delivery = delivery
        self.identity = subscription.identity
        self._delivered, self._lag = DELIVERED.labels(self.identity), DELIVERY_LAG.labels(self.identity)
        self.update(subscription)
        self.saved: int | None = None  # the cursor as stored: what compaction may go up to
        self.task = asyncio.create_task(self._run(), name=f"events-delivery-{self.identity}")

    def update(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self.matcher: Matcher = subscription.matcher(self.delivery.type_prefix)

    async def _run(self) -> None:
        failures, saved_then = 0, self.saved
        while True:
            try:
                await self._follow()
            except StoreUnavailable as exc:
                log.warning("delivery_log_unavailable", subscription=self.identity, reason=str(exc))
            except Exception:  # whatever broke this pass: the subscription must not stop receiving for good
                log.exception("delivery_worker_failed", subscription=self.identity)
            # The wait grows only while failures come without progress in between.
            failures = failures + 1 if self.saved == saved_then else 1
            saved_then = self.saved
            await asyncio.sleep(self.delivery.retry.delay(failures))

    async def _follow(self) -> None:
        event_log = self.delivery.log
        cursor = await event_log.cursor(self.identity)
        if cursor is None:
            cursor = await event_log.head()
            await event_log.save_cursor(self.identity, cursor)
        self.saved = cursor
        saved_at = time.monotonic()
        while True:
            batch = await event_log.read(cursor, BATCH)
            if not batch:
                if cursor != self.saved:
                    await self._save(cursor)
                    saved_at = time.monotonic()
                await event_log.wait_for(cursor, IDLE_SECONDS)
                continue
            for stored in batch:
                if self.matcher(stored.event):
                    await self._deliver(stored)
                cursor = stored.sequence
            # A cursor write is a write transaction: under a steady trickle it is kept for a full batch, a
            # pause, or CURSOR_SECONDS, at the price of redelivering at most that much after a crash.
            if len(batch) >= BATCH or time.monotonic() - saved_at >= CURSOR_SECONDS:
                await self._save(cursor)
                saved_at = time.monotonic()

    async def _save(self, cursor: int) -> None:
        await self.delivery.log.save_cursor(self.identity, cursor)
        self.saved = cursor

    async def _deliver(self, stored: StoredEvent) -> None:
        retry = self.delivery.retry
        attempt = 0
        while True:
            attempt += 1
            reason = await self.delivery.post(self.subscription, stored.event)
            if reason is None:
                self._delivered.inc()
                self._lag.observe(max(time.time() - stored.stored_at, 0.0))
                return
            if attempt >= retry.attempts:
                await self.delivery.log.dead_letter(
                    DeadLetter(self.identity, stored.sequence, stored.event, attempt, reason, time.time())
                )
                DEAD_LETTERED.labels(self.identity).inc()
                log.warning(
                    "event_dead_lettered",
                    subscription=self.identity,
                    sequence=stored.sequence,
                    id=stored.event.id,
                    attempts=attempt,
                    reason=reason,
                )
                return
            RETRIED.labels(self.identity).inc()
            log.info("delivery_retry", subscription=self.identity, sequence=stored.sequence, reason=reason)
            await asyncio.sleep(retry.delay(attempt))
