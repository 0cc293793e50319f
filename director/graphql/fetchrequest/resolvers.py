"""Specs fetched from a URL: the fetch runs before the mutation's unit of work opens (``fetched``), and a refetch
reads, fetches and then writes, so no transaction is held during network I/O (``director.fetchrequest.service``)."""

from __future__ import annotations

from typing import Annotated, TypeVar

import strawberry
from strawberry import Info

from director import models
from director.bundle.service import bundle as bundle_service
from director.fetchrequest.service import Owner
from director.fetchrequest.service import fetch_request as fetch_request_service
from director.graphql.application.types import APISpec, EventSpec, spec_of
from director.graphql.enums import APISpecType, EventSpecType
from director.graphql.permissions import scoped
from kernel.errors import NotFoundError
from kernel.principal import Scope

T = TypeVar("T")


async def fetched(info: Info, data: T) -> T:
    """A mutation's input with its specs fetched, before its unit of work."""
    return await fetch_request_service.prefetch(info.context.settings, data)


async def _refetched(
    info: Info, owner: Owner, definition_id: str
) -> models.APIDefinition | models.EventDefinition:
    definition, request = await info.context.read(bundle_service.spec_fetch_request, owner, definition_id)
    if request is None:
        return definition
    outcome = await fetch_request_service.refetch(info.context.settings, request)
    return await info.context.write(
        bundle_service.store_refetched_spec, owner, definition_id, request_id=request.id, fetched=outcome
    )


def _no_spec(noun: str, definition_id: str) -> NotFoundError:
    return NotFoundError(f"{noun} {definition_id} has no spec")


@strawberry.type
class FetchRequestMutations:
    @strawberry.mutation(
        name="refetchAPISpec",
        description="Fetches an API's spec again from its fetch request; answers the spec as stored now.",
        extensions=scoped(Scope.APPLICATION_WRITE),
    )
    async def refetch_api_spec(
        self, info: Info, api_id: Annotated[strawberry.ID, strawberry.argument(name="apiID")]
    ) -> APISpec:
        spec = spec_of(APISpec, APISpecType, await _refetched(info, Owner.API_DEFINITION, api_id))
        if spec is None:
            raise _no_spec("API definition", api_id)
        return spec

    @strawberry.mutation(
        description="Fetches an event definition's spec again from its fetch request; answers the spec as stored now.",
        extensions=scoped(Scope.APPLICATION_WRITE),
    )
    async def refetch_event_definition_spec(
        self, info: Info, event_id: Annotated[strawberry.ID, strawberry.argument(name="eventID")]
    ) -> EventSpec:
        spec = spec_of(EventSpec, EventSpecType, await _refetched(info, Owner.EVENT_DEFINITION, event_id))
        if spec is None:
            raise _no_spec("event definition", event_id)
        return spec
