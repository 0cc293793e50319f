from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.formationconstraint import inputs
from director.formationconstraint.service import formation_constraint as constraint_service
from director.graphql.convert import plain
from director.graphql.formationconstraint.types import (
    ConstraintReference,
    FormationConstraint,
    FormationConstraintInput,
    FormationConstraintUpdateInput,
)
from director.graphql.permissions import scoped
from kernel.principal import Scope

READ = scoped(Scope.FORMATION_CONSTRAINT_READ)
WRITE = scoped(Scope.FORMATION_CONSTRAINT_WRITE)
In = strawberry.argument(name="in")
ConstraintID = strawberry.argument(name="constraintID")
TemplateID = strawberry.argument(name="formationTemplateID")


@strawberry.type
class FormationConstraintQueries:
    @strawberry.field(description="Every formation constraint (they are global).", extensions=READ)
    async def formation_constraints(self, info: Info) -> list[FormationConstraint]:
        return [FormationConstraint.of(row) for row in await info.context.read(constraint_service.listed)]

    @strawberry.field(description="One formation constraint.", extensions=READ)
    async def formation_constraint(self, info: Info, id: strawberry.ID) -> FormationConstraint:
        return FormationConstraint.of(await info.context.read(constraint_service.get, id))

    @strawberry.field(description="The constraints attached to a formation template.", extensions=READ)
    async def formation_constraints_by_formation_type(
        self, info: Info, formation_template_id: Annotated[strawberry.ID, TemplateID]
    ) -> list[FormationConstraint]:
        rows = await info.context.read(constraint_service.for_template, formation_template_id)
        return [FormationConstraint.of(row) for row in rows]


@strawberry.type
class FormationConstraintMutations:
    @strawberry.mutation(description="Creates a formation constraint.", extensions=WRITE)
    async def create_formation_constraint(
        self, info: Info, formation_constraint: FormationConstraintInput
    ) -> FormationConstraint:
        data = plain(formation_constraint, inputs.FormationConstraintInput)
        return FormationConstraint.of(await info.context.write(constraint_service.create, data))

    @strawberry.mutation(description="Changes a constraint's input template, priority and description.", extensions=WRITE)
    async def update_formation_constraint(
        self,
        info: Info,
        id: strawberry.ID,
        in_: Annotated[FormationConstraintUpdateInput, In],
    ) -> FormationConstraint:
        data = plain(in_, inputs.FormationConstraintUpdateInput)
        return FormationConstraint.of(await info.context.write(constraint_service.update, id, data))

    @strawberry.mutation(description="Deletes a formation constraint and detaches it everywhere.", extensions=WRITE)
    async def delete_formation_constraint(self, info: Info, id: strawberry.ID) -> FormationConstraint:
        return FormationConstraint.of(await info.context.write(constraint_service.delete, id))

    @strawberry.mutation(description="Attaches a constraint to a formation template.", extensions=WRITE)
    async def attach_constraint_to_formation_template(
        self,
        info: Info,
        constraint_id: Annotated[strawberry.ID, ConstraintID],
        formation_template_id: Annotated[strawberry.ID, TemplateID],
    ) -> ConstraintReference:
        reference = await info.context.write(constraint_service.attach, constraint_id, formation_template_id)
        return ConstraintReference.of(reference)

    @strawberry.mutation(description="Detaches a constraint from a formation template.", extensions=WRITE)
    async def detach_constraint_from_formation_template(
        self,
        info: Info,
        constraint_id: Annotated[strawberry.ID, ConstraintID],
        formation_template_id: Annotated[strawberry.ID, TemplateID],
    ) -> ConstraintReference:
        reference = await info.context.write(constraint_service.detach, constraint_id, formation_template_id)
        return ConstraintReference.of(reference)
