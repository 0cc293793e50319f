from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.graphql.permissions import scoped
from director.graphql.tenantaccess.types import TenantAccess, TenantAccessInput, TenantAccessObjectType
from director.tenantaccess import inputs
from director.tenantaccess.service import tenant_access as tenant_access_service
from kernel.principal import Scope

WRITE = scoped(Scope.TENANT_ACCESS_WRITE)


@strawberry.type
class TenantAccessMutations:
    @strawberry.mutation(
        description="Gives a tenant (by external id) and the tenants above it access to an object of the caller's "
        "tenant: it sees the object and all below it in every query; an owner may change it too.",
        extensions=WRITE,
    )
    async def add_tenant_access(
        self, info: Info, in_: Annotated[TenantAccessInput, strawberry.argument(name="in")]
    ) -> TenantAccess | None:
        data = inputs.TenantAccessInput(
            tenant_id=in_.tenant_id,
            resource_type=in_.resource_type.value,
            resource_id=in_.resource_id,
            owner=in_.owner,
        )
        return TenantAccess.of(await info.context.write(tenant_access_service.add, data))

    @strawberry.mutation(
        description="Takes back the access a tenant (by external id) was given to an object, and what it gave the "
        "tenants above it; answers the access removed.",
        extensions=WRITE,
    )
    async def remove_tenant_access(
        self,
        info: Info,
        tenant_id: Annotated[strawberry.ID, strawberry.argument(name="tenantID")],
        resource_id: Annotated[strawberry.ID, strawberry.argument(name="resourceID")],
        resource_type: TenantAccessObjectType,
    ) -> TenantAccess | None:
        view = await info.context.write(
            tenant_access_service.remove,
            tenant_id=tenant_id,
            resource_type=resource_type.value,
            resource_id=resource_id,
        )
        return TenantAccess.of(view)
