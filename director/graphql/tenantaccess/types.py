from __future__ import annotations

from enum import Enum

import strawberry

from director.tenantaccess.inputs import TenantAccessView


@strawberry.enum(description="Kinds of objects a tenant can be given access to.")
class TenantAccessObjectType(Enum):
    APPLICATION = "APPLICATION"
    RUNTIME = "RUNTIME"
    RUNTIME_CONTEXT = "RUNTIME_CONTEXT"


@strawberry.input(
    description="Access for a tenant (its external id) to an object of the caller's; owner: it may change and "
    "delete the object too, not only read it."
)
class TenantAccessInput:
    tenant_id: strawberry.ID = strawberry.field(name="tenantID")
    resource_type: TenantAccessObjectType
    resource_id: strawberry.ID = strawberry.field(name="resourceID")
    owner: bool


@strawberry.type(description="A tenant's access to an object of another tenant.")
class TenantAccess:
    tenant_id: strawberry.ID = strawberry.field(name="tenantID")
    resource_type: TenantAccessObjectType
    resource_id: strawberry.ID = strawberry.field(name="resourceID")
    owner: bool

    @classmethod
    def of(cls, view: TenantAccessView) -> TenantAccess:
        return cls(
            tenant_id=strawberry.ID(view.tenant_id),
            resource_type=TenantAccessObjectType(view.resource_type),
            resource_id=strawberry.ID(view.resource_id),
            owner=view.owner,
        )
