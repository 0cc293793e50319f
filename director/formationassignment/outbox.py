"""The outbox of formation notifications: the rows that owe one (``FormationAssignment.notification``,
``Formation.notification``), claimed by a notifier for a lease; and the signal that a committed write owes some, so
that notifiers wake at its commit, not at their next sweep."""

from __future__ import annotations

import asyncio
import weakref
from datetime import datetime
from typing import TypeVar

from sqlalchemy import event, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from director.models import Formation, FormationAssignment

Owing = TypeVar("Owing", Formation, FormationAssignment)

_KEY = "director.formation_notifications_owed"
_listening: weakref.WeakSet[asyncio.Event] = weakref.WeakSet()


def owe(session: AsyncSession) -> None:
    """Called by a write that recorded notifications to send once it commits."""
    session.info[_KEY] = True


def listen(wake: asyncio.Event) -> None:
    """``wake`` is set after every commit that owes notifications (while something holds it)."""
    _listening.add(wake)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_KEY, False):
        for wake in list(_listening):
            wake.set()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_KEY, None)


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(
        self, model: type[Owing], now: datetime, until: datetime, claim: str, limit: int
    ) -> list[Owing]:
        """Up to ``limit`` rows of any tenant whose notification nobody holds, now held by ``claim`` until
        ``until``. Rows another transaction is claiming are skipped, not waited for (PostgreSQL; SQLite's one
        writer is serial anyway)."""
        statement = (
            select(model)
            .where(
                model.notification.is_not(None), or_(model.claimed_until.is_(None), model.claimed_until < now)
            )
            .order_by(model.created_at, model.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = list((await self.session.execute(statement)).scalars())
        for row in rows:
            row.claim, row.claimed_until = claim, until
        await self.session.flush()
        return rows

    async def lock_claimed(self, model: type[Owing], tenant_id: str, row_id: str, claim: str) -> Owing | None:
        """The row if ``claim`` still holds its notification (it was not changed, reset or re-claimed since)."""
        statement = (
            select(model)
            .where(model.tenant_id == tenant_id, model.id == row_id, model.claim == claim)
            .with_for_update()
        )
        return (await self.session.execute(statement)).scalars().first()
