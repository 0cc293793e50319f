from __future__ import annotations

from director.models import Aspect, AspectEventResource, IntegrationDependency
from director.tenantaccess.repository import Shared
from kernel.repository import TenantScopedRepository


class IntegrationDependencyRepository(Shared, TenantScopedRepository[IntegrationDependency]):
    model = IntegrationDependency
    noun = "integration dependency"
    reached_through = (("application_id", "APPLICATION"),)


class AspectRepository(Shared, TenantScopedRepository[Aspect]):
    model = Aspect
    noun = "aspect"
    reached_through = (("integration_dependency_id", "INTEGRATION_DEPENDENCY"),)


class AspectEventResourceRepository(Shared, TenantScopedRepository[AspectEventResource]):
    model = AspectEventResource
    noun = "aspect event resource"
    reached_through = (("aspect_id", "ASPECT"),)
