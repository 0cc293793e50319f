from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.graphql.convert import plain
from director.graphql.inputs import LabelDefinitionInput
from director.graphql.label.types import LabelDefinition
from director.graphql.permissions import scoped
from director.labeldefinition import inputs
from director.labeldefinition.service import label_definition as label_definition_service
from kernel.principal import Scope

READ = scoped(Scope.LABEL_DEFINITION_READ)
WRITE = scoped(Scope.LABEL_DEFINITION_WRITE)
In = strawberry.argument(name="in")


@strawberry.type
class LabelQueries:
    @strawberry.field(description="All label definitions of the tenant, scenarios included.", extensions=READ)
    async def label_definitions(self, info: Info) -> list[LabelDefinition]:
        return [LabelDefinition.of(row) for row in await info.context.read(label_definition_service.all)]

    @strawberry.field(description="One label definition, or null.", extensions=READ)
    async def label_definition(self, info: Info, key: str) -> LabelDefinition | None:
        row = await info.context.read(label_definition_service.find, key)
        return LabelDefinition.of(row) if row else None


@strawberry.type
class LabelMutations:
    @strawberry.mutation(description="Defines a label key; existing labels must match the schema.", extensions=WRITE)
    async def create_label_definition(self, info: Info, in_: Annotated[LabelDefinitionInput, In]) -> LabelDefinition:
        data = plain(in_, inputs.LabelDefinitionInput)
        return LabelDefinition.of(await info.context.write(label_definition_service.create, data))

    @strawberry.mutation(description="Changes a label definition's schema.", extensions=WRITE)
    async def update_label_definition(self, info: Info, in_: Annotated[LabelDefinitionInput, In]) -> LabelDefinition:
        data = plain(in_, inputs.LabelDefinitionInput)
        return LabelDefinition.of(await info.context.write(label_definition_service.update, data))

    @strawberry.mutation(description="Deletes a label definition, and its labels if asked.", extensions=WRITE)
    async def delete_label_definition(
        self, info: Info, key: str, delete_related_labels: bool | None = False
    ) -> LabelDefinition:
        row = await info.context.write(
            label_definition_service.delete, key, delete_related_labels=bool(delete_related_labels)
        )
        return LabelDefinition.of(row)
