from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.graphql.convert import plain
from director.graphql.permissions import scoped
from director.graphql.runtimecontext.types import RuntimeContext, RuntimeContextInput
from director.runtimecontext import inputs
from director.runtimecontext.service import runtime_context as runtime_context_service
from kernel.principal import ClientKind, Scope

In = strawberry.argument(name="in")
# A runtime's certificate may manage its own runtime's contexts (Compass gives runtimes runtime:write); the
# service answers another runtime's context like a missing one.
OWN_CONTEXT = scoped(Scope.RUNTIME_WRITE, own=(ClientKind.RUNTIME, None))


@strawberry.type
class RuntimeContextMutations:
    @strawberry.mutation(
        description="Registers a context of the runtime. A runtime's certificate may register its own.",
        extensions=scoped(Scope.RUNTIME_WRITE, own=(ClientKind.RUNTIME, "runtime_id")),
    )
    async def register_runtime_context(
        self,
        info: Info,
        runtime_id: Annotated[strawberry.ID, strawberry.argument(name="runtimeID")],
        in_: Annotated[RuntimeContextInput, In],
    ) -> RuntimeContext:
        data = plain(in_, inputs.RuntimeContextInput)
        return RuntimeContext.of(await info.context.write(runtime_context_service.register, runtime_id, data))

    @strawberry.mutation(
        description="Changes a runtime context's key and value. A runtime's certificate may change its own.",
        extensions=OWN_CONTEXT,
    )
    async def update_runtime_context(
        self, info: Info, id: strawberry.ID, in_: Annotated[RuntimeContextInput, In]
    ) -> RuntimeContext:
        data = plain(in_, inputs.RuntimeContextInput)
        caller = info.context.principal
        return RuntimeContext.of(await info.context.write(runtime_context_service.update, id, data, caller=caller))

    @strawberry.mutation(
        description="Unassigns a runtime context from its formations and deletes it. A runtime's certificate may "
        "delete its own.",
        extensions=OWN_CONTEXT,
    )
    async def unregister_runtime_context(self, info: Info, id: strawberry.ID) -> RuntimeContext:
        caller = info.context.principal
        deleted = await info.context.write(runtime_context_service.unregister, id, caller=caller)
        return RuntimeContext.of(deleted, exists=False)
