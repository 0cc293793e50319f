from __future__ import annotations

from sqlalchemy import ColumnElement, or_

from director.models import BundleInstanceAuth
from director.tenantaccess.repository import Shared
from kernel.repository import TenantScopedRepository


class BundleInstanceAuthRepository(Shared, TenantScopedRepository[BundleInstanceAuth]):
    model = BundleInstanceAuth
    noun = "bundle instance auth"
    reached_through = (("bundle_id", "BUNDLE"),)

    def visible_to(self, tenant_id: str) -> ColumnElement[bool]:
        """As Compass's ``bundle_instance_auths_tenants`` view and its ``owner_id`` check: every tenant that sees the
        bundle's application (the tenant it was made in and its grantees, read or owner), and the tenant that
        requested the auth, even once it no longer sees the application."""
        return or_(super().visible_to(tenant_id), BundleInstanceAuth.tenant_id == tenant_id)
