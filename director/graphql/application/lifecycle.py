"""Applications found by system number or local tenant id, merged, unpaired."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.application.service import application as application_service
from director.graphql.application.queries import application_page
from director.graphql.application.types import After, Application, ApplicationPage, First
from director.graphql.convert import plain
from director.graphql.enums import OperationMode
from director.graphql.inputs import LabelFilter
from director.graphql.permissions import scoped
from director.label import inputs as label_inputs
from director.pagination import PageRequest
from kernel.errors import InvalidInputError
from kernel.principal import Scope

READ = scoped(Scope.APPLICATION_READ)
WRITE = scoped(Scope.APPLICATION_WRITE)


@strawberry.type
class ApplicationLifecycleQueries:
    @strawberry.field(description="The application with this system number, or null.", extensions=READ)
    async def application_by_system_number(self, info: Info, system_number: str) -> Application | None:
        model = await info.context.read(application_service.find_by_system_number, system_number)
        return Application.of(model) if model else None

    @strawberry.field(
        name="applicationsByLocalTenantID",
        description="Applications with this local tenant id, filtered by labels.",
        extensions=READ,
    )
    async def applications_by_local_tenant_id(
        self,
        info: Info,
        local_tenant_id: Annotated[str, strawberry.argument(name="localTenantID")],
        filter: list[LabelFilter | None] | None = None,
        first: First = 200,
        after: After = None,
    ) -> ApplicationPage:
        request = PageRequest.of(first, after)
        filters = [plain(item, label_inputs.LabelFilter) for item in filter or [] if item is not None]
        page = await info.context.read(application_service.page_by_local_tenant_id, local_tenant_id, filters, request)
        return application_page(page)


@strawberry.type
class ApplicationLifecycleMutations:
    @strawberry.mutation(
        description="Merges the source application (INITIAL, in no formation, of the destination's template and "
        "base URL) into the destination: the destination takes the fields and label keys it lacks; the source is "
        "unregistered.",
        extensions=WRITE,
    )
    async def merge_applications(
        self,
        info: Info,
        destination_id: Annotated[strawberry.ID, strawberry.argument(name="destinationID")],
        source_id: Annotated[strawberry.ID, strawberry.argument(name="sourceID")],
    ) -> Application:
        merged = await info.context.write(
            application_service.merge,
            destination_id,
            source_id,
            now=info.context.clock(),
            distinguish_label_key=info.context.settings.self_register_distinguish_label_key,
        )
        return Application.of(merged)

    @strawberry.mutation(
        description="Sets the application's status to INITIAL so that it can pair again; refused while a runtime "
        "shares a formation with it. Only mode SYNC is supported.",
        extensions=WRITE,
    )
    async def unpair_application(
        self, info: Info, id: strawberry.ID, mode: OperationMode | None = OperationMode.SYNC
    ) -> Application:
        if mode is OperationMode.ASYNC:
            raise InvalidInputError("unpairApplication supports mode SYNC only: pycompass runs no operations")
        return Application.of(await info.context.write(application_service.unpair, id, now=info.context.clock()))
