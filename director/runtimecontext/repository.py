from __future__ import annotations

from collections.abc import Sequence

from director.models import RuntimeContext
from director.tenantaccess.repository import Shared
from kernel.repository import TenantScopedRepository


class RuntimeContextRepository(Shared, TenantScopedRepository[RuntimeContext]):
    model = RuntimeContext
    noun = "runtime context"
    reached_through = (("id", "RUNTIME_CONTEXT"),)
    # Compass pages a runtime's contexts by id.
    order_by = ("id",)

    async def by_runtimes(self, tenant_id: str, runtime_ids: Sequence[str]) -> dict[str, list[RuntimeContext]]:
        return await self.grouped_by(tenant_id, "runtime_id", runtime_ids)
