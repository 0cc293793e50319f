from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.formationtemplate import inputs
from director.formationtemplate.service import formation_template as template_service
from director.graphql.application.types import After, First
from director.graphql.convert import plain
from director.graphql.formationtemplate.types import (
    FormationTemplate,
    FormationTemplatePage,
    FormationTemplateRegisterInput,
    FormationTemplateUpdateInput,
    LabelInput,
)
from director.graphql.inputs import LabelFilter
from director.graphql.label.types import Label
from director.graphql.permissions import scoped
from director.graphql.scalars import AnyScalar
from director.label import inputs as label_inputs
from director.pagination import PageRequest
from kernel.principal import Scope

READ = scoped(Scope.FORMATION_TEMPLATE_READ)
WRITE = scoped(Scope.FORMATION_TEMPLATE_WRITE)
In = strawberry.argument(name="in")
TemplateID = Annotated[strawberry.ID, strawberry.argument(name="formationTemplateID")]


def _label(pair: tuple[str, object]) -> Label:
    return Label(key=pair[0], value=AnyScalar(pair[1]))


@strawberry.type
class FormationTemplateQueries:
    @strawberry.field(description="One formation template (global, or the tenant's own), or null.", extensions=READ)
    async def formation_template(self, info: Info, id: strawberry.ID) -> FormationTemplate | None:
        row = await info.context.read(template_service.find, id)
        return FormationTemplate.of(row) if row else None

    @strawberry.field(description="Formation templates: the global ones and the tenant's, filtered by labels.", extensions=READ)
    async def formation_templates(
        self, info: Info, filter: list[LabelFilter] | None = None, first: First = 200, after: After = None
    ) -> FormationTemplatePage:
        filters = [plain(item, label_inputs.LabelFilter) for item in filter or []]
        page = await info.context.read(template_service.page, filters, None, PageRequest.of(first, after))
        return FormationTemplatePage.of(page, FormationTemplate.of)

    @strawberry.field(description="Formation templates of one name (the tenant's own and a global one).", extensions=READ)
    async def formation_templates_by_name(
        self, info: Info, name: str, first: First = 200, after: After = None
    ) -> FormationTemplatePage:
        page = await info.context.read(template_service.page, [], name, PageRequest.of(first, after))
        return FormationTemplatePage.of(page, FormationTemplate.of)


@strawberry.type
class FormationTemplateMutations:
    @strawberry.mutation(description="Creates a formation template of the tenant.", extensions=WRITE)
    async def create_formation_template(
        self, info: Info, in_: Annotated[FormationTemplateRegisterInput, In]
    ) -> FormationTemplate | None:
        data = plain(in_, inputs.FormationTemplateRegisterInput)
        return FormationTemplate.of(await info.context.write(template_service.create, data))

    @strawberry.mutation(description="Replaces a formation template of the tenant.", extensions=WRITE)
    async def update_formation_template(
        self, info: Info, id: strawberry.ID, in_: Annotated[FormationTemplateUpdateInput, In]
    ) -> FormationTemplate | None:
        data = plain(in_, inputs.FormationTemplateUpdateInput)
        return FormationTemplate.of(await info.context.write(template_service.update, id, data))

    @strawberry.mutation(description="Deletes a formation template no formation is of.", extensions=WRITE)
    async def delete_formation_template(self, info: Info, id: strawberry.ID) -> FormationTemplate | None:
        return FormationTemplate.of(await info.context.write(template_service.delete, id))

    @strawberry.mutation(description="Sets a label of a formation template of the tenant.", extensions=WRITE)
    async def set_formation_template_label(
        self, info: Info, formation_template_id: TemplateID, in_: Annotated[LabelInput, In]
    ) -> Label:
        pair = await info.context.write(template_service.set_label, formation_template_id, in_.key, in_.value)
        return _label(pair)

    @strawberry.mutation(description="Deletes a label of a formation template of the tenant.", extensions=WRITE)
    async def delete_formation_template_label(self, info: Info, formation_template_id: TemplateID, key: str) -> Label:
        return _label(await info.context.write(template_service.delete_label, formation_template_id, key))
