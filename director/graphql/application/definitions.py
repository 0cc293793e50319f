"""API and event definitions of an application outside its bundles (Compass's ``...ToApplication``,
``...ForApplication``, ``apisForApplication``, ``eventsForApplication``)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.bundle import inputs as bundle_inputs
from director.bundle.service import bundle as bundle_service
from director.graphql.application.types import (
    After,
    APIDefinition,
    APIDefinitionPage,
    EventDefinition,
    EventDefinitionPage,
    First,
)
from director.graphql.convert import plain
from director.graphql.fetchrequest.resolvers import fetched
from director.graphql.inputs import APIDefinitionInput, EventDefinitionInput
from director.graphql.permissions import scoped
from director.pagination import PageRequest
from kernel.principal import ClientKind, Scope

In = strawberry.argument(name="in")
AppID = Annotated[strawberry.ID, strawberry.argument(name="appID")]
READ = scoped(Scope.APPLICATION_READ, own=(ClientKind.APPLICATION, "app_id"))
WRITE = scoped(Scope.APPLICATION_WRITE)


@strawberry.type
class ApplicationDefinitionQueries:
    @strawberry.field(
        name="apisForApplication", description="Every API definition of the application, in a bundle or not.", extensions=READ
    )
    async def apis_for_application(
        self, info: Info, app_id: AppID, first: First = 200, after: After = None
    ) -> APIDefinitionPage | None:
        page = await info.context.read(bundle_service.api_page_of_application, app_id, PageRequest.of(first, after))
        return APIDefinitionPage.of(page, APIDefinition.of)

    @strawberry.field(description="Every event definition of the application, in a bundle or not.", extensions=READ)
    async def events_for_application(
        self, info: Info, app_id: AppID, first: First = 200, after: After = None
    ) -> EventDefinitionPage | None:
        page = await info.context.read(bundle_service.event_page_of_application, app_id, PageRequest.of(first, after))
        return EventDefinitionPage.of(page, EventDefinition.of)


@strawberry.type
class ApplicationDefinitionMutations:
    @strawberry.mutation(
        name="addAPIDefinitionToApplication",
        description="Adds an API to the application outside its bundles; an application without a base URL takes "
        "the API's scheme and host.",
        extensions=WRITE,
    )
    async def add_api_definition_to_application(
        self, info: Info, app_id: AppID, in_: Annotated[APIDefinitionInput, In]
    ) -> APIDefinition:
        data = await fetched(info, plain(in_, bundle_inputs.APIDefinitionInput))
        return APIDefinition.of(await info.context.write(bundle_service.add_api_to_application, app_id, data))

    @strawberry.mutation(description="Adds an event definition to the application outside its bundles.", extensions=WRITE)
    async def add_event_definition_to_application(
        self, info: Info, app_id: AppID, in_: Annotated[EventDefinitionInput, In]
    ) -> EventDefinition:
        data = await fetched(info, plain(in_, bundle_inputs.EventDefinitionInput))
        return EventDefinition.of(await info.context.write(bundle_service.add_event_to_application, app_id, data))

    @strawberry.mutation(
        name="updateAPIDefinitionForApplication",
        description="Replaces an API definition of an application; an input without a spec keeps the stored one.",
        extensions=WRITE,
    )
    async def update_api_definition_for_application(
        self, info: Info, id: strawberry.ID, in_: Annotated[APIDefinitionInput, In]
    ) -> APIDefinition:
        data = await fetched(info, plain(in_, bundle_inputs.APIDefinitionInput))
        return APIDefinition.of(await info.context.write(bundle_service.update_api_for_application, id, data))

    @strawberry.mutation(
        description="Replaces an event definition of an application; an input without a spec keeps the stored one.",
        extensions=WRITE,
    )
    async def update_event_definition_for_application(
        self, info: Info, id: strawberry.ID, in_: Annotated[EventDefinitionInput, In]
    ) -> EventDefinition:
        data = await fetched(info, plain(in_, bundle_inputs.EventDefinitionInput))
        return EventDefinition.of(await info.context.write(bundle_service.update_event_for_application, id, data))
