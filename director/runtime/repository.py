from __future__ import annotations

from director.label.repository import LabelledKind, LabelledRepository
from director.models import Runtime


class RuntimeRepository(LabelledRepository[Runtime]):
    model = Runtime
    noun = "runtime"
    kind = LabelledKind.RUNTIME
    order_by = ("name", "id")

    async def get_by_name(self, tenant_id: str, name: str) -> Runtime | None:
        statement = self.select(tenant_id).where(Runtime.name == name)
        return (await self.session.execute(statement)).scalars().first()
