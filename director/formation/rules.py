"""What a formation's template and the formation constraints decide about an operation (Compass's
``checkFormationTemplateTypes`` and constraint join points), before and after the write.

A template admits applications whose ``applicationType`` label is one of its ``applicationTypes`` and runtimes (or
runtime contexts, by their runtime) whose ``runtimeType`` label is one of its ``runtimeTypes``; a template without
runtime types admits no runtimes. The default template is the exception: pycompass's formations admitted every
application and runtime before templates existed, and formations made without a template name still do.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from director.formation.inputs import FormationObjectType
from director.formationconstraint.inputs import ConstraintType, JoinPoint, ResourceType, TargetOperation
from director.formationconstraint.service import APPLICATION_TYPE_LABEL, RUNTIME_TYPE_LABEL
from director.formationconstraint.service import formation_constraint as constraint_service
from director.formationtemplate.service import formation_template as template_service
from director.label.repository import LabelledKind, LabelRepository
from director.models import Formation, FormationTemplate
from director.models.formation import DEFAULT_TEMPLATE_ID
from director.runtimecontext.repository import RuntimeContextRepository
from kernel.errors import ConflictError


async def subtype(session: AsyncSession, tenant_id: str, object_type: FormationObjectType, object_id: str) -> str | None:
    """The object's application or runtime type label (a runtime context's: its runtime's), None without one."""
    repository = LabelRepository(session)
    if object_type is FormationObjectType.APPLICATION:
        label = await repository.get(tenant_id, LabelledKind.APPLICATION, object_id, APPLICATION_TYPE_LABEL)
    else:
        if object_type is FormationObjectType.RUNTIME_CONTEXT:
            object_id = (await RuntimeContextRepository(session).get_or_raise(tenant_id, object_id)).runtime_id
        label = await repository.get(tenant_id, LabelledKind.RUNTIME, object_id, RUNTIME_TYPE_LABEL)
    return label.value if label is not None and isinstance(label.value, str) else None


def _check_types(template: FormationTemplate, object_type: FormationObjectType, kind: str | None) -> None:
    if template.id == DEFAULT_TEMPLATE_ID:
        return
    if object_type is FormationObjectType.APPLICATION:
        allowed, label = template.application_types, APPLICATION_TYPE_LABEL
    else:
        if not template.runtime_types:
            raise ConflictError(
                f"formations of type {template.name!r} do not support resources of type {object_type.value}"
            )
        allowed, label = template.runtime_types, RUNTIME_TYPE_LABEL
    if kind is None:
        raise ConflictError(f"missing {label} label for formation template {template.name!r}, allowing only {allowed}")
    if kind not in allowed:
        raise ConflictError(f"unsupported {label} {kind!r} for formation template {template.name!r}, allowing only {allowed}")


class ObjectOperation:
    """One assign or unassign: the template's types are checked and the PRE constraints enforced by ``before``,
    the POST ones by ``after``."""

    def __init__(
        self, operation: TargetOperation, formation: Formation, object_type: FormationObjectType, object_id: str
    ) -> None:
        self.operation = operation
        self.formation = formation
        self.object_type = object_type
        self.object_id = object_id
        self.point: JoinPoint | None = None

    async def before(self, session: AsyncSession, tenant_id: str) -> None:
        template = await template_service.get(session, tenant_id, self.formation.formation_template_id)
        kind = await subtype(session, tenant_id, self.object_type, self.object_id)
        if self.operation is TargetOperation.ASSIGN_FORMATION:
            _check_types(template, self.object_type, kind)
        self.point = JoinPoint(
            operation=self.operation,
            constraint_type=ConstraintType.PRE,
            template_id=template.id,
            resource_type=ResourceType(self.object_type.value),
            resource_subtype=kind or "",
            details={
                "ResourceType": self.object_type.value,
                "ResourceSubtype": kind or "",
                "ResourceID": self.object_id,
                "FormationType": template.name,
                "FormationTemplateID": template.id,
                "FormationID": self.formation.id,
                "FormationName": self.formation.name,
                "TenantID": tenant_id,
            },
        )
        await constraint_service.enforce(session, tenant_id, self.point)

    async def after(self, session: AsyncSession, tenant_id: str) -> None:
        if self.point is not None:
            await constraint_service.enforce(session, tenant_id, replace(self.point, constraint_type=ConstraintType.POST))


async def enforce_lifecycle(  # noqa: PLR0917 - a join point's location and details
    session: AsyncSession,
    tenant_id: str,
    operation: TargetOperation,
    phase: ConstraintType,
    template: FormationTemplate,
    name: str,
) -> None:
    """Constraints on creating or deleting a formation: the resource is the formation, its subtype the type's name."""
    await constraint_service.enforce(
        session,
        tenant_id,
        JoinPoint(
            operation=operation,
            constraint_type=phase,
            template_id=template.id,
            resource_type=ResourceType.FORMATION,
            resource_subtype=template.name,
            details={
                "FormationType": template.name,
                "FormationTemplateID": template.id,
                "FormationName": name,
                "TenantID": tenant_id,
            },
        ),
    )
