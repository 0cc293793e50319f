from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from director.models import LabelDefinition, Tenant, TenantLabel, TenantParent
from kernel.changes import note, tenant_gone


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
            statement = statement.where(
                or_(Tenant.name.contains(search), Tenant.id.contains(search), Tenant.external_id.contains(search))
            )
        total = (await self.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        rows = await self.session.execute(statement.order_by(Tenant.name, Tenant.id).limit(limit).offset(offset))
        return list(rows.scalars()), total

    async def add(self, tenant: Tenant) -> Tenant:
        self.session.add(tenant)
        await self.session.flush()
        return tenant

    async def get_by_external_id(self, external_id: str) -> Tenant | None:
        statement = select(Tenant).where(Tenant.external_id == external_id)
        return (await self.session.execute(statement)).scalars().first()

    async def by_external_ids(self, external_ids: Sequence[str]) -> dict[str, Tenant]:
        rows = await self.session.execute(select(Tenant).where(Tenant.external_id.in_(external_ids)))
        return {tenant.external_id: tenant for tenant in rows.scalars()}

    async def by_ids(self, ids: Sequence[str]) -> builtins.list[Tenant]:
        rows = await self.session.execute(select(Tenant).where(Tenant.id.in_(ids)).order_by(Tenant.name, Tenant.id))
        return builtins.list(rows.scalars())

    async def parents_of(self, tenant_ids: Sequence[str]) -> dict[str, builtins.list[str]]:
        """Internal ids of each tenant's parents, in one statement."""
        statement = (
            select(TenantParent.tenant_id, TenantParent.parent_id)
            .where(TenantParent.tenant_id.in_(tenant_ids))
            .order_by(TenantParent.parent_id)
        )
        parents: dict[str, builtins.list[str]] = defaultdict(list)
        for tenant_id, parent_id in await self.session.execute(statement):
            parents[tenant_id].append(parent_id)
        return parents

    async def children_of(self, tenant_id: str) -> builtins.list[str]:
        statement = select(TenantParent.tenant_id).where(TenantParent.parent_id == tenant_id)
        return builtins.list((await self.session.execute(statement)).scalars())

    async def set_parents(self, tenant_id: str, parent_ids: Sequence[str]) -> None:
        await self.session.execute(delete(TenantParent).where(TenantParent.tenant_id == tenant_id))
        self.session.add_all(TenantParent(tenant_id=tenant_id, parent_id=parent_id) for parent_id in parent_ids)
        await self.session.flush()

    async def labels_of(self, tenant_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        statement = select(TenantLabel).where(TenantLabel.tenant_id.in_(tenant_ids)).order_by(TenantLabel.key)
        labels: dict[str, dict[str, Any]] = defaultdict(dict)
        for label in (await self.session.execute(statement)).scalars():
            labels[label.tenant_id][label.key] = label.value
        return labels

    async def set_label(self, tenant_id: str, key: str, value: Any) -> None:
        statement = select(TenantLabel).where(TenantLabel.tenant_id == tenant_id, TenantLabel.key == key)
        label = (await self.session.execute(statement)).scalars().first()
        if label is None:
            self.session.add(TenantLabel(tenant_id=tenant_id, key=key, value=value))
        else:
            label.value = value
        await self.session.flush()

    async def initialized(self, tenant_ids: Sequence[str]) -> set[str]:
        """Compass's ``initialized``: the tenants that have a label definition."""
        statement = select(LabelDefinition.tenant_id).where(LabelDefinition.tenant_id.in_(tenant_ids)).distinct()
        return set((await self.session.execute(statement)).scalars())

    async def delete(self, tenant: Tenant) -> None:
        """Every row of the tenant goes with it (their foreign keys cascade)."""
        await self.session.delete(tenant)
        await self.session.flush()
        note(self.session, tenant_gone(tenant.id))
