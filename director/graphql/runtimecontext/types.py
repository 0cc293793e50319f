from __future__ import annotations

import strawberry
from strawberry import Info

from director import models
from director.graphql.application.types import labels_object
from director.graphql.pagination import Page
from director.graphql.scalars import Labels


@strawberry.input(description="A runtime context: key of 1 to 512 letters, digits or _; value of up to 512 characters.")
class RuntimeContextInput:
    key: str
    value: str


@strawberry.type(description="A context of a runtime (e.g. a subscription); assignable to formations itself.")
class RuntimeContext:
    id: strawberry.ID
    key: str
    value: str
    # False for the context unregisterRuntimeContext answers: Compass answers its labels null.
    exists: strawberry.Private[bool]

    @classmethod
    def of(cls, model: models.RuntimeContext, *, exists: bool = True) -> RuntimeContext:
        return cls(id=strawberry.ID(model.id), key=model.key, value=model.value, exists=exists)

    @strawberry.field(description="The context's labels (scenarios: its formations), or only the one with this key.")
    async def labels(self, info: Info, key: str | None = None) -> Labels | None:
        if not self.exists:
            return None
        return Labels(labels_object(await info.context.loaders.labels_by_runtime_context.load(self.id), key))


@strawberry.type(description="A page of runtime contexts.")
class RuntimeContextPage(Page[RuntimeContext]):
    pass
