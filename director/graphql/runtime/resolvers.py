from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from credentials.revocation import revoke_for_object
from director.graphql.application.types import After, First
from director.graphql.inputs import LabelFilter, RuntimeRegisterInput, RuntimeUpdateInput
from director.graphql.label.types import Label
from director.graphql.pagination import PageInfo
from director.graphql.permissions import scoped
from director.graphql.runtime.types import Runtime, RuntimePage
from director.graphql.scalars import AnyScalar
from director.label.service import SCENARIOS
from director.pagination import PageRequest
from director.runtime.service import runtime as runtime_service
from kernel.errors import ForbiddenError
from kernel.principal import ClientKind, ClientPrincipal, Scope

In = strawberry.argument(name="in")
RuntimeID = Annotated[strawberry.ID, strawberry.argument(name="runtimeID")]
READ = scoped(Scope.RUNTIME_READ)
WRITE = scoped(Scope.RUNTIME_WRITE)


def _refuse_formation_change(info: Info) -> None:
    # Joining formations would widen what the runtime sees: that is the operator's decision.
    if isinstance(info.context.principal, ClientPrincipal):
        raise ForbiddenError("a runtime cannot change its own formations; an operator assigns them")


@strawberry.type
class RuntimeQueries:
    @strawberry.field(description="Runtimes of the tenant, filtered by labels.", extensions=READ)
    async def runtimes(
        self, info: Info, filter: list[LabelFilter] | None = None, first: First = 200, after: After = None
    ) -> RuntimePage:
        request = PageRequest.of(first, after)
        async with info.context.reading() as session:
            page = await runtime_service.page(session, info.context.tenant_id, filter or [], request)
        return RuntimePage(
            data=[Runtime.of(row) for row in page.items], page_info=PageInfo.of(page), total_count=page.total_count
        )

    @strawberry.field(
        description="One runtime, or null.", extensions=scoped(Scope.RUNTIME_READ, own=(ClientKind.RUNTIME, "id"))
    )
    async def runtime(self, info: Info, id: strawberry.ID) -> Runtime | None:
        model = await info.context.loaders.runtime_by_id.load(id)
        return Runtime.of(model) if model else None


@strawberry.type
class RuntimeMutations:
    @strawberry.mutation(description="Registers a runtime; it is labelled isNormalized: \"true\" unless told.", extensions=WRITE)
    async def register_runtime(self, info: Info, in_: Annotated[RuntimeRegisterInput, In]) -> Runtime:
        async with info.context.writing(new_runtime=True) as session:
            model = await runtime_service.register(session, info.context.tenant_id, in_)
        return Runtime.of(model)

    @strawberry.mutation(
        description="Changes a runtime; given labels are set, others kept. A runtime's certificate may update it "
        "(its agent reports CONNECTED this way), but not change its formations.",
        extensions=scoped(Scope.RUNTIME_WRITE, own=(ClientKind.RUNTIME, "id")),
    )
    async def update_runtime(self, info: Info, id: strawberry.ID, in_: Annotated[RuntimeUpdateInput, In]) -> Runtime:
        changes_formations = SCENARIOS in (in_.labels or {})
        if changes_formations:
            _refuse_formation_change(info)
        async with info.context.writing(runtime_id=id, runtime_formations=changes_formations) as session:
            model = await runtime_service.update(session, info.context.tenant_id, id, in_)
        return Runtime.of(model)

    @strawberry.mutation(description="Deletes a runtime; its client certificates are revoked.", extensions=WRITE)
    async def unregister_runtime(self, info: Info, id: strawberry.ID) -> Runtime:
        async with info.context.writing(runtime_id=id) as session:
            await revoke_for_object(session, info.context.tenant_id, ClientKind.RUNTIME, id, now=info.context.clock())
            model = await runtime_service.unregister(session, info.context.tenant_id, id)
        return Runtime.of(model)

    @strawberry.mutation(
        description="pycompass: revokes every client certificate of the runtime; answers the revoked serials.",
        extensions=WRITE,
    )
    async def revoke_runtime_certificates(self, info: Info, id: strawberry.ID) -> list[str]:
        async with info.context.writing(runtime_id=id) as session:
            await runtime_service.get(session, info.context.tenant_id, id)
            return await revoke_for_object(
                session, info.context.tenant_id, ClientKind.RUNTIME, id, now=info.context.clock()
            )

    @strawberry.mutation(
        description="Sets a label; key scenarios assigns formations. A runtime's certificate may label it, "
        "but not change its formations.",
        extensions=scoped(Scope.RUNTIME_WRITE, own=(ClientKind.RUNTIME, "runtime_id")),
    )
    async def set_runtime_label(self, info: Info, runtime_id: RuntimeID, key: str, value: AnyScalar) -> Label:
        changes_formations = key == SCENARIOS
        if changes_formations:
            _refuse_formation_change(info)
        async with info.context.writing(runtime_id=runtime_id, runtime_formations=changes_formations) as session:
            model = await runtime_service.set_label(session, info.context.tenant_id, runtime_id, key, value)
        return Label.of(model)

    @strawberry.mutation(description="Deletes a label.", extensions=WRITE)
    async def delete_runtime_label(self, info: Info, runtime_id: RuntimeID, key: str) -> Label:
        async with info.context.writing(runtime_id=runtime_id, runtime_formations=key == SCENARIOS) as session:
            model = await runtime_service.delete_label(session, info.context.tenant_id, runtime_id, key)
        return Label.of(model)
