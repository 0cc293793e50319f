from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete

from director.models import FetchRequest
from director.tenantaccess.repository import Shared
from kernel.repository import TenantScopedRepository


class FetchRequestRepository(Shared, TenantScopedRepository[FetchRequest]):
    model = FetchRequest
    noun = "fetch request"
    reached_through = (
        ("api_definition_id", "API_DEFINITION"),
        ("event_definition_id", "EVENT_DEFINITION"),
        ("document_id", "DOCUMENT"),
    )

    async def by_owners(
        self, tenant_id: str, owner: str, owner_ids: Sequence[str]
    ) -> dict[str, FetchRequest]:
        """The fetch request of each owner that has one; ``owner`` is the owner's column (``api_definition_id``)."""
        return {key: rows[0] for key, rows in (await self.grouped_by(tenant_id, owner, owner_ids)).items()}

    async def of_owner(self, tenant_id: str, owner: str, owner_id: str) -> FetchRequest | None:
        return (await self.by_owners(tenant_id, owner, [owner_id])).get(owner_id)

    async def delete_of_owner(self, tenant_id: str, owner: str, owner_id: str) -> None:
        statement = delete(FetchRequest).where(self.visible_to(tenant_id), getattr(FetchRequest, owner) == owner_id)
        await self.session.execute(statement)
