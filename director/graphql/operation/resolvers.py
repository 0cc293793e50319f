from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.graphql.operation.types import Operation
from director.graphql.permissions import scoped
from director.operation.service import operation as operation_service
from kernel.principal import Scope


@strawberry.type
class OperationQueries:
    @strawberry.field(
        description="A scheduled operation; NOT_FOUND, since pycompass runs no ORD aggregation or system fetching.",
        extensions=scoped(Scope.OPERATION_READ),
    )
    async def operation(self, info: Info, id: strawberry.ID) -> Operation | None:
        await info.context.read(operation_service.get, id)
        return None


@strawberry.type
class OperationMutations:
    @strawberry.mutation(
        description="Schedules an operation again; NOT_FOUND, since pycompass has no scheduled operations.",
        extensions=scoped(Scope.OPERATION_SCHEDULE),
    )
    async def schedule_operation(
        self,
        info: Info,
        operation_id: Annotated[strawberry.ID, strawberry.argument(name="operationID")],
        priority: int | None = 100,  # noqa: ARG002 - Compass's argument; there is nothing to schedule
    ) -> Operation | None:
        await info.context.read(operation_service.get, operation_id)
        return None
