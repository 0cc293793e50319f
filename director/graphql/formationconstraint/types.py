from __future__ import annotations

import strawberry

from director import models
from director.graphql.enums import ConstraintScope, ConstraintType, ResourceType, TargetOperation
from director.graphql.scalars import Timestamp


@strawberry.input(description="A formation constraint: what its operator checks, on which operation and resource.")
class FormationConstraintInput:
    name: str
    description: str | None = None
    constraint_type: ConstraintType
    target_operation: TargetOperation
    operator: str
    resource_type: ResourceType
    resource_subtype: str = strawberry.field(description="The resource's type label value, or ANY.")
    input_template: str = strawberry.field(description="JSON for the operator, with {{.Name}} fields of the operation.")
    constraint_scope: ConstraintScope
    priority: int | None = None


@strawberry.input(description="What of a formation constraint may change.")
class FormationConstraintUpdateInput:
    input_template: str
    priority: int | None = None
    description: str | None = None


@strawberry.type(description="A rule enforced on formation operations.")
class FormationConstraint:
    id: strawberry.ID
    name: str
    description: str
    constraint_type: str
    target_operation: str
    operator: str
    resource_type: str
    resource_subtype: str
    input_template: str
    constraint_scope: str
    priority: int
    created_at: Timestamp

    @classmethod
    def of(cls, model: models.FormationConstraint) -> FormationConstraint:
        return cls(
            id=strawberry.ID(model.id),
            name=model.name,
            description=model.description,
            constraint_type=model.constraint_type,
            target_operation=model.target_operation,
            operator=model.operator,
            resource_type=model.resource_type,
            resource_subtype=model.resource_subtype,
            input_template=model.input_template,
            constraint_scope=model.constraint_scope,
            priority=model.priority,
            created_at=Timestamp(model.created_at),
        )


@strawberry.type(description="A constraint attached to a formation template.")
class ConstraintReference:
    constraint_id: strawberry.ID = strawberry.field(name="constraintID")
    formation_template_id: strawberry.ID = strawberry.field(name="formationTemplateID")

    @classmethod
    def of(cls, model: models.ConstraintReference) -> ConstraintReference:
        return cls(constraint_id=strawberry.ID(model.constraint_id), formation_template_id=strawberry.ID(model.template_id))
