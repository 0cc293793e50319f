from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from strawberry import Info

from director.graphql.application.types import SystemAuth, system_auth_of
from director.graphql.permissions import require_scope, scoped
from director.graphql.systemauth.types import OneTimeTokenForApplication, OneTimeTokenForRuntime
from director.systemauth.inputs import TokenPolicy
from director.systemauth.service import IssuedToken
from director.systemauth.service import system_auth as system_auth_service
from kernel.errors import ForbiddenError
from kernel.principal import ClientKind, ClientPrincipal, Scope

SystemAuthID = Annotated[strawberry.ID | None, strawberry.argument(name="systemAuthID")]
# Compass's auth middleware reads the requester's scenario groups from this header, separated by ", ".
SCENARIO_GROUPS_HEADER = "scenario_groups"


async def _issue(
    info: Info, request: Callable[..., Awaitable[IssuedToken]], object_id: str, auth_id: str | None
) -> IssuedToken:
    """A token for a runtime or an application (``request``), under the lifetimes the settings give, recording
    the request's scenario groups."""
    policy = TokenPolicy.of(info.context.settings)
    value = info.context.request.headers.get(SCENARIO_GROUPS_HEADER, "")
    groups = value.split(", ") if value else []
    return await info.context.write(
        request, object_id, auth_id, policy=policy, now=info.context.clock(), scenario_groups=groups
    )


@strawberry.type
class SystemAuthQueries:
    @strawberry.field(description="One system auth, or null.", extensions=scoped(Scope.APPLICATION_READ))
    async def system_auth(self, info: Info, id: strawberry.ID) -> SystemAuth | None:
        row = await info.context.read(system_auth_service.find, id)
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
        issued = await _issue(info, system_auth_service.request_runtime_token, id, system_auth_id)
        return OneTimeTokenForRuntime.of(issued)

    @strawberry.mutation(
        description="A single-use token (5 minutes by default) the application redeems at the Connector.",
        extensions=scoped(Scope.APPLICATION_WRITE),
    )
    async def request_one_time_token_for_application(
        self, info: Info, id: strawberry.ID, system_auth_id: SystemAuthID = None
    ) -> OneTimeTokenForApplication:
        issued = await _issue(info, system_auth_service.request_application_token, id, system_auth_id)
        return OneTimeTokenForApplication.of(issued)

    @strawberry.mutation(
        description="pycompass's own: a single-use token for an application in one of the calling runtime's "
        "formations (its TokenRequest), for a new system auth. Only a runtime's certificate may call it.",
        extensions=scoped(Scope.APPLICATION_WRITE, own=(ClientKind.RUNTIME, None)),
    )
    async def request_one_time_token_for_application_from_runtime(
        self, info: Info, id: strawberry.ID
    ) -> OneTimeTokenForApplication:
        principal = info.context.principal
        if not isinstance(principal, ClientPrincipal):  # an operator has requestOneTimeTokenForApplication
            raise ForbiddenError("only a runtime's certificate may call this; operators: requestOneTimeTokenForApplication")
        policy = TokenPolicy.of(info.context.settings)
        issued = await info.context.write(
            system_auth_service.request_application_token_for_runtime, id, principal.viewer_id,
            policy=policy, now=info.context.clock(),
        )  # fmt: skip
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
        row = await info.context.write(
            system_auth_service.invalidate_tokens, auth_id, caller=info.context.principal, now=info.context.clock()
        )
        return system_auth_of(row)
