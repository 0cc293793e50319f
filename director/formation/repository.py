from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from director.models import Formation


class FormationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_name(
        self, tenant_id: str, name: str, *, lock: Literal["share", "update"] | None = None
    ) -> Formation | None:
        statement = select(Formation).where(Formation.tenant_id == tenant_id, Formation.name == name)
        if lock is not None:
            statement = statement.with_for_update(read=lock == "share")
        return (await self.session.execute(statement)).scalars().first()

    async def by_names(self, tenant_id: str, names: Iterable[str]) -> list[Formation]:
        statement = (
            select(Formation)
            .where(Formation.tenant_id == tenant_id, Formation.name.in_(list(names)))
            .order_by(Formation.name)
        )
        return list((await self.session.execute(statement)).scalars())

    async def names(self, tenant_id: str) -> list[str]:
        statement = select(Formation.name).where(Formation.tenant_id == tenant_id).order_by(Formation.name)
        return list((await self.session.execute(statement)).scalars())

    async def page(self, tenant_id: str, *, limit: int, offset: int) -> tuple[list[Formation], int]:
        where = Formation.tenant_id == tenant_id
        total = (await self.session.execute(select(func.count()).where(where))).scalar_one()
        statement = select(Formation).where(where).order_by(Formation.name).limit(limit).offset(offset)
        return list((await self.session.execute(statement)).scalars()), total

    async def add(self, formation: Formation) -> Formation:
        self.session.add(formation)
        await self.session.flush()
        return formation

    async def delete(self, formation: Formation) -> None:
        await self.session.delete(formation)
        await self.session.flush()
