from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from director.models import ConstraintReference, FormationConstraint

# Compass's wildcard subtype: the constraint applies to resources of every subtype.
ANY_SUBTYPE = "ANY"


class FormationConstraintRepository:
    """Constraints are global, as in Compass: no tenant column."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, constraint_id: str) -> FormationConstraint | None:
        return await self.session.get(FormationConstraint, constraint_id)

    async def listed(self) -> list[FormationConstraint]:
        statement = select(FormationConstraint).order_by(FormationConstraint.created_at, FormationConstraint.id)
        return list((await self.session.execute(statement)).scalars())

    async def for_templates(self, template_ids: Sequence[str]) -> dict[str, list[FormationConstraint]]:
        statement = (
            select(ConstraintReference.template_id, FormationConstraint)
            .join(FormationConstraint, FormationConstraint.id == ConstraintReference.constraint_id)
            .where(ConstraintReference.template_id.in_(template_ids))
            .order_by(FormationConstraint.created_at, FormationConstraint.id)
        )
        grouped: dict[str, list[FormationConstraint]] = {template_id: [] for template_id in template_ids}
        for template_id, constraint in await self.session.execute(statement):
            grouped[template_id].append(constraint)
        return grouped

    async def matching(
        self, template_id: str, operation: str, constraint_type: str, resource_type: str, resource_subtype: str
    ) -> list[FormationConstraint]:
        """Compass's ListMatchingFormationConstraints: global ones and those attached to the template, for this
        operation, phase and resource, highest priority first, then oldest."""
        attached = select(ConstraintReference.constraint_id).where(ConstraintReference.template_id == template_id)
        statement = (
            select(FormationConstraint)
            .where(
                FormationConstraint.target_operation == operation,
                FormationConstraint.constraint_type == constraint_type,
                FormationConstraint.resource_type == resource_type,
                FormationConstraint.resource_subtype.in_([resource_subtype, ANY_SUBTYPE]),
                or_(FormationConstraint.constraint_scope == "GLOBAL", FormationConstraint.id.in_(attached)),
            )
            .order_by(FormationConstraint.priority.desc(), FormationConstraint.created_at)
        )
        return list((await self.session.execute(statement)).scalars())

    async def reference(self, constraint_id: str, template_id: str) -> ConstraintReference | None:
        return await self.session.get(ConstraintReference, (constraint_id, template_id))

    async def add(self, row: FormationConstraint | ConstraintReference) -> None:
        self.session.add(row)
        await self.session.flush()

    async def delete(self, row: FormationConstraint | ConstraintReference) -> None:
        await self.session.delete(row)
        await self.session.flush()
