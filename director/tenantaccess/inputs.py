"""The tenant access domain's own inputs: what the GraphQL layer converts ``TenantAccessInput`` into."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TenantAccessInput:
    # Compass's external tenant id, as a tenant fetcher knows it.
    tenant_id: str
    resource_type: str
    resource_id: str
    owner: bool


@dataclass(frozen=True)
class TenantAccessView:
    """A grant as Compass answers it: the grantee by its external id."""

    tenant_id: str
    resource_type: str
    resource_id: str
    owner: bool
