"""``applicationsGlobal``: every tenant's applications, for the holder of ``application_global:read``."""

from __future__ import annotations

import strawberry
from strawberry import Info

from director.application.everywhere import ApplicationWithTenants as ApplicationWithTenantsRow
from director.application.everywhere import applications_everywhere
from director.graphql.application.types import After, Application, First
from director.graphql.convert import plain
from director.graphql.inputs import LabelFilter
from director.graphql.pagination import Page
from director.graphql.permissions import scoped
from director.graphql.tenant.types import Tenant
from director.label import inputs as label_inputs
from director.pagination import PageRequest
from kernel.principal import Scope


@strawberry.type(
    description="An application of any tenant and the tenants with access to it (in pycompass, the one holding "
    "it). Its nested lists (labels, bundles...) are read in the caller's tenant: another tenant's answer empty."
)
class ApplicationWithTenants:
    application: Application | None
    tenants: list[Tenant | None] | None

    @classmethod
    def of(cls, row: ApplicationWithTenantsRow) -> ApplicationWithTenants:
        return cls(
            application=Application.of(row.application), tenants=[Tenant.of(tenant) for tenant in row.tenants]
        )


@strawberry.type(description="A page of applications of every tenant.")
class ApplicationWithTenantsPage(Page[ApplicationWithTenants | None]):
    pass


@strawberry.type
class ApplicationsEverywhereQueries:
    @strawberry.field(
        description="The applications of every tenant, filtered by labels (the platform scope application_global:read).",
        extensions=scoped(Scope.APPLICATION_GLOBAL_READ),
    )
    async def applications_global(
        self, info: Info, filter: list[LabelFilter] | None = None, first: First = 200, after: After = None
    ) -> ApplicationWithTenantsPage:
        request = PageRequest.of(first, after)
        filters = [plain(item, label_inputs.LabelFilter) for item in filter or []]
        page = await info.context.read(applications_everywhere.page, filters, request)
        return ApplicationWithTenantsPage.of(page, ApplicationWithTenants.of)
