from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from director.models import Formation, FormationTemplate


class FormationTemplateRepository:
    """Templates a tenant sees: the global ones (no tenant) and its own."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def visible(tenant_id: str) -> Select[FormationTemplate]:
        return select(FormationTemplate).where(
            or_(FormationTemplate.tenant_id.is_(None), FormationTemplate.tenant_id == tenant_id)
        )

    async def get(self, tenant_id: str, template_id: str) -> FormationTemplate | None:
        statement = self.visible(tenant_id).where(FormationTemplate.id == template_id)
        return (await self.session.execute(statement)).scalars().first()

    async def by_ids(self, tenant_id: str, ids: Sequence[str]) -> dict[str, FormationTemplate]:
        rows = await self.session.execute(self.visible(tenant_id).where(FormationTemplate.id.in_(ids)))
        return {row.id: row for row in rows.scalars()}

    async def by_name(self, tenant_id: str, name: str) -> list[FormationTemplate]:
        """Same-named templates, the tenant's own first: it shadows a global one, as in Compass."""
        statement = self.visible(tenant_id).where(FormationTemplate.name == name)
        rows = list((await self.session.execute(statement)).scalars())
        return sorted(rows, key=lambda row: row.tenant_id is None)

    async def listed(self, tenant_id: str, name: str | None) -> list[FormationTemplate]:
        statement = self.visible(tenant_id)
        if name is not None:
            statement = statement.where(FormationTemplate.name == name)
        rows = await self.session.execute(statement.order_by(FormationTemplate.created_at, FormationTemplate.id))
        return list(rows.scalars())

    async def add(self, template: FormationTemplate) -> FormationTemplate:
        self.session.add(template)
        await self.session.flush()
        return template

    async def in_use(self, template_id: str) -> int:
        statement = select(func.count()).select_from(Formation).where(Formation.formation_template_id == template_id)
        return int((await self.session.execute(statement)).scalar_one())

    async def delete(self, template: FormationTemplate) -> None:
        await self.session.delete(template)
        await self.session.flush()
