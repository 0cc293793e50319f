from __future__ import annotations

from director.models import LabelDefinition
from kernel.repository import TenantScopedRepository


class LabelDefinitionRepository(TenantScopedRepository[LabelDefinition]):
    model = LabelDefinition
    noun = "label definition"
    order_by = ("key",)

    async def get_by_key(self, tenant_id: str, key: str) -> LabelDefinition | None:
        statement = self.select(tenant_id).where(LabelDefinition.key == key)
        return (await self.session.execute(statement)).scalars().first()

    async def list(self, tenant_id: str) -> list[LabelDefinition]:
        return list((await self.session.execute(self._ordered(self.select(tenant_id)))).scalars())
