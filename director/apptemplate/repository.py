from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from director.models import ApplicationTemplate


class ApplicationTemplateRepository:
    """Templates are global: no statement here is scoped to a tenant."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, template_id: str) -> ApplicationTemplate | None:
        return await self.session.get(ApplicationTemplate, template_id)

    async def all(self) -> list[ApplicationTemplate]:
        """Every template, in a stable order (Compass pages them by id)."""
        rows = await self.session.execute(select(ApplicationTemplate).order_by(ApplicationTemplate.id))
        return list(rows.scalars())

    async def by_name(self, name: str) -> list[ApplicationTemplate]:
        statement = (
            select(ApplicationTemplate)
            .where(ApplicationTemplate.name == name)
            .order_by(ApplicationTemplate.id)
        )
        return list((await self.session.execute(statement)).scalars())

    async def by_ids(self, ids: Sequence[str]) -> dict[str, ApplicationTemplate]:
        rows = await self.session.execute(select(ApplicationTemplate).where(ApplicationTemplate.id.in_(ids)))
        return {row.id: row for row in rows.scalars()}

    async def add(self, template: ApplicationTemplate) -> ApplicationTemplate:
        self.session.add(template)
        await self.session.flush()
        return template

    async def delete(self, template: ApplicationTemplate) -> None:
        await self.session.delete(template)
        await self.session.flush()
