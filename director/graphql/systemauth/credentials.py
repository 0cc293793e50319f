"""OAuth 2.0 client credentials of runtimes, applications and integration systems, and what Compass lets an
operator do to any system auth (find it by its one-time token, delete it, replace its Auth)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from strawberry import Info

from director.bundle import inputs as bundle_inputs
from director.graphql.application.types import SystemAuth, system_auth_of
from director.graphql.convert import plain
from director.graphql.inputs import AuthInput
from director.graphql.permissions import require_scope, scoped
from director.systemauth.service import IssuedCredentials
from director.systemauth.service import system_auth as system_auth_service
from kernel.principal import ClientKind, Scope

AuthID = Annotated[strawberry.ID, strawberry.argument(name="authID")]
In = strawberry.argument(name="in")
_SHOWN_ONCE = (
    " Its auth.credential is OAuthCredentialData {clientId clientSecret url}: the secret is shown in this answer "
    'only (stored, it is a hash; reads show ""), url is the token endpoint (POST /oauth2/token).'
)


async def _issue(info: Info, request: Callable[..., Awaitable[IssuedCredentials]], object_id: str) -> SystemAuth:
    issued = await info.context.write(request, object_id, token_url=info.context.settings.oauth_token_url)
    return system_auth_of(issued.record, client_secret=issued.client_secret)


@strawberry.type
class SystemAuthByTokenQueries:
    @strawberry.field(
        description="The system auth a valid one-time token of the tenant was issued for, or null (a used, expired "
        "or unknown token).",
        extensions=scoped(Scope.ORY_INTERNAL),
    )
    async def system_auth_by_token(self, info: Info, token: str) -> SystemAuth | None:
        row = await info.context.read(system_auth_service.by_token, token, now=info.context.clock())
        return system_auth_of(row) if row else None


@strawberry.type
class ClientCredentialsMutations:
    @strawberry.mutation(
        description="A client id and secret the runtime exchanges for a JWT acting as the runtime." + _SHOWN_ONCE,
        extensions=scoped(Scope.RUNTIME_WRITE),
    )
    async def request_client_credentials_for_runtime(self, info: Info, id: strawberry.ID) -> SystemAuth:
        return await _issue(info, system_auth_service.request_runtime_credentials, id)

    @strawberry.mutation(
        description="A client id and secret the application exchanges for a JWT acting as the application."
        + _SHOWN_ONCE,
        extensions=scoped(Scope.APPLICATION_WRITE),
    )
    async def request_client_credentials_for_application(self, info: Info, id: strawberry.ID) -> SystemAuth:
        return await _issue(info, system_auth_service.request_application_credentials, id)

    @strawberry.mutation(
        description="A client id and secret the integration system exchanges for a JWT with its consumer type's "
        "scopes, valid in the tenant each request names." + _SHOWN_ONCE,
        extensions=scoped(Scope.INTEGRATION_SYSTEM_WRITE),
    )
    async def request_client_credentials_for_integration_system(self, info: Info, id: strawberry.ID) -> SystemAuth:
        return await _issue(info, system_auth_service.request_integration_system_credentials, id)

    @strawberry.mutation(
        description="Deletes a runtime's system auth: its client credentials stop working at once.",
        extensions=scoped(Scope.RUNTIME_WRITE),
    )
    async def delete_system_auth_for_runtime(self, info: Info, auth_id: AuthID) -> SystemAuth:
        return system_auth_of(await info.context.write(system_auth_service.delete_for, auth_id, kind=ClientKind.RUNTIME))

    @strawberry.mutation(
        description="Deletes an application's system auth: its client credentials stop working at once.",
        extensions=scoped(Scope.APPLICATION_WRITE),
    )
    async def delete_system_auth_for_application(self, info: Info, auth_id: AuthID) -> SystemAuth:
        row = await info.context.write(system_auth_service.delete_for, auth_id, kind=ClientKind.APPLICATION)
        return system_auth_of(row)

    @strawberry.mutation(
        description="Deletes an integration system's system auth: its client credentials stop working at once.",
        extensions=scoped(Scope.INTEGRATION_SYSTEM_WRITE),
    )
    async def delete_system_auth_for_integration_system(self, info: Info, auth_id: AuthID) -> SystemAuth:
        return system_auth_of(await info.context.write(system_auth_service.delete_for_integration_system, auth_id))

    @strawberry.mutation(
        description="Replaces the Auth a system auth shows; needs the write scope of what it belongs to "
        "(runtime:write, application:write or integration_system:write). A client secret is not changed by it.",
    )
    async def update_system_auth(self, info: Info, auth_id: AuthID, in_: Annotated[AuthInput, In]) -> SystemAuth:
        require_scope(info, Scope.RUNTIME_WRITE, Scope.APPLICATION_WRITE, Scope.INTEGRATION_SYSTEM_WRITE)
        data = plain(in_, bundle_inputs.AuthInput)
        row = await info.context.write(system_auth_service.update_auth, auth_id, data, caller=info.context.principal)
        return system_auth_of(row)
