from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.graphql.application.types import After, First
from director.graphql.convert import plain
from director.graphql.integrationsystem.types import (
    IntegrationSystem,
    IntegrationSystemInput,
    IntegrationSystemPage,
)
from director.graphql.permissions import scoped
from director.integrationsystem import inputs
from director.integrationsystem.service import integration_system as integration_system_service
from director.pagination import PageRequest
from kernel.principal import Scope

In = strawberry.argument(name="in")
READ = scoped(Scope.INTEGRATION_SYSTEM_READ)
WRITE = scoped(Scope.INTEGRATION_SYSTEM_WRITE)


@strawberry.type
class IntegrationSystemQueries:
    @strawberry.field(description="Every integration system (they are global).", extensions=READ)
    async def integration_systems(self, info: Info, first: First = 200, after: After = None) -> IntegrationSystemPage:
        request = PageRequest.of(first, after)
        page = await info.context.read(integration_system_service.page, request)
        return IntegrationSystemPage.of(page, IntegrationSystem.of)

    @strawberry.field(description="One integration system, or null.", extensions=READ)
    async def integration_system(self, info: Info, id: strawberry.ID) -> IntegrationSystem | None:
        model = await info.context.read(integration_system_service.find, id)
        return IntegrationSystem.of(model) if model else None


@strawberry.type
class IntegrationSystemMutations:
    @strawberry.mutation(description="Registers an integration system.", extensions=WRITE)
    async def register_integration_system(
        self, info: Info, in_: Annotated[IntegrationSystemInput, In]
    ) -> IntegrationSystem:
        data = plain(in_, inputs.IntegrationSystemInput)
        return IntegrationSystem.of(await info.context.write(integration_system_service.register, data))

    @strawberry.mutation(description="Replaces an integration system's name and description.", extensions=WRITE)
    async def update_integration_system(
        self, info: Info, id: strawberry.ID, in_: Annotated[IntegrationSystemInput, In]
    ) -> IntegrationSystem:
        data = plain(in_, inputs.IntegrationSystemInput)
        return IntegrationSystem.of(await info.context.write(integration_system_service.update, id, data))

    @strawberry.mutation(
        description="Deletes an integration system and its client credentials; refused while applications name it.",
        extensions=WRITE,
    )
    async def unregister_integration_system(self, info: Info, id: strawberry.ID) -> IntegrationSystem:
        return IntegrationSystem.of(await info.context.write(integration_system_service.unregister, id))
