from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.graphql.convert import plain
from director.graphql.integrationdependency.inputs import IntegrationDependencyInput
from director.graphql.integrationdependency.types import IntegrationDependency
from director.graphql.permissions import scoped
from director.integrationdependency import inputs
from director.integrationdependency.service import integration_dependency as integration_dependency_service
from kernel.principal import Scope

WRITE = scoped(Scope.APPLICATION_WRITE)


@strawberry.type
class IntegrationDependencyMutations:
    @strawberry.mutation(description="Adds an integration dependency with its aspects to an application.", extensions=WRITE)
    async def add_integration_dependency_to_application(
        self,
        info: Info,
        app_id: Annotated[strawberry.ID, strawberry.argument(name="appID")],
        in_: Annotated[IntegrationDependencyInput, strawberry.argument(name="in")],
    ) -> IntegrationDependency:
        data = plain(in_, inputs.IntegrationDependencyInput)
        return IntegrationDependency.of_tree(await info.context.write(integration_dependency_service.add, app_id, data))

    @strawberry.mutation(description="Deletes an integration dependency with its aspects.", extensions=WRITE)
    async def delete_integration_dependency(self, info: Info, id: strawberry.ID) -> IntegrationDependency:
        return IntegrationDependency.of_tree(await info.context.write(integration_dependency_service.delete, id))
