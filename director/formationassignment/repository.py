from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, or_, select

from director.models import AssignmentOperation, FormationAssignment
from kernel.repository import TenantScopedRepository


class FormationAssignmentRepository(TenantScopedRepository[FormationAssignment]):
    model = FormationAssignment
    noun = "formation assignment"

    async def for_formations(self, tenant_id: str, formation_ids: Sequence[str]) -> list[FormationAssignment]:
        statement = self._ordered(self.select(tenant_id).where(FormationAssignment.formation_id.in_(formation_ids)))
        return list((await self.session.execute(statement)).scalars())

    async def for_object(self, tenant_id: str, formation_id: str, object_id: str) -> list[FormationAssignment]:
        statement = self.select(tenant_id).where(
            FormationAssignment.formation_id == formation_id,
            or_(FormationAssignment.source == object_id, FormationAssignment.target == object_id),
        )
        return list((await self.session.execute(self._ordered(statement))).scalars())

    async def reverse_of(self, row: FormationAssignment) -> FormationAssignment | None:
        statement = self.select(row.tenant_id).where(
            FormationAssignment.formation_id == row.formation_id,
            FormationAssignment.source == row.target,
            FormationAssignment.target == row.source,
        )
        return (await self.session.execute(statement)).scalars().first()

    async def delete_for_object(
        self, tenant_id: str, formation_id: str, object_id: str, *, keep: Sequence[str] = ()
    ) -> None:
        await self.session.execute(
            delete(FormationAssignment).where(
                FormationAssignment.tenant_id == tenant_id,
                FormationAssignment.formation_id == formation_id,
                or_(FormationAssignment.source == object_id, FormationAssignment.target == object_id),
                FormationAssignment.id.not_in(keep),
            )
        )

    async def operations(self, tenant_id: str, assignment_ids: Sequence[str]) -> list[AssignmentOperation]:
        statement = (
            select(AssignmentOperation)
            .where(AssignmentOperation.tenant_id == tenant_id, AssignmentOperation.assignment_id.in_(assignment_ids))
            .order_by(AssignmentOperation.started_at, AssignmentOperation.id)
        )
        return list((await self.session.execute(statement)).scalars())

    async def insert_many(
        self, model: type[FormationAssignment | AssignmentOperation], rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Rows as column values, in as few statements as the driver batches them: a join of a formation of
        thousands makes thousands, which the ORM built and flushed one object at a time."""
        if rows:
            await self.session.flush()  # what the session holds goes first, as a flush of the objects did
            # render_nulls: the ORM would otherwise leave out None values, and rows differing in which are None
            # would go in a statement each.
            await self.session.execute(insert(model).execution_options(render_nulls=True), list(rows))

    async def add_all(self, rows: Sequence[FormationAssignment | AssignmentOperation]) -> None:
        self.session.add_all(rows)
        await self.session.flush()
