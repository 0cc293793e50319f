"""What Compass accepts in a certificate subject mapping (its ``inputvalidation`` for them)."""

from __future__ import annotations

from dataclasses import dataclass

CONSUMER_TYPES = frozenset({
    "Runtime",
    "Integration System",
    "Application",
    "Super Admin",
    "Business Integration",
    "Managed Application Provider Operator",
    "Application Provider",
    "Managed Application Consumer",
    "Landscape Resource Operator",
    "Tenant Discovery Operator",
    "Instance Creator",
    "Formation Viewer",
    "Technical Client",
    "External Certificate",
    "Static User",
})
# Compass's tenant types, and "global": access not tied to one tenant.
TENANT_ACCESS_LEVELS = frozenset({
    "customer", "account", "subaccount", "organization", "folder", "resource-group", "cost-object", "global",
})  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class CertificateSubjectMappingInput:
    subject: str
    consumer_type: str
    internal_consumer_id: str | None = None
    tenant_access_levels: list[str]
