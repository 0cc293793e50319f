from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from credentials.audit.events import AuditEventName
from credentials.models import AuditEvent, SystemAuth
from kernel.observability.metrics import count_lifecycle_event


@dataclass(frozen=True)
class AuditLine:
    """An event with the runtime or application its client id belongs to (None: no client id, or it is gone)."""

    event: AuditEvent
    runtime_id: str | None
    application_id: str | None


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(self, event: AuditEvent) -> None:
        """Added to the caller's transaction: an event is recorded exactly when what it describes commits."""
        self.session.add(event)
        count_lifecycle_event(event.event)

    async def latest(self, *, limit: int, event: str | None = None) -> list[AuditLine]:
        """Newest first, each with its client id's owner, in one query."""
        statement = (
            select(AuditEvent, SystemAuth.runtime_id, SystemAuth.application_id)
            .outerjoin(SystemAuth, SystemAuth.id == AuditEvent.client_id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id)
            .limit(limit)
        )
        if event is not None:
            statement = statement.where(AuditEvent.event == event)
        rows = await self.session.execute(statement)
        return [AuditLine(row, runtime_id, application_id) for row, runtime_id, application_id in rows]

    async def prune(self, before: datetime, *, limit: int) -> int:
        """Deletes up to ``limit`` events older than ``before``; answers how many."""
        batch = select(AuditEvent.id).where(AuditEvent.at < before).limit(limit)
        result = await self.session.execute(
            delete(AuditEvent).where(AuditEvent.id.in_(batch)).execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def audit_event(event: str, **fields: Any) -> AuditEvent:
    """An unknown name raises ValueError: every recorded event is one ``compass audit --event`` can select."""
    return AuditEvent(event=AuditEventName(event).value, **fields)
