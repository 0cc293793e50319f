"""The tenant's revision: every Director write bumps it in the same transaction, so a view keyed by it is exact.

A runtime's view of ``applicationsForRuntime`` cannot change without the revision of its tenant changing. The
revision is coarser than the view (a change to an application no runtime sees bumps it too), which costs a
rebuild, never a stale answer.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from director.models import Tenant


class RevisionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bump(self, tenant_id: str) -> None:
        await self.session.execute(
            update(Tenant).where(Tenant.id == tenant_id).values(revision=Tenant.revision + 1)
        )

    async def current(self, tenant_id: str) -> int | None:
        statement = select(Tenant.revision).where(Tenant.id == tenant_id)
        return (await self.session.execute(statement)).scalar_one_or_none()
