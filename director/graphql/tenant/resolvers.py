from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director import models
from director.graphql.application.types import After, First
from director.graphql.convert import plain
from director.graphql.enums import ViewerType
from director.graphql.label.types import Label
from director.graphql.permissions import scoped
from director.graphql.scalars import AnyScalar
from director.graphql.tenant.inputs import BusinessTenantMappingInput
from director.graphql.tenant.types import Tenant, TenantPage, Viewer
from director.pagination import PageRequest
from director.tenant import inputs
from director.tenant.service import tenant as tenant_service
from kernel.errors import NotFoundError
from kernel.principal import Scope

READ = scoped(Scope.TENANT_READ)
WRITE = scoped(Scope.TENANT_WRITE)
In = strawberry.argument(name="in")


def _everywhere(info: Info) -> bool:
    """The platform scope tenant:write shows every tenant; without it, the caller's own and those above it."""
    return bool(info.context.principal.has_scope(Scope.TENANT_WRITE))


def _shown(found: models.Tenant | None, id: str) -> Tenant:
    """Compass answers NOT_FOUND; a tenant the caller may not see is missing to it."""
    if found is None:
        raise NotFoundError(f"tenant {id} does not exist")
    return Tenant.of(found)


@strawberry.type
class TenantQueries:
    @strawberry.field(description="Who is calling.")
    def viewer(self, info: Info) -> Viewer:
        principal = info.context.principal
        return Viewer(id=strawberry.ID(principal.viewer_id), type=ViewerType(principal.viewer_type))

    @strawberry.field(
        description="The tenants the caller may act in; every tenant for a holder of tenant:write.", extensions=READ
    )
    async def tenants(
        self, info: Info, first: First = 200, after: After = None, search_term: str | None = None
    ) -> TenantPage:
        request = PageRequest.of(first, after)
        async with info.context.reading() as session:
            ids = None if _everywhere(info) else [info.context.tenant_id]
            page = await tenant_service.page(session, ids=ids, search=search_term, request=request)
        return TenantPage.of(page, Tenant.of)

    @strawberry.field(name="tenantByExternalID", description="A tenant by its external id.", extensions=READ)
    async def tenant_by_external_id(self, info: Info, id: strawberry.ID) -> Tenant | None:
        found = await info.context.read(tenant_service.by_external_id, id, everywhere=_everywhere(info))
        return _shown(found, id)

    @strawberry.field(name="tenantByInternalID", description="A tenant by its internal id.", extensions=READ)
    async def tenant_by_internal_id(self, info: Info, id: strawberry.ID) -> Tenant | None:
        found = await info.context.read(tenant_service.by_internal_id, id, everywhere=_everywhere(info))
        return _shown(found, id)

    @strawberry.field(
        description="The topmost tenants above a tenant (empty for a tenant without parents).", extensions=READ
    )
    async def root_tenants(self, info: Info, external_tenant: str) -> list[Tenant] | None:
        found = await info.context.read(tenant_service.roots, external_tenant, everywhere=_everywhere(info))
        return [Tenant.of(tenant) for tenant in found]

    @strawberry.field(
        description="The internal id of the tenant owning an application or runtime (resource: application, runtime).",
        extensions=READ,
    )
    async def tenant_by_lowest_owner_for_resource(self, info: Info, id: strawberry.ID, resource: str) -> str:
        return await info.context.read(tenant_service.lowest_owner, id, resource)


@strawberry.type
class TenantMutations:
    @strawberry.mutation(description="Creates or updates tenants by external id; answers their internal ids.", extensions=WRITE)
    async def write_tenants(
        self, info: Info, in_: Annotated[list[BusinessTenantMappingInput] | None, In] = None
    ) -> list[str] | None:
        data = [plain(item, inputs.BusinessTenantMappingInput) for item in in_ or ()]
        return await info.context.write(tenant_service.write, data)

    @strawberry.mutation(description="Creates or updates one tenant by external id; answers its internal id.", extensions=WRITE)
    async def write_tenant(self, info: Info, in_: Annotated[BusinessTenantMappingInput, In]) -> str:
        return await info.context.write(tenant_service.write_one, plain(in_, inputs.BusinessTenantMappingInput))

    @strawberry.mutation(
        description="Deletes tenants by external id, with the tenants below them and all they own; answers how "
        "many ids were given.",
        extensions=WRITE,
    )
    async def delete_tenants(self, info: Info, in_: Annotated[list[str] | None, In] = None) -> int:
        return await info.context.write(tenant_service.delete, list(in_ or ()))

    @strawberry.mutation(description="Replaces a tenant's names, type, provider and parents (by internal id).", extensions=WRITE)
    async def update_tenant(
        self, info: Info, id: strawberry.ID, in_: Annotated[BusinessTenantMappingInput, In]
    ) -> Tenant:
        data = plain(in_, inputs.BusinessTenantMappingInput)
        return Tenant.of(await info.context.write(tenant_service.update, id, data))

    @strawberry.mutation(description="Sets a label on a tenant itself (by internal id).", extensions=WRITE)
    async def set_tenant_label(
        self,
        info: Info,
        tenant_id: Annotated[strawberry.ID, strawberry.argument(name="tenantID")],
        key: str,
        value: AnyScalar,
    ) -> Label:
        await info.context.write(tenant_service.set_label, tenant_id, key, value)
        return Label(key=key, value=value)
