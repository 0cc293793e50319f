"""The statements of the subscription flow that no other domain's repository has."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from director.application.repository import ApplicationRepository
from director.label.filters import LabelCondition
from director.label.repository import LabelledKind, LabelRepository
from director.models import Application, Runtime, RuntimeContext
from director.runtime.repository import RuntimeRepository
from director.runtimecontext.repository import RuntimeContextRepository


class SubscriptionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def runtime_anywhere(self, conditions: Sequence[LabelCondition]) -> bool:
        """Whether a runtime of any tenant satisfies every condition (Compass's ``GetByFiltersGlobal``)."""
        labels = LabelRepository(self.session)
        statement = select(Runtime.id)
        for condition in conditions:
            statement = statement.where(Runtime.id.in_(labels.owners_matching(None, LabelledKind.RUNTIME, condition)))
        return (await self.session.execute(statement.limit(1))).first() is not None

    async def runtime_in(self, tenant_id: str, conditions: Sequence[LabelCondition]) -> Runtime | None:
        """The tenant's first runtime (by name) that satisfies every condition."""
        statement = RuntimeRepository(self.session).filtered(tenant_id, conditions)
        return (await self.session.execute(statement.order_by(Runtime.name, Runtime.id))).scalars().first()

    async def applications_of_template(self, tenant_id: str, template_id: str) -> list[Application]:
        statement = ApplicationRepository(self.session).select(tenant_id)
        statement = statement.where(Application.application_template_id == template_id)
        return list((await self.session.execute(statement.order_by(Application.name, Application.id))).scalars())

    async def contexts_on(
        self, tenant_id: str, runtime_id: str, condition: LabelCondition | None = None
    ) -> list[RuntimeContext]:
        """The tenant's contexts on the runtime; with ``condition``, those whose label satisfies it."""
        statement = RuntimeContextRepository(self.session).select(tenant_id)
        statement = statement.where(RuntimeContext.runtime_id == runtime_id)
        if condition is not None:
            owners = LabelRepository(self.session).owners_matching(tenant_id, LabelledKind.RUNTIME_CONTEXT, condition)
            statement = statement.where(RuntimeContext.id.in_(owners))
        return list((await self.session.execute(statement.order_by(RuntimeContext.id))).scalars())
