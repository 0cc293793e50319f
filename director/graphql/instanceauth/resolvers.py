from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry import Info
from strawberry.extensions import FieldExtension
from strawberry.permission import PermissionExtension

from director.graphql.application.types import Bundle, BundleInstanceAuth
from director.graphql.convert import plain
from director.graphql.inputs import BundleInstanceAuthRequestInput, BundleInstanceAuthSetInput
from director.graphql.instanceauth.inputs import BundleInstanceAuthCreateInput, BundleInstanceAuthUpdateInput
from director.graphql.permissions import RequireScope, scoped
from director.instanceauth import inputs
from director.instanceauth.service import bundle_instance_auth as instance_auth_service
from kernel.principal import ClientKind, ClientPrincipal, Scope

In = strawberry.argument(name="in")
AuthID = Annotated[strawberry.ID, strawberry.argument(name="authID")]
BundleID = Annotated[strawberry.ID, strawberry.argument(name="bundleID")]
WRITE = scoped(Scope.APPLICATION_WRITE)


class OwnInstanceAuth(RequireScope):
    """Operators need the scope; certificate clients get Compass's consumer rights on the instance auths that are
    theirs: an application on those of its own bundles, a runtime on those requested for it. Any other auth,
    missing ones included, is the same FORBIDDEN."""

    def __init__(self, scope: str, kinds: frozenset[ClientKind], argument: str) -> None:
        super().__init__(scope)
        self.kinds = kinds
        self.argument = argument

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:  # type: ignore[override] # strawberry awaits it
        principal = info.context.principal
        if not isinstance(principal, ClientPrincipal):
            return super().has_permission(source, info, **kwargs)
        if principal.identity.kind not in self.kinds:
            return False
        application_id, runtime_id = await info.context.read(instance_auth_service.consumers_of, kwargs[self.argument])
        own = application_id if principal.identity.kind is ClientKind.APPLICATION else runtime_id
        return own is not None and own == principal.viewer_id


def own_instance_auth(scope: str, *kinds: ClientKind, argument: str = "auth_id") -> list[FieldExtension]:
    """``argument``: the (python) name of the argument that names the instance auth."""
    permission = OwnInstanceAuth(scope, frozenset(kinds), argument)
    return [PermissionExtension(permissions=[permission], fail_silently=False, use_directives=False)]


def requesting_runtime(info: Info) -> str | None:
    """The runtime whose certificate calls, which gets the instance auth it requests (as Compass's consumer)."""
    principal = info.context.principal
    if isinstance(principal, ClientPrincipal) and principal.identity.kind is ClientKind.RUNTIME:
        return principal.viewer_id
    return None


@strawberry.type
class BundleInstanceAuthQueries:
    @strawberry.field(
        description="One bundle instance auth, or null; a runtime's certificate may ask about its own.",
        extensions=own_instance_auth(Scope.APPLICATION_READ, ClientKind.RUNTIME, argument="id"),
    )
    async def bundle_instance_auth(self, info: Info, id: strawberry.ID) -> BundleInstanceAuth | None:
        row = await info.context.read(instance_auth_service.find, id)
        return BundleInstanceAuth.of(row) if row else None

    @strawberry.field(
        description="The bundle a bundle instance auth belongs to, or null; an application's or runtime's "
        "certificate may ask about its own instance auths.",
        extensions=own_instance_auth(Scope.APPLICATION_READ, ClientKind.APPLICATION, ClientKind.RUNTIME),
    )
    async def bundle_by_instance_auth(self, info: Info, auth_id: AuthID) -> Bundle | None:
        row = await info.context.read(instance_auth_service.bundle_of, auth_id)
        return Bundle.of(row) if row else None


@strawberry.type
class BundleInstanceAuthMutations:
    @strawberry.mutation(
        description="Asks for credentials of a bundle: SUCCEEDED at once with its default auth, else PENDING. A "
        "runtime's certificate may ask for bundles of applications in its formations; the auth is then the runtime's.",
        extensions=scoped(Scope.APPLICATION_WRITE, own=(ClientKind.RUNTIME, None)),
    )
    async def request_bundle_instance_auth_creation(
        self,
        info: Info,
        bundle_id: BundleID,
        in_: Annotated[BundleInstanceAuthRequestInput, In],
    ) -> BundleInstanceAuth:
        data = plain(in_, inputs.BundleInstanceAuthRequestInput)
        runtime_id = requesting_runtime(info)
        row = await info.context.write(instance_auth_service.request_creation, bundle_id, data, runtime_id=runtime_id)
        return BundleInstanceAuth.of(row)

    @strawberry.mutation(description="The application sets the credentials, or reports that it failed.", extensions=WRITE)
    async def set_bundle_instance_auth(
        self, info: Info, auth_id: AuthID, in_: Annotated[BundleInstanceAuthSetInput, In]
    ) -> BundleInstanceAuth:
        data = plain(in_, inputs.BundleInstanceAuthSetInput)
        return BundleInstanceAuth.of(await info.context.write(instance_auth_service.set, auth_id, data))

    @strawberry.mutation(
        description="Deletes default or unset credentials; others become UNUSED until the application revokes them. "
        "A runtime's certificate may delete its own.",
        extensions=own_instance_auth(Scope.APPLICATION_WRITE, ClientKind.RUNTIME),
    )
    async def request_bundle_instance_auth_deletion(self, info: Info, auth_id: AuthID) -> BundleInstanceAuth:
        return BundleInstanceAuth.of(await info.context.write(instance_auth_service.request_deletion, auth_id))

    @strawberry.mutation(
        description="Sets credentials of a bundle for a runtime at once (SUCCEEDED), without a request.",
        extensions=scoped(Scope.BUNDLE_INSTANCE_AUTH_WRITE),
    )
    async def create_bundle_instance_auth(
        self, info: Info, bundle_id: BundleID, in_: Annotated[BundleInstanceAuthCreateInput, In]
    ) -> BundleInstanceAuth:
        data = plain(in_, inputs.BundleInstanceAuthCreateInput)
        return BundleInstanceAuth.of(await info.context.write(instance_auth_service.create, bundle_id, data))

    @strawberry.mutation(
        description="Replaces the given context, input parameters or credentials of a bundle's instance auth.",
        extensions=scoped(Scope.BUNDLE_INSTANCE_AUTH_WRITE),
    )
    async def update_bundle_instance_auth(
        self, info: Info, id: strawberry.ID, bundle_id: BundleID, in_: Annotated[BundleInstanceAuthUpdateInput, In]
    ) -> BundleInstanceAuth:
        data = plain(in_, inputs.BundleInstanceAuthUpdateInput)
        return BundleInstanceAuth.of(await info.context.write(instance_auth_service.update, id, bundle_id, data))

    @strawberry.mutation(
        description="Deletes a bundle instance auth at once, whatever its status; an application's certificate "
        "may delete those of its own bundles.",
        extensions=own_instance_auth(Scope.APPLICATION_WRITE, ClientKind.APPLICATION),
    )
    async def delete_bundle_instance_auth(self, info: Info, auth_id: AuthID) -> BundleInstanceAuth:
        return BundleInstanceAuth.of(await info.context.write(instance_auth_service.delete, auth_id))
