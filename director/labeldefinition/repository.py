from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from director.models import LabelDefinition


class LabelDefinitionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: str, key: str) -> LabelDefinition | None:
        statement = select(LabelDefinition).where(LabelDefinition.tenant_id == tenant_id, LabelDefinition.key == key)
        return (await self.session.execute(statement)).scalars().first()

    async def list(self, tenant_id: str) -> list[LabelDefinition]:
        statement = select(LabelDefinition).where(LabelDefinition.tenant_id == tenant_id).order_by(LabelDefinition.key)
        return list((await self.session.execute(statement)).scalars())

    async def add(self, definition: LabelDefinition) -> LabelDefinition:
        self.session.add(definition)
        await self.session.flush()
        return definition

    async def delete(self, definition: LabelDefinition) -> None:
        await self.session.delete(definition)
        await self.session.flush()
