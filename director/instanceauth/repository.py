from __future__ import annotations

from director.models import BundleInstanceAuth
from director.repository import TenantScopedRepository


class BundleInstanceAuthRepository(TenantScopedRepository[BundleInstanceAuth]):
    model = BundleInstanceAuth
