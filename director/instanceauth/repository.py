from __future__ import annotations

from director.models import BundleInstanceAuth
from kernel.repository import TenantScopedRepository


class BundleInstanceAuthRepository(TenantScopedRepository[BundleInstanceAuth]):
    model = BundleInstanceAuth
    noun = "bundle instance auth"
