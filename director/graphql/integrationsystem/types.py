"""Compass's IntegrationSystem, its page and its input."""

from __future__ import annotations

import strawberry
from strawberry import Info

from director import models
from director.graphql.application.types import IntSysSystemAuth
from director.graphql.pagination import Page


@strawberry.type(description="A central system that integrates applications of any tenant; global, as in Compass.")
class IntegrationSystem:
    id: strawberry.ID
    name: str
    description: str | None

    @classmethod
    def of(cls, model: models.IntegrationSystem) -> IntegrationSystem:
        return cls(id=strawberry.ID(model.id), name=model.name, description=model.description)

    @strawberry.field(description="Its client credentials.")
    async def auths(self, info: Info) -> list[IntSysSystemAuth] | None:
        rows = await info.context.loaders.auths_by_integration_system.load(self.id)
        return [IntSysSystemAuth.of(row) for row in rows]


@strawberry.type(description="A page of integration systems.")
class IntegrationSystemPage(Page[IntegrationSystem]):
    pass


@strawberry.input(description="An integration system's name and description.")
class IntegrationSystemInput:
    name: str = strawberry.field(
        description="Up to 36 characters; digits, lower case letters, - and .; cannot start with a digit."
    )
    description: str | None = strawberry.field(default=None, description="Up to 2000 characters.")
