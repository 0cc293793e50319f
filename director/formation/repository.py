from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from sqlalchemy import select

from director.models import Formation
from kernel.repository import TenantScopedRepository


class FormationRepository(TenantScopedRepository[Formation]):
    model = Formation
    noun = "formation"
    order_by = ("name", "id")

    async def get_by_name(
        self, tenant_id: str, name: str, *, lock: Literal["share", "update"] | None = None
    ) -> Formation | None:
        statement = self.select(tenant_id).where(Formation.name == name)
        if lock is not None:
            statement = statement.with_for_update(read=lock == "share")
        return (await self.session.execute(statement)).scalars().first()

    async def by_names(self, tenant_id: str, names: Iterable[str]) -> list[Formation]:
        statement = self.select(tenant_id).where(Formation.name.in_(list(names))).order_by(Formation.name)
        return list((await self.session.execute(statement)).scalars())

    async def names(self, tenant_id: str) -> list[str]:
        statement = select(Formation.name).where(Formation.tenant_id == tenant_id).order_by(Formation.name)
        return list((await self.session.execute(statement)).scalars())
