from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import strawberry
from strawberry import Info

from credentials.systemauth.repository import SystemAuthRepository
from credentials.tokens import TokenType
from director import models
from director.graphql.application.types import SystemAuth, system_auth_of
from director.graphql.permissions import require_scope, scoped
from director.graphql.systemauth.types import OneTimeTokenForApplication, OneTimeTokenForRuntime
from director.systemauth.service import IssuedToken
from director.systemauth.service import system_auth as system_auth_service
from kernel.principal import Scope

SystemAuthID = Annotated[strawberry.ID | None, strawberry.argument(name="systemAuthID")]


@strawberry.type
class SystemAuthQueries:
    @strawberry.field(description="One system auth, or null.", extensions=scoped(Scope.APPLICATION_READ))
    async def system_auth(self, info: Info, id: strawberry.ID) -> SystemAuth | None:
        async with info.context.reading() as session:
            row = await SystemAuthRepository(session).get(info.context.tenant_id, id)
        return system_auth_of(row) if row else None


async def _request_token(info: Info, token_type: TokenType, object_id: str, system_auth_id: str | None) -> IssuedToken:
    settings = info.context.settings
    ttl = (
        settings.runtime_token_ttl_seconds
        if token_type is TokenType.RUNTIME
        else settings.application_token_ttl_seconds
    )
    # A runtime's new system auth shows only in its own view; an application's in every runtime's that sees it.
    owner: dict[str, Any] = (
        {"runtime_id": object_id}
        if token_type is TokenType.RUNTIME
        else {"application_part": (models.Application, object_id)}
    )
    async with info.context.writing(**owner) as session:
        return await system_auth_service.request_token(
            session,
            info.context.tenant_id,
            token_type,
            object_id,
            system_auth_id,
            ttl=timedelta(seconds=ttl),
            connector_url=settings.connector_url,
        )


@strawberry.type
class SystemAuthMutations:
    @strawberry.mutation(
        description="A single-use token (60 minutes by default) the runtime redeems at the Connector.",
        extensions=scoped(Scope.RUNTIME_WRITE),
    )
    async def request_one_time_token_for_runtime(
        self, info: Info, id: strawberry.ID, system_auth_id: SystemAuthID = None
    ) -> OneTimeTokenForRuntime:
        return OneTimeTokenForRuntime.of(await _request_token(info, TokenType.RUNTIME, id, system_auth_id))

    @strawberry.mutation(
        description="A single-use token (5 minutes by default) the application redeems at the Connector.",
        extensions=scoped(Scope.APPLICATION_WRITE),
    )
    async def request_one_time_token_for_application(
        self, info: Info, id: strawberry.ID, system_auth_id: SystemAuthID = None
    ) -> OneTimeTokenForApplication:
        return OneTimeTokenForApplication.of(await _request_token(info, TokenType.APPLICATION, id, system_auth_id))

    @strawberry.mutation(
        name="invalidateSystemAuthOneTimeToken",
        description="Makes every unused token of the system auth unusable; needs runtime:write for a runtime's, "
        "application:write for an application's.",
    )
    async def invalidate_system_auth_one_time_token(
        self, info: Info, auth_id: Annotated[strawberry.ID, strawberry.argument(name="authID")]
    ) -> SystemAuth:
        require_scope(info, Scope.RUNTIME_WRITE, Scope.APPLICATION_WRITE)  # before looking: no scope, no answer
        async with info.context.writing(application_part=(models.SystemAuth, auth_id)) as session:
            row = await system_auth_service.get(session, info.context.tenant_id, auth_id)
            # As Compass's deleteSystemAuthFor{Runtime,Application}: the owner's write scope, not any.
            require_scope(info, Scope.RUNTIME_WRITE if row.runtime_id else Scope.APPLICATION_WRITE)
            row = await system_auth_service.invalidate_tokens(session, info.context.tenant_id, auth_id)
        return system_auth_of(row)


