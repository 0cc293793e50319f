from __future__ import annotations

from director.models import BundleInstanceAuth
from director.tenantaccess.repository import Shared
from kernel.repository import TenantScopedRepository


class BundleInstanceAuthRepository(Shared, TenantScopedRepository[BundleInstanceAuth]):
    model = BundleInstanceAuth
    noun = "bundle instance auth"
    reached_through = (("bundle_id", "BUNDLE"),)
