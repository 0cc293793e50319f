"""Sends the formation notifications that committed writes owe (assignments' to their participants, formations'
to their template's FORMATION_LIFECYCLE webhook), outside any transaction, in the server process.

A sweep claims owed notifications (``FormationAssignment.notification``) for a lease, in one short transaction
(PostgreSQL skips rows another notifier is claiming, so no two send the same one); then, without a transaction,
reads what to send, sends it and reads the answer; then records the outcome in one more transaction, unless the
assignment changed hands meanwhile. A notifier that dies between commit and send loses nothing: the row still
owes its notification, and the next sweep (at startup, every ``notification_sweep_seconds``, or past a dead
notifier's lease) sends it. Reading and sending together are abandoned (nothing recorded) at half the lease, so
a notification is not sent after its claim may have passed to another notifier. Delivery is at least once: a
notification is sent again when the notifier is killed after sending and before recording, or when the recording
transaction fails (it is logged; the row stays claimed and is sent again once the lease ends), never lost, as
Compass's resynchronization also resends.

Failures are not retried automatically, as in Compass: the assignment goes to CREATE_ERROR or DELETE_ERROR with
the error, and ``resynchronizeFormationNotifications`` sends again.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from director.fetchrequest.fetcher import FetchPolicy
from director.formation.lifecycle import DELETE_FORMATION, formation_lifecycle
from director.formationassignment import outbox
from director.formationassignment.notifications import (
    ASSIGN,
    CREATE_ERROR,
    DELETE_ERROR,
    READY,
    TECHNICAL_ERROR,
    Answer,
    NotificationError,
    Outcome,
    error_value,
    formation_outcome,
    outcome,
    render_request,
    send,
)
from director.formationassignment.service import formation_assignment as assignment_service
from director.models import Formation, FormationAssignment, Webhook
from director.polling.invalidation import unit_of_work
from kernel.db import Database
from kernel.models import new_id, utcnow
from kernel.settings import Settings

log = structlog.get_logger("director.formation_notifier")

Owing = TypeVar("Owing", Formation, FormationAssignment)
Claim = Callable[[AsyncSession, datetime, datetime, str, int], Awaitable[list[Owing]]]

# Notifications claimed (and then sent concurrently) per round of a sweep.
BATCH = 16


class FormationNotifier:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.sweep_seconds = settings.notification_sweep_seconds
        self.lease = timedelta(seconds=settings.notification_lease_seconds)
        # Spec fetching's guards; its timeout is for webhooks without their own. Reading and sending (and so every
        # request) end well within the lease, or another notifier could send it again meanwhile.
        self.default_timeout = settings.spec_fetch_timeout_seconds
        self.within = settings.notification_lease_seconds / 2
        self.policy = dataclasses.replace(FetchPolicy.of(settings), timeout=self.within)
        self.wake = asyncio.Event()
        outbox.listen(self.wake)

    async def run(self, stop: asyncio.Event) -> None:
        """Sweeps at once (what a previous process left), then after each write owing notifications and every
        ``sweep_seconds``, until ``stop``."""
        while not stop.is_set():
            self.wake.clear()
            try:
                await self.sweep()
            except Exception:  # the notifier must outlive a database hiccup; the rows wait for the next sweep
                log.exception("formation_notifier_sweep_failed")
            waiting = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
            _done, pending = await asyncio.wait(
                waiting, timeout=self.sweep_seconds, return_when="FIRST_COMPLETED"
            )
            for task in pending:
                task.cancel()

    async def sweep(self) -> int:
        """Sends every notification owed and claimable now (formations' own first, as a formation's READY makes
        its assignments owe theirs); how many were sent (or settled without sending)."""
        total = 0
        while formations := await self._claim(formation_lifecycle.claim):
            await asyncio.gather(*(self._notify_formation(formation) for formation in formations))
            total += len(formations)
        while rows := await self._claim(assignment_service.claim):
            await asyncio.gather(*(self._notify(row) for row in rows))
            total += len(rows)
        return total

    async def _claim(self, claim: Claim[Owing]) -> list[Owing]:
        now = utcnow()
        async with self.database.transaction() as session:
            return await claim(session, now, now + self.lease, new_id(), BATCH)

    async def _notify_formation(self, formation: Formation) -> None:
        claim = formation.claim
        if claim is None:
            return
        failed = DELETE_ERROR if formation.notification == DELETE_FORMATION else CREATE_ERROR

        async def notified() -> Outcome:
            async with self.database.read_sessions() as session:
                found = await formation_lifecycle.notification_of(session, formation)
            if found is None:
                return Outcome(READY)
            webhook, data = found
            return await self._sent(webhook, data, failed, lambda answer: formation_outcome(answer, failed, webhook.mode))

        try:
            async with asyncio.timeout(self.within):
                result = await notified()
            async with unit_of_work(self.database, formation.tenant_id) as session:
                await formation_lifecycle.record(session, formation.tenant_id, formation.id, claim, result)
        except Exception:  # one formation's failure must not stop the others'; the lease lets it be sent again
            log.exception("formation_lifecycle_notification_failed", formation=formation.id)
            return
        log.info("formation_lifecycle_notification_sent", formation=formation.id, state=result.state)

    async def _sent(
        self, webhook: Webhook, data: dict[str, Any], failed: str, read: Callable[[Answer], Outcome]
    ) -> Outcome:
        """The notification sent and its answer read; a request that fails is ``failed`` with a technical error."""
        try:
            answer = await send(self.policy, render_request(webhook, data), self.default_timeout)
        except NotificationError as error:
            return Outcome(failed, error=error_value(str(error), TECHNICAL_ERROR))
        return read(answer)

    async def _notify(self, row: FormationAssignment) -> None:
        claim = row.claim
        if claim is None:
            return
        try:
            async with asyncio.timeout(self.within):
                result = await self._outcome(row)
            async with unit_of_work(self.database, row.tenant_id) as session:
                await assignment_service.record(session, row.tenant_id, row.id, claim, result)
        except Exception:  # one participant's failure must not stop the others'; the lease lets it be sent again
            log.exception("formation_notification_failed", assignment=row.id)
            return
        log.info("formation_notification_sent", assignment=row.id, state=result.state)

    async def _outcome(self, row: FormationAssignment) -> Outcome:
        operation = row.notification or ASSIGN
        async with self.database.read_sessions() as session:
            found = await assignment_service.notification_of(session, row)
        if found is None:
            # Nobody listens any more (the webhook was deleted): as Compass does with no request to send.
            return Outcome(READY)
        webhook, data = found
        failed = CREATE_ERROR if operation == ASSIGN else DELETE_ERROR
        return await self._sent(
            webhook, data, failed, lambda answer: outcome(answer, operation, webhook.mode, row.state)
        )
