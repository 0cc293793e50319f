from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from director.models import Tenant


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: str) -> Tenant | None:
        return await self.session.get(Tenant, tenant_id)

    async def get_by_name_or_id(self, name_or_id: str) -> Tenant | None:
        statement = select(Tenant).where(or_(Tenant.id == name_or_id, Tenant.name == name_or_id))
        return (await self.session.execute(statement)).scalars().first()

    async def get_by_name(self, name: str) -> Tenant | None:
        return (await self.session.execute(select(Tenant).where(Tenant.name == name))).scalars().first()

    async def list(
        self, *, ids: Sequence[str] | None = None, search: str | None = None, limit: int, offset: int
    ) -> tuple[list[Tenant], int]:
        statement = select(Tenant)
        if ids is not None:
            statement = statement.where(Tenant.id.in_(ids))
        if search:
            statement = statement.where(or_(Tenant.name.contains(search), Tenant.id.contains(search)))
        total = (await self.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        rows = await self.session.execute(statement.order_by(Tenant.name, Tenant.id).limit(limit).offset(offset))
        return list(rows.scalars()), total

    async def add(self, tenant: Tenant) -> Tenant:
        self.session.add(tenant)
        await self.session.flush()
        return tenant
