"""Watchers: a tenant's operators manage the tenant's; they and the tenant's runtimes read those and the global ones
(a runtime renders them into its webhook configuration)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.graphql.permissions import scoped
from director.graphql.watcher.types import Watcher, WatcherInput
from director.watcher.service import watcher as watcher_service
from kernel.principal import ClientKind, Scope

In = strawberry.argument(name="in")
# Watchers configure runtimes: their scopes are the runtimes'.
READ = scoped(Scope.RUNTIME_READ, own=(ClientKind.RUNTIME, None))
WRITE = scoped(Scope.RUNTIME_WRITE)


@strawberry.type
class WatcherQueries:
    @strawberry.field(
        description="pycompass: the global watchers and the tenant's; a runtime's certificate reads those of its "
        "tenant.",
        extensions=READ,
    )
    async def watchers(self, info: Info) -> list[Watcher]:
        return [Watcher.of(model) for model in await info.context.read(watcher_service.visible)]


@strawberry.type
class WatcherMutations:
    @strawberry.mutation(description="pycompass: adds a watcher to the tenant.", extensions=WRITE)
    async def create_watcher(self, info: Info, in_: Annotated[WatcherInput, In]) -> Watcher:
        limit = info.context.settings.max_watchers
        return Watcher.of(await info.context.write(watcher_service.create, in_.to_plain(), limit=limit))

    @strawberry.mutation(
        description="pycompass: deletes one of the tenant's watchers (a global one answers GLOBAL_WATCHER).",
        extensions=WRITE,
    )
    async def delete_watcher(self, info: Info, id: strawberry.ID) -> Watcher:
        return Watcher.of(await info.context.write(watcher_service.delete, id))
