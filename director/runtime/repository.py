from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select

from director.label.filters import LabelCondition
from director.label.repository import LabelledKind, LabelRepository
from director.models import Runtime
from kernel.repository import TenantScopedRepository


class RuntimeRepository(TenantScopedRepository[Runtime]):
    model = Runtime
    noun = "runtime"
    order_by = ("name", "id")

    async def get_by_name(self, tenant_id: str, name: str) -> Runtime | None:
        statement = self.select(tenant_id).where(Runtime.name == name)
        return (await self.session.execute(statement)).scalars().first()

    def filtered(self, tenant_id: str, conditions: Sequence[LabelCondition]) -> Select[tuple[Runtime]]:
        labels = LabelRepository(self.session)
        statement = self.select(tenant_id)
        for condition in conditions:
            statement = statement.where(
                Runtime.id.in_(labels.owners_matching(tenant_id, LabelledKind.RUNTIME, condition))
            )
        return statement
