from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.graphql.application.types import BundleInstanceAuth
from director.graphql.convert import plain
from director.graphql.inputs import BundleInstanceAuthRequestInput, BundleInstanceAuthSetInput
from director.graphql.permissions import scoped
from director.instanceauth import inputs
from director.instanceauth.service import bundle_instance_auth as instance_auth_service
from kernel.principal import Scope

In = strawberry.argument(name="in")
AuthID = Annotated[strawberry.ID, strawberry.argument(name="authID")]
WRITE = scoped(Scope.APPLICATION_WRITE)


@strawberry.type
class BundleInstanceAuthQueries:
    @strawberry.field(description="One bundle instance auth, or null.", extensions=scoped(Scope.APPLICATION_READ))
    async def bundle_instance_auth(self, info: Info, id: strawberry.ID) -> BundleInstanceAuth | None:
        row = await info.context.read(instance_auth_service.find, id)
        return BundleInstanceAuth.of(row) if row else None


@strawberry.type
class BundleInstanceAuthMutations:
    @strawberry.mutation(
        description="Asks for credentials of a bundle: SUCCEEDED at once with its default auth, else PENDING.",
        extensions=WRITE,
    )
    async def request_bundle_instance_auth_creation(
        self,
        info: Info,
        bundle_id: Annotated[strawberry.ID, strawberry.argument(name="bundleID")],
        in_: Annotated[BundleInstanceAuthRequestInput, In],
    ) -> BundleInstanceAuth:
        data = plain(in_, inputs.BundleInstanceAuthRequestInput)
        return BundleInstanceAuth.of(await info.context.write(instance_auth_service.request_creation, bundle_id, data))

    @strawberry.mutation(description="The application sets the credentials, or reports that it failed.", extensions=WRITE)
    async def set_bundle_instance_auth(
        self, info: Info, auth_id: AuthID, in_: Annotated[BundleInstanceAuthSetInput, In]
    ) -> BundleInstanceAuth:
        data = plain(in_, inputs.BundleInstanceAuthSetInput)
        return BundleInstanceAuth.of(await info.context.write(instance_auth_service.set, auth_id, data))

    @strawberry.mutation(
        description="Deletes default or unset credentials; others become UNUSED until the application revokes them.",
        extensions=WRITE,
    )
    async def request_bundle_instance_auth_deletion(self, info: Info, auth_id: AuthID) -> BundleInstanceAuth:
        return BundleInstanceAuth.of(await info.context.write(instance_auth_service.request_deletion, auth_id))
