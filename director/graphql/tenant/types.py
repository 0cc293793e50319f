from __future__ import annotations

import strawberry

from director import models
from director.graphql.enums import ViewerType
from director.graphql.pagination import Page


@strawberry.type(description="Who is calling.")
class Viewer:
    id: strawberry.ID
    type: ViewerType


@strawberry.type(description="A tenant: everything else belongs to exactly one.")
class Tenant:
    id: strawberry.ID
    internal_id: strawberry.ID = strawberry.field(name="internalID")
    name: str | None
    type: str

    @classmethod
    def of(cls, model: models.Tenant) -> Tenant:
        return cls(id=strawberry.ID(model.id), internal_id=strawberry.ID(model.id), name=model.name, type=model.type)


@strawberry.type(description="A page of tenants.")
class TenantPage(Page[Tenant]):
    pass
