"""Compass's integration dependency inputs (ORD): an application's needs of other systems' APIs and events."""

from __future__ import annotations

import strawberry

from director.graphql.inputs import VersionInput
from director.graphql.scalars import Labels


@strawberry.input(description="An API resource an aspect needs, by its ORD id.")
class AspectAPIDefinitionInput:
    ord_id: str = strawberry.field(description="e.g. ns:apiResource:NAME:v1.")


@strawberry.input(description="One event type of an event resource.")
class AspectEventDefinitionSubsetInput:
    event_type: str | None = strawberry.field(default=None, description="e.g. sap.billing.Subscription.Created.v1.")


@strawberry.input(description="An event resource an aspect needs, by its ORD id, optionally only some event types.")
class AspectEventDefinitionInput:
    ord_id: str = strawberry.field(description="e.g. ns:eventResource:NAME:v1.")
    subset: list[AspectEventDefinitionSubsetInput | None] | None = None


@strawberry.input(description="One aspect of an integration dependency: the resources it needs.")
class AspectInput:
    name: str
    description: str | None = None
    mandatory: bool | None = None
    api_resources: list[AspectAPIDefinitionInput] | None = None
    event_resources: list[AspectEventDefinitionInput] | None = None


@strawberry.input(description="What an application needs of other systems (visibility public, release status active by default).")
class IntegrationDependencyInput:
    name: str
    description: str | None = None
    ord_id: str = strawberry.field(name="ordID", description="e.g. ns:integrationDependency:NAME:v1.")
    part_of_package: strawberry.ID | None = strawberry.field(
        default=None, description="A package of the application's dependencies; by default its manually added ones."
    )
    visibility: str | None = strawberry.field(default=None, description="public, internal or private.")
    release_status: str | None = strawberry.field(default=None, description="beta, active or deprecated.")
    mandatory: bool | None = None
    aspects: list[AspectInput] | None = None
    version: VersionInput | None = None
    labels: Labels | None = None
