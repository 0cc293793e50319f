from __future__ import annotations

from collections.abc import Sequence

from director.label.filters import LabelCondition
from director.label.repository import LabelledKind, LabelledRepository
from director.models import SCENARIOS, Runtime
from director.tenantaccess.repository import Shared
from kernel.changes import client_gone


class RuntimeRepository(Shared, LabelledRepository[Runtime]):
    model = Runtime
    noun = "runtime"
    reached_through = (("id", "RUNTIME"),)
    kind = LabelledKind.RUNTIME
    order_by = ("name", "id")
    deletion_tags = (client_gone,)

    async def get_by_name(self, tenant_id: str, name: str) -> Runtime | None:
        statement = self.select(tenant_id).where(Runtime.name == name)
        return (await self.session.execute(statement)).scalars().first()

    async def names_in_formations(self, tenant_id: str, formations: Sequence[str]) -> list[str]:
        """The names of the runtimes in any of ``formations``, sorted."""
        condition = LabelCondition(key=SCENARIOS, any_of=tuple(formations))
        statement = self.filtered(tenant_id, [condition]).with_only_columns(Runtime.name).order_by(Runtime.name)
        return list((await self.session.execute(statement)).scalars())
