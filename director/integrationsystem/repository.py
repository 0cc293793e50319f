from __future__ import annotations

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from director.models import Application, IntegrationSystem


class IntegrationSystemRepository:
    """Integration systems are global, as in Compass: no statement here is scoped to a tenant."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, integration_system_id: str) -> IntegrationSystem | None:
        return await self.session.get(IntegrationSystem, integration_system_id)

    async def lock(self, integration_system_id: str) -> IntegrationSystem | None:
        """``get`` holding the row, so that an application registered meanwhile cannot point at a deleted one."""
        statement = select(IntegrationSystem).where(IntegrationSystem.id == integration_system_id).with_for_update()
        return (await self.session.execute(statement)).scalars().first()

    async def page(self, *, limit: int, offset: int) -> tuple[list[IntegrationSystem], int]:
        total = (await self.session.execute(select(func.count()).select_from(IntegrationSystem))).scalar_one()
        statement = select(IntegrationSystem).order_by(IntegrationSystem.created_at, IntegrationSystem.id)
        rows = await self.session.execute(statement.limit(limit).offset(offset))
        return list(rows.scalars()), total

    async def owns_applications(self, integration_system_id: str) -> bool:
        """Whether an application of any tenant names it (Compass's foreign key restricts the deletion)."""
        statement = select(exists().where(Application.integration_system_id == integration_system_id))
        return bool((await self.session.execute(statement)).scalar())

    async def add(self, integration_system: IntegrationSystem) -> IntegrationSystem:
        self.session.add(integration_system)
        await self.session.flush()
        return integration_system

    async def delete(self, integration_system: IntegrationSystem) -> None:
        await self.session.delete(integration_system)
        await self.session.flush()
