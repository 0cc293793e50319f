from __future__ import annotations

import strawberry


@strawberry.input(description="A tenant as Compass's tenant fetcher writes it; parents are external ids.")
class BusinessTenantMappingInput:
    name: str
    external_tenant: str
    parents: list[str | None] | None = None
    subdomain: str | None = None
    region: str | None = None
    type: str
    provider: str
    license_type: str | None = None
    customer_id: str | None = None
    cost_object_id: str | None = None
    cost_object_type: str | None = None
