from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director import models
from director.application.service import application as application_service
from director.graphql.application.types import After, Application, ApplicationPage, First
from director.graphql.convert import plain
from director.graphql.inputs import LabelFilter
from director.graphql.permissions import scoped
from director.label import inputs as label_inputs
from director.normalization import IS_NORMALIZED_LABEL, normalize_name
from director.pagination import Page, PageRequest
from kernel.principal import ClientKind, Scope


def application_page(page: Page[models.Application], *, normalized: bool = False) -> ApplicationPage:
    return ApplicationPage.of(page, lambda row: Application.of(row, name=normalize_name(row.name) if normalized else None))


@strawberry.type
class ApplicationQueries:
    @strawberry.field(description="Applications of the tenant, filtered by labels.", extensions=scoped(Scope.APPLICATION_READ))
    async def applications(
        self, info: Info, filter: list[LabelFilter] | None = None, first: First = 200, after: After = None
    ) -> ApplicationPage:
        request = PageRequest.of(first, after)
        filters = [plain(item, label_inputs.LabelFilter) for item in filter or []]
        return application_page(await info.context.read(application_service.page, filters, request))

    @strawberry.field(
        description="One application, or null.",
        extensions=scoped(Scope.APPLICATION_READ, own=(ClientKind.APPLICATION, "id")),
    )
    async def application(self, info: Info, id: strawberry.ID) -> Application | None:
        model = await info.context.read(application_service.find, id)
        return Application.of(model) if model else None

    @strawberry.field(
        description="The applications sharing a formation with the runtime; names normalized if it asks.",
        extensions=scoped(Scope.APPLICATION_READ, own=(ClientKind.RUNTIME, "runtime_id")),
    )
    async def applications_for_runtime(
        self,
        info: Info,
        runtime_id: Annotated[strawberry.ID, strawberry.argument(name="runtimeID")],
        first: First = 200,
        after: After = None,
    ) -> ApplicationPage:
        request = PageRequest.of(first, after)
        loaders = info.context.loaders
        runtime = await loaders.runtime_by_id.load(runtime_id)
        labels = await loaders.labels_by_runtime.load(runtime_id)
        async with info.context.reading() as session:
            page = await application_service.for_runtime(session, runtime_id, runtime, labels, request)
        normalized = any(label.key == IS_NORMALIZED_LABEL and label.value == "true" for label in labels)
        return application_page(page, normalized=normalized)
