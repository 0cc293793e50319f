from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.graphql.application.types import After, First
from director.graphql.convert import plain
from director.graphql.inputs import LabelFilter, RuntimeRegisterInput, RuntimeUpdateInput
from director.graphql.label.types import Label
from director.graphql.permissions import scoped
from director.graphql.runtime.types import Runtime, RuntimePage
from director.graphql.scalars import AnyScalar
from director.label import inputs as label_inputs
from director.pagination import PageRequest
from director.runtime import inputs
from director.runtime.service import runtime as runtime_service
from kernel.principal import ClientKind, Scope

In = strawberry.argument(name="in")
RuntimeID = Annotated[strawberry.ID, strawberry.argument(name="runtimeID")]
READ = scoped(Scope.RUNTIME_READ)
WRITE = scoped(Scope.RUNTIME_WRITE)


@strawberry.type
class RuntimeQueries:
    @strawberry.field(description="Runtimes of the tenant, filtered by labels.", extensions=READ)
    async def runtimes(
        self, info: Info, filter: list[LabelFilter] | None = None, first: First = 200, after: After = None
    ) -> RuntimePage:
        request = PageRequest.of(first, after)
        filters = [plain(item, label_inputs.LabelFilter) for item in filter or []]
        return RuntimePage.of(await info.context.read(runtime_service.page, filters, request), Runtime.of)

    @strawberry.field(
        description="One runtime, or null.", extensions=scoped(Scope.RUNTIME_READ, own=(ClientKind.RUNTIME, "id"))
    )
    async def runtime(self, info: Info, id: strawberry.ID) -> Runtime | None:
        model = await info.context.loaders.runtime_by_id.load(id)
        return Runtime.of(model) if model else None


@strawberry.type
class RuntimeMutations:
    @strawberry.mutation(description='Registers a runtime; it is labelled isNormalized: "true" unless told.', extensions=WRITE)
    async def register_runtime(self, info: Info, in_: Annotated[RuntimeRegisterInput, In]) -> Runtime:
        data = plain(in_, inputs.RuntimeRegisterInput)
        return Runtime.of(await info.context.write(runtime_service.register, data))

    @strawberry.mutation(
        description="Changes a runtime; given labels are set, others kept. A runtime's certificate may update it "
        "(its agent reports CONNECTED this way), but not change its formations.",
        extensions=scoped(Scope.RUNTIME_WRITE, own=(ClientKind.RUNTIME, "id")),
    )
    async def update_runtime(self, info: Info, id: strawberry.ID, in_: Annotated[RuntimeUpdateInput, In]) -> Runtime:
        data = plain(in_, inputs.RuntimeUpdateInput)
        return Runtime.of(await info.context.write(runtime_service.update, id, data, caller=info.context.principal))

    @strawberry.mutation(description="Deletes a runtime; its client certificates are revoked.", extensions=WRITE)
    async def unregister_runtime(self, info: Info, id: strawberry.ID) -> Runtime:
        return Runtime.of(await info.context.write(runtime_service.unregister, id, now=info.context.clock()))

    @strawberry.mutation(
        description="pycompass: revokes every client certificate of the runtime; answers the revoked serials.",
        extensions=WRITE,
    )
    async def revoke_runtime_certificates(self, info: Info, id: strawberry.ID) -> list[str]:
        return await info.context.write(runtime_service.revoke_certificates, id, now=info.context.clock())

    @strawberry.mutation(
        description="Sets a label; key scenarios assigns formations. A runtime's certificate may label it, "
        "but not change its formations.",
        extensions=scoped(Scope.RUNTIME_WRITE, own=(ClientKind.RUNTIME, "runtime_id")),
    )
    async def set_runtime_label(self, info: Info, runtime_id: RuntimeID, key: str, value: AnyScalar) -> Label:
        caller = info.context.principal
        return Label.of(await info.context.write(runtime_service.set_label, runtime_id, key, value, caller=caller))

    @strawberry.mutation(description="Deletes a label.", extensions=WRITE)
    async def delete_runtime_label(self, info: Info, runtime_id: RuntimeID, key: str) -> Label:
        caller = info.context.principal
        return Label.of(await info.context.write(runtime_service.delete_label, runtime_id, key, caller=caller))
