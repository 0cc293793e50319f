from __future__ import annotations

import strawberry

from director.graphql.inputs import AuthInput
from director.graphql.scalars import JSONString


@strawberry.input(description="Credentials the caller sets for one runtime (exactly one of runtimeID, runtimeContextID).")
class BundleInstanceAuthCreateInput:
    context: JSONString | None = None
    input_params: JSONString | None = strawberry.field(
        default=None, description="Checked against the bundle's instanceAuthRequestInputSchema."
    )
    auth: AuthInput
    runtime_id: strawberry.ID | None = strawberry.field(default=None, name="runtimeID")
    runtime_context_id: strawberry.ID | None = strawberry.field(default=None, name="runtimeContextID")


@strawberry.input(description="New values of a bundle instance auth; what is not given is kept.")
class BundleInstanceAuthUpdateInput:
    context: JSONString | None = None
    input_params: JSONString | None = None
    auth: AuthInput | None = None
