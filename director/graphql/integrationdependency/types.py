"""Integration dependencies, their aspects and the ORD resources those name."""

from __future__ import annotations

import strawberry
from strawberry import Info

from director import models
from director.graphql.application.types import Version
from director.graphql.pagination import Page
from director.graphql.scalars import Labels, Timestamp, maybe
from director.integrationdependency.service import AspectTree, IntegrationDependencyTree


@strawberry.type(description="An API resource an aspect needs.")
class AspectAPIDefinition:
    ord_id: str = strawberry.field(name="ordID")


@strawberry.type(description="One event type of an event resource.")
class AspectEventDefinitionSubset:
    event_type: str | None


@strawberry.type(description="An event resource an aspect needs, or only some of its event types.")
class AspectEventDefinition:
    ord_id: str = strawberry.field(name="ordID")
    subset: list[AspectEventDefinitionSubset] | None
    created_at: Timestamp | None = strawberry.field(name="created_at")
    updated_at: Timestamp | None = strawberry.field(name="updated_at")
    deleted_at: Timestamp | None = strawberry.field(name="deleted_at")
    error: str | None

    @classmethod
    def of(cls, model: models.AspectEventResource) -> AspectEventDefinition:
        return cls(
            ord_id=model.ord_id,
            subset=[AspectEventDefinitionSubset(event_type=item) for item in model.subset]
            if model.subset is not None
            else None,
            created_at=maybe(Timestamp, model.created_at),
            updated_at=maybe(Timestamp, model.updated_at),
            deleted_at=maybe(Timestamp, model.deleted_at),
            error=model.error,
        )


@strawberry.type(description="One aspect of an integration dependency: the API and event resources it needs.")
class Aspect:
    id: strawberry.ID
    name: str
    description: str | None
    mandatory: bool | None
    api_resources: list[AspectAPIDefinition] | None
    event_resources: list[AspectEventDefinition] | None
    created_at: Timestamp | None = strawberry.field(name="created_at")
    updated_at: Timestamp | None = strawberry.field(name="updated_at")
    deleted_at: Timestamp | None = strawberry.field(name="deleted_at")
    error: str | None

    @classmethod
    def of(cls, tree: AspectTree) -> Aspect:
        model = tree.aspect
        return cls(
            id=strawberry.ID(model.id),
            name=model.name,
            description=model.description,
            mandatory=model.mandatory,
            api_resources=[AspectAPIDefinition(ord_id=ord_id) for ord_id in model.api_resources]
            if model.api_resources is not None
            else None,
            event_resources=[AspectEventDefinition.of(resource) for resource in tree.event_resources],
            created_at=maybe(Timestamp, model.created_at),
            updated_at=maybe(Timestamp, model.updated_at),
            deleted_at=maybe(Timestamp, model.deleted_at),
            error=model.error,
        )


@strawberry.type(description="What an application needs of other systems (ORD).")
class IntegrationDependency:
    preloaded: strawberry.Private[list[AspectTree] | None]
    id: strawberry.ID
    name: str
    description: str | None
    ord_id: str | None = strawberry.field(name="ordID")
    part_of_package: str | None
    visibility: str | None
    release_status: str | None
    mandatory: bool | None
    version: Version | None
    labels: Labels | None
    created_at: Timestamp | None = strawberry.field(name="created_at")
    updated_at: Timestamp | None = strawberry.field(name="updated_at")
    deleted_at: Timestamp | None = strawberry.field(name="deleted_at")
    error: str | None

    @classmethod
    def of(cls, model: models.IntegrationDependency, aspects: list[AspectTree] | None = None) -> IntegrationDependency:
        """``aspects`` as written or deleted; read through the request's loader when not given."""
        return cls(
            preloaded=aspects,
            id=strawberry.ID(model.id),
            name=model.name,
            description=model.description,
            ord_id=model.ord_id,
            part_of_package=model.part_of_package,
            visibility=model.visibility,
            release_status=model.release_status,
            mandatory=model.mandatory,
            version=Version.of(model),
            labels=Labels(model.labels) if model.labels is not None else None,
            created_at=maybe(Timestamp, model.created_at),
            updated_at=maybe(Timestamp, model.updated_at),
            deleted_at=maybe(Timestamp, model.deleted_at),
            error=model.error,
        )

    @classmethod
    def of_tree(cls, tree: IntegrationDependencyTree) -> IntegrationDependency:
        return cls.of(tree.dependency, tree.aspects)

    @strawberry.field(description="What the dependency needs, aspect by aspect.")
    async def aspects(self, info: Info) -> list[Aspect] | None:
        trees = self.preloaded
        if trees is None:
            trees = await info.context.loaders.aspects_by_integration_dependency.load(self.id)
        return [Aspect.of(tree) for tree in trees]


@strawberry.type(description="A page of integration dependencies.")
class IntegrationDependencyPage(Page[IntegrationDependency]):
    pass
