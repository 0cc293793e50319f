from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select

from director.label.filters import LabelCondition
from director.label.repository import LabelledKind, LabelledRepository, LabelRepository
from director.models import SCENARIOS, Application
from director.tenantaccess.repository import Shared
from kernel.changes import client_gone


class ApplicationRepository(Shared, LabelledRepository[Application]):
    model = Application
    noun = "application"
    reached_through = (("id", "APPLICATION"),)
    kind = LabelledKind.APPLICATION
    order_by = ("name", "id")
    deletion_tags = (client_gone,)

    async def get_by_system_number(self, tenant_id: str, system_number: str) -> Application | None:
        statement = self.select(tenant_id).where(Application.system_number == system_number)
        return (await self.session.execute(self._ordered(statement))).scalars().first()

    def of_every_tenant(self, conditions: Sequence[LabelCondition]) -> Select[Application]:
        """Applications of all tenants matching every label condition (``applicationsGlobal``)."""
        labels = LabelRepository(self.session)
        statement = select(Application)
        for condition in conditions:
            statement = statement.where(Application.id.in_(labels.owners_matching(None, self.kind, condition)))
        return statement

    async def get_by_local_tenant_id_and_template(
        self, tenant_id: str, local_tenant_id: str, template_id: str
    ) -> Application | None:
        statement = self.select(tenant_id).where(
            Application.local_tenant_id == local_tenant_id, Application.application_template_id == template_id
        )
        return (await self.session.execute(self._ordered(statement))).scalars().first()

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

    async def in_formation_of(self, tenant_id: str, runtime_id: str, application_id: str) -> bool:
        """Whether the application shares a formation with the runtime: what ``applicationsForRuntime`` shows it."""
        label = await LabelRepository(self.session).get(tenant_id, LabelledKind.RUNTIME, runtime_id, SCENARIOS)
        if label is None or not isinstance(label.value, list) or not label.value:
            return False
        statement = self.in_scenarios(tenant_id, label.value).where(Application.id == application_id).limit(1)
        return (await self.session.execute(statement)).first() is not None


