"""Revisions: every Director write bumps one in the same transaction, so a view keyed by them is exact.

A runtime's view (``applicationsForRuntime``, and itself) changes only when its tenant's revision or its own
changes. Writes to one runtime alone (its labels, formations, status, tokens) bump only that runtime's revision, so
a fleet of agents labelling themselves does not invalidate each other; every other write bumps the tenant's. The
tenant revision is coarser than any view (a change to an application no runtime sees bumps it too), which costs a
rebuild, never a stale answer.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from director.models import Runtime, Tenant


class RevisionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bump(self, tenant_id: str) -> None:
        await self.session.execute(
            update(Tenant).where(Tenant.id == tenant_id).values(revision=Tenant.revision + 1)
        )

    async def bump_runtime(self, tenant_id: str, runtime_id: str) -> None:
        await self.session.execute(
            update(Runtime)
            .where(Runtime.tenant_id == tenant_id, Runtime.id == runtime_id)
            .values(revision=Runtime.revision + 1)
        )

    async def current(self, tenant_id: str, runtime_id: str) -> tuple[int, int] | None:
        """The tenant's and the runtime's revision, in one statement."""
        statement = (
            select(Tenant.revision, Runtime.revision)
            .join(Runtime, Runtime.tenant_id == Tenant.id)
            .where(Tenant.id == tenant_id, Runtime.id == runtime_id)
        )
        row = (await self.session.execute(statement)).first()
        return (int(row[0]), int(row[1])) if row is not None else None
