from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from director.models import Webhook
from director.tenantaccess.repository import Shared
from kernel.repository import TenantScopedRepository


class WebhookRepository(Shared, TenantScopedRepository[Webhook]):
    model = Webhook
    noun = "webhook"
    reached_through = (("application_id", "APPLICATION"), ("runtime_id", "RUNTIME"))

    async def _grouped(
        self, owner: InstrumentedAttribute[str | None], tenant: ColumnElement[bool], owner_ids: Sequence[str]
    ) -> dict[str, list[Webhook]]:
        """``grouped_by`` for templates' webhooks, whose tenant may be none (``tenant`` says which rows)."""
        statement = self._ordered(select(Webhook).where(tenant, owner.in_(owner_ids)))
        grouped: dict[str, list[Webhook]] = defaultdict(list)
        for row in (await self.session.execute(statement)).scalars():
            grouped[str(getattr(row, owner.key))].append(row)
        return grouped

    async def of_application_templates(self, template_ids: Sequence[str]) -> dict[str, list[Webhook]]:
        """Templates' webhooks are global like them (no tenant)."""
        return await self._grouped(Webhook.application_template_id, Webhook.tenant_id.is_(None), template_ids)

    async def of_formation_templates(self, tenant_id: str, template_ids: Sequence[str]) -> dict[str, list[Webhook]]:
        """A formation template's webhooks carry its tenant (none for a global template)."""
        tenant = or_(Webhook.tenant_id.is_(None), Webhook.tenant_id == tenant_id)
        return await self._grouped(Webhook.formation_template_id, tenant, template_ids)

    async def delete_of_formation_template(self, tenant_id: str, template_id: str) -> None:
        await self.session.execute(
            delete(Webhook).where(Webhook.tenant_id == tenant_id, Webhook.formation_template_id == template_id)
        )

    async def of_an_application_template(self, webhook_id: str) -> Webhook | None:
        """The webhook if it is an application template's (global, no tenant)."""
        statement = select(Webhook).where(
            Webhook.id == webhook_id, Webhook.tenant_id.is_(None), Webhook.application_template_id.is_not(None)
        )
        return (await self.session.execute(statement)).scalars().first()

    async def delete_of_application_template(self, template_id: str) -> None:
        await self.session.execute(
            delete(Webhook).where(Webhook.tenant_id.is_(None), Webhook.application_template_id == template_id)
        )
