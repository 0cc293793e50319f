"""Compass's BusinessTenantMappingInput, as the tenant service takes it."""

from __future__ import annotations

from dataclasses import dataclass

# Compass's tenant types; any other type is stored as "unknown", as Compass does.
TENANT_TYPES = frozenset({
    "customer", "account", "subaccount", "organization", "folder", "resource-group", "cost-object",
})  # fmt: skip
UNKNOWN_TYPE = "unknown"


@dataclass(frozen=True, kw_only=True)
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
