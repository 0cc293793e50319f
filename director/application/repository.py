from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select

from director.label.filters import LabelCondition
from director.label.repository import LabelledKind, LabelRepository
from director.models import Application
from kernel.repository import TenantScopedRepository


class ApplicationRepository(TenantScopedRepository[Application]):
    model = Application
    noun = "application"
    order_by = ("name", "id")

    async def get_by_normalized_name(self, tenant_id: str, normalized_name: str) -> Application | None:
        statement = self.select(tenant_id).where(Application.normalized_name == normalized_name)
        return (await self.session.execute(statement)).scalars().first()

    def filtered(self, tenant_id: str, conditions: Sequence[LabelCondition]) -> Select[tuple[Application]]:
        labels = LabelRepository(self.session)
        statement = self.select(tenant_id)
        for condition in conditions:
            statement = statement.where(
                Application.id.in_(labels.owners_matching(tenant_id, LabelledKind.APPLICATION, condition))
            )
        return statement

    def in_scenarios(self, tenant_id: str, scenarios: Sequence[str]) -> Select[tuple[Application]]:
        labels = LabelRepository(self.session)
        owners = (
            labels.owners_matching(tenant_id, LabelledKind.APPLICATION, LabelCondition(key="scenarios"))
            .where(labels.array_contains_any(scenarios))
        )
        return self.select(tenant_id).where(Application.id.in_(owners))


