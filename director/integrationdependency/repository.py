from __future__ import annotations

from director.models import Aspect, AspectEventResource, IntegrationDependency
from kernel.repository import TenantScopedRepository


class IntegrationDependencyRepository(TenantScopedRepository[IntegrationDependency]):
    model = IntegrationDependency
    noun = "integration dependency"


class AspectRepository(TenantScopedRepository[Aspect]):
    model = Aspect
    noun = "aspect"


class AspectEventResourceRepository(TenantScopedRepository[AspectEventResource]):
    model = AspectEventResource
    noun = "aspect event resource"
