from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select

from director.label.filters import LabelCondition
from director.label.repository import LabelledKind, LabelledRepository, LabelRepository
from director.models import Application


class ApplicationRepository(LabelledRepository[Application]):
    model = Application
    noun = "application"
    kind = LabelledKind.APPLICATION
    order_by = ("name", "id")

    async def get_by_normalized_name(self, tenant_id: str, normalized_name: str) -> Application | None:
        statement = self.select(tenant_id).where(Application.normalized_name == normalized_name)
        return (await self.session.execute(statement)).scalars().first()

    def in_scenarios(self, tenant_id: str, scenarios: Sequence[str]) -> Select[Application]:
        labels = LabelRepository(self.session)
        owners = (
            labels.owners_matching(tenant_id, LabelledKind.APPLICATION, LabelCondition(key="scenarios"))
            .where(labels.array_contains_any(scenarios))
        )
        return self.select(tenant_id).where(Application.id.in_(owners))


