from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from credentials.models import AuditEvent
from kernel.observability.metrics import count_lifecycle_event


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(self, event: AuditEvent) -> None:
        """Added to the caller's transaction: an event is recorded exactly when what it describes commits."""
        self.session.add(event)
        count_lifecycle_event(event.event)

    async def latest(self, *, limit: int, event: str | None = None) -> list[AuditEvent]:
        statement = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id).limit(limit)
        if event is not None:
            statement = statement.where(AuditEvent.event == event)
        return list((await self.session.execute(statement)).scalars())

    async def prune(self, before: datetime, *, limit: int) -> int:
        """Deletes up to ``limit`` events older than ``before``; answers how many."""
        batch = select(AuditEvent.id).where(AuditEvent.at < before).limit(limit)
        result = await self.session.execute(
            delete(AuditEvent).where(AuditEvent.id.in_(batch)).execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def audit_event(event: str, **fields: Any) -> AuditEvent:
    return AuditEvent(event=event, **fields)
