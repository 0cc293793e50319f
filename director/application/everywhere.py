"""``applicationsGlobal``: the applications of every tenant, each with the tenants that have access to it.

In pycompass every application stays in the one tenant that registered it (no access grants, no access inherited
by parents), so "the tenants with access" is that tenant alone. Reading across tenants takes the platform scope
``application_global:read`` (Compass's super_admin scope), which `compass token` grants only when asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from director.application.repository import ApplicationRepository
from director.label.filters import parse_label_filter
from director.label.inputs import LabelFilter
from director.models import Application, Tenant
from director.pagination import Page, PageRequest
from director.tenant.repository import TenantRepository
from director.validation import list_size


@dataclass(frozen=True)
class ApplicationWithTenants:
    application: Application
    tenants: list[Tenant]


class ApplicationsEverywhereService:
    async def page(
        self,
        session: AsyncSession,
        _tenant_id: str,
        filters: Sequence[LabelFilter],
        request: PageRequest,
    ) -> Page[ApplicationWithTenants]:
        conditions = [parse_label_filter(item.key, item.query) for item in list_size(filters, "filter")]
        repository = ApplicationRepository(session)
        rows, total = await repository.page(
            repository.of_every_tenant(conditions), limit=request.limit, offset=request.offset
        )
        tenants = {
            tenant.id: tenant
            for tenant in await TenantRepository(session).by_ids([row.tenant_id for row in rows])
        }
        items = [ApplicationWithTenants(row, [tenants[row.tenant_id]]) for row in rows]
        return Page(items, total, request.offset)


applications_everywhere = ApplicationsEverywhereService()
