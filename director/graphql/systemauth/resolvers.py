from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import strawberry
from strawberry import Info

from director.graphql.application.types import SystemAuth, system_auth_of
from director.graphql.permissions import require_scope, scoped
from director.graphql.systemauth.types import OneTimeTokenForApplication, OneTimeTokenForRuntime
from director.systemauth.inputs import TokenPolicy
from director.systemauth.service import system_auth as system_auth_service
from kernel.principal import Scope
from kernel.settings import Settings

SystemAuthID = Annotated[strawberry.ID | None, strawberry.argument(name="systemAuthID")]


def _policy(settings: Settings) -> TokenPolicy:
    return TokenPolicy(
        runtime_ttl=timedelta(seconds=settings.runtime_token_ttl_seconds),
        application_ttl=timedelta(seconds=settings.application_token_ttl_seconds),
        connector_url=settings.connector_url,
    )


@strawberry.type
class SystemAuthQueries:
    @strawberry.field(description="One system auth, or null.", extensions=scoped(Scope.APPLICATION_READ))
    async def system_auth(self, info: Info, id: strawberry.ID) -> SystemAuth | None:
        async with info.context.reading() as session:
            row = await system_auth_service.find(session, info.context.tenant_id, id)
        return system_auth_of(row) if row else None


@strawberry.type
class SystemAuthMutations:
    @strawberry.mutation(
        description="A single-use token (60 minutes by default) the runtime redeems at the Connector.",
        extensions=scoped(Scope.RUNTIME_WRITE),
    )
    async def request_one_time_token_for_runtime(
        self, info: Info, id: strawberry.ID, system_auth_id: SystemAuthID = None
    ) -> OneTimeTokenForRuntime:
        async with info.context.writing() as session:
            issued = await system_auth_service.request_runtime_token(
                session,
                info.context.tenant_id,
                id,
                system_auth_id,
                policy=_policy(info.context.settings),
                now=info.context.clock(),
            )
        return OneTimeTokenForRuntime.of(issued)

    @strawberry.mutation(
        description="A single-use token (5 minutes by default) the application redeems at the Connector.",
        extensions=scoped(Scope.APPLICATION_WRITE),
    )
    async def request_one_time_token_for_application(
        self, info: Info, id: strawberry.ID, system_auth_id: SystemAuthID = None
    ) -> OneTimeTokenForApplication:
        async with info.context.writing() as session:
            issued = await system_auth_service.request_application_token(
                session,
                info.context.tenant_id,
                id,
                system_auth_id,
                policy=_policy(info.context.settings),
                now=info.context.clock(),
            )
        return OneTimeTokenForApplication.of(issued)

    @strawberry.mutation(
        name="invalidateSystemAuthOneTimeToken",
        description="Makes every unused token of the system auth unusable; needs runtime:write for a runtime's, "
        "application:write for an application's.",
    )
    async def invalidate_system_auth_one_time_token(
        self, info: Info, auth_id: Annotated[strawberry.ID, strawberry.argument(name="authID")]
    ) -> SystemAuth:
        require_scope(info, Scope.RUNTIME_WRITE, Scope.APPLICATION_WRITE)  # before looking: no scope, no answer
        async with info.context.writing() as session:
            row = await system_auth_service.invalidate_tokens(
                session, info.context.tenant_id, auth_id, caller=info.context.principal, now=info.context.clock()
            )
        return system_auth_of(row)
