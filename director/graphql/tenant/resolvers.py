from __future__ import annotations

import strawberry
from strawberry import Info

from director.graphql.application.types import After, First
from director.graphql.enums import ViewerType
from director.graphql.permissions import scoped
from director.graphql.tenant.types import Tenant, TenantPage, Viewer
from director.pagination import PageRequest
from director.tenant.service import tenant as tenant_service
from kernel.principal import Scope


@strawberry.type
class TenantQueries:
    @strawberry.field(description="Who is calling.")
    def viewer(self, info: Info) -> Viewer:
        principal = info.context.principal
        return Viewer(id=strawberry.ID(principal.viewer_id), type=ViewerType(principal.viewer_type))

    @strawberry.field(description="The tenants the caller may act in.", extensions=scoped(Scope.TENANT_READ))
    async def tenants(
        self, info: Info, first: First = 200, after: After = None, search_term: str | None = None
    ) -> TenantPage:
        request = PageRequest.of(first, after)
        async with info.context.reading() as session:
            page = await tenant_service.page(session, ids=[info.context.tenant_id], search=search_term, request=request)
        return TenantPage.of(page, Tenant.of)
