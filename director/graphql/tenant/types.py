from __future__ import annotations

from typing import Any

import strawberry
from strawberry import Info

from director import models
from director.graphql.enums import ViewerType
from director.graphql.pagination import Page
from director.graphql.scalars import Labels


@strawberry.type(description="Who is calling.")
class Viewer:
    id: strawberry.ID
    type: ViewerType


@strawberry.type(description="A tenant: everything else belongs to exactly one. id is its external id.")
class Tenant:
    id: strawberry.ID
    internal_id: strawberry.ID = strawberry.field(name="internalID")
    name: str | None
    type: str | None
    provider: str

    @classmethod
    def of(cls, model: models.Tenant) -> Tenant:
        return cls(
            id=strawberry.ID(model.external_id),
            internal_id=strawberry.ID(model.id),
            name=model.name,
            type=model.type,
            provider=model.provider,
        )

    @strawberry.field(description="Internal ids of the tenant's parents.")
    async def parents(self, info: Info) -> list[strawberry.ID | None] | None:
        return [strawberry.ID(parent) for parent in await info.context.loaders.parents_by_tenant.load(self.internal_id)]

    @strawberry.field(description="Whether the tenant has been used: it has a label definition (Compass's meaning).")
    async def initialized(self, info: Info) -> bool | None:
        return bool(await info.context.loaders.initialized_by_tenant.load(self.internal_id))

    @strawberry.field(description="The tenant's own labels (subdomain, region...), or the one named by key.")
    async def labels(self, info: Info, key: str | None = None) -> Labels | None:
        labels: dict[str, Any] = await info.context.loaders.labels_by_tenant.load(self.internal_id)
        return Labels({name: value for name, value in labels.items() if key is None or name == key})


@strawberry.type(description="A page of tenants.")
class TenantPage(Page[Tenant]):
    pass
