"""Formation assignments: one per direction between two participants of a formation, and one per participant to
itself, generated as Compass generates them when an object is assigned.

Compass moves an assignment from INITIAL to READY once its participants' notification webhooks answered; a pair
without webhooks is READY at once. pycompass sends no formation notifications, so every assignment of a formation
in the READY state is READY when it is made, and those made while the formation is DRAFT or INITIAL stay INITIAL
until the formation is finalized or resynchronized. The ``scenarios`` labels remain the truth of who participates:
assignments of an object that left a formation some other way (deleted, or its label rewritten) are not shown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from director.application.repository import ApplicationRepository
from director.formation.repository import FormationRepository
from director.formationassignment.repository import FormationAssignmentRepository
from director.label.repository import LabelRepository
from director.models import (
    SCENARIOS,
    Application,
    AssignmentOperation,
    Formation,
    FormationAssignment,
    Label,
    Runtime,
    RuntimeContext,
)
from director.runtime.repository import RuntimeRepository
from director.runtimecontext.repository import RuntimeContextRepository
from kernel.errors import InvalidInputError
from kernel.models import new_id, utcnow

READY = "READY"
INITIAL = "INITIAL"
# Compass's OperationTrigger values.
ASSIGN_OBJECT = "ASSIGN_OBJECT"
RESET = "RESET"
RESYNC = "RESYNC"


@dataclass(frozen=True)
class InitialConfiguration:
    source_id: str
    target_id: str
    configuration: str


def _participant(label: Label) -> tuple[str, str] | None:
    if label.application_id is not None:
        return label.application_id, "APPLICATION"
    if label.runtime_id is not None:
        return label.runtime_id, "RUNTIME"
    if label.runtime_context_id is not None:
        return label.runtime_context_id, "RUNTIME_CONTEXT"
    return None


async def participants(session: AsyncSession, tenant_id: str, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """Per formation name, its participants' ids and types, from their ``scenarios`` labels (one statement)."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for label in await LabelRepository(session).with_key(tenant_id, SCENARIOS):
        participant = _participant(label)
        if participant is None or not isinstance(label.value, list):
            continue
        for name in label.value:
            if name in names:
                found[name][participant[0]] = participant[1]
    return found


def _operation(
    row: FormationAssignment, trigger: str, started: datetime, finished: datetime | None
) -> AssignmentOperation:
    """Compass records an ASSIGN operation per assignment and trigger, finished once the assignment is READY."""
    return AssignmentOperation(
        tenant_id=row.tenant_id,
        assignment_id=row.id,
        formation_id=row.formation_id,
        type="ASSIGN",
        triggered_by=trigger,
        started_at=started,
        finished_at=finished,
    )


class FormationAssignmentService:
    async def generate(  # noqa: PLR0917 - Compass's GenerateAssignments takes the same
        self,
        session: AsyncSession,
        tenant_id: str,
        formation: Formation,
        object_type: str,
        object_id: str,
        configurations: Sequence[InitialConfiguration],
    ) -> None:
        """The assigned object's assignments to and from every other participant, and to itself; a runtime
        context gets none with its own runtime (Compass's rule, so that the runtime can leave)."""
        values = {(item.source_id, item.target_id): item.configuration for item in configurations}
        others = dict((await participants(session, tenant_id, [formation.name]))[formation.name])
        others.pop(object_id, None)
        if object_type == "RUNTIME_CONTEXT":
            context = await RuntimeContextRepository(session).get_or_raise(tenant_id, object_id)
            others.pop(context.runtime_id, None)
        pairs = [(object_id, object_type, object_id, object_type)]
        for other_id, other_type in others.items():
            pairs += [(object_id, object_type, other_id, other_type), (other_id, other_type, object_id, object_type)]
        if unknown := [pair for pair in values if pair not in {(source, target) for source, _, target, _ in pairs}]:
            raise InvalidInputError(f"initialConfigurations name pairs that are not in the formation: {unknown}")
        state = READY if formation.state == READY else INITIAL
        now = utcnow()
        repository = FormationAssignmentRepository(session)
        await repository.delete_for_object(tenant_id, formation.id, object_id)
        rows = [
            FormationAssignment(
                id=new_id(),
                tenant_id=tenant_id,
                formation_id=formation.id,
                source=source,
                source_type=source_type,
                target=target,
                target_type=target_type,
                state=state,
                value=values.get((source, target)),
                last_state_change_timestamp=now,
            )
            for source, source_type, target, target_type in pairs
        ]
        finished = now if state == READY else None
        await repository.add_all(rows)
        await repository.add_all([_operation(row, ASSIGN_OBJECT, now, finished) for row in rows])

    async def remove(self, session: AsyncSession, tenant_id: str, formation: Formation, object_id: str) -> None:
        """Unassigning deletes the object's assignments at once: none has a notification to wait for."""
        await FormationAssignmentRepository(session).delete_for_object(tenant_id, formation.id, object_id)

    async def by_formations(
        self, session: AsyncSession, tenant_id: str, formation_ids: Sequence[str]
    ) -> dict[str, list[FormationAssignment]]:
        """The current assignments of many formations, in three statements whatever their number."""
        formations = await FormationRepository(session).by_ids(tenant_id, formation_ids)
        members = await participants(session, tenant_id, [formation.name for formation in formations.values()])
        grouped: dict[str, list[FormationAssignment]] = {formation_id: [] for formation_id in formation_ids}
        for row in await FormationAssignmentRepository(session).for_formations(tenant_id, list(formations)):
            current = members.get(formations[row.formation_id].name, {})
            if row.source in current and row.target in current:
                grouped[row.formation_id].append(row)
        return grouped

    async def participants_by_ids(
        self, session: AsyncSession, tenant_id: str, ids: Sequence[str]
    ) -> dict[str, Application | Runtime | RuntimeContext]:
        """Assignments' sources and targets, whichever kind each is: one statement per kind."""
        found: dict[str, Application | Runtime | RuntimeContext] = {}
        found.update(await ApplicationRepository(session).by_ids(tenant_id, ids))
        found.update(await RuntimeRepository(session).by_ids(tenant_id, ids))
        found.update(await RuntimeContextRepository(session).by_ids(tenant_id, ids))
        return found

    async def settle(self, session: AsyncSession, tenant_id: str, formation: Formation, *, reset: bool) -> None:
        """What resynchronizing does when no participant has a webhook: every assignment not READY (all of them
        on ``reset``, their values and errors cleared) becomes READY."""
        now = utcnow()
        repository = FormationAssignmentRepository(session)
        rows = (await self.by_formations(session, tenant_id, [formation.id]))[formation.id]
        unfinished = {
            operation.assignment_id: operation
            for operation in await repository.operations(tenant_id, [row.id for row in rows])
            if operation.finished_at is None
        }
        added = []
        for row in rows:
            if reset:
                row.value = row.error = None
                added.append(_operation(row, RESET, now, now))
            elif row.state != READY:
                operation = unfinished.get(row.id) or _operation(row, RESYNC, now, None)
                operation.triggered_by, operation.finished_at = RESYNC, now
                if row.id not in unfinished:
                    added.append(operation)
            if reset or row.state != READY:
                row.state = READY
                row.last_state_change_timestamp = now
        await repository.add_all(added)

    async def operations_by_assignments(
        self, session: AsyncSession, tenant_id: str, assignment_ids: Sequence[str]
    ) -> dict[str, list[AssignmentOperation]]:
        """Batch read for the DataLoaders."""
        grouped: dict[str, list[AssignmentOperation]] = {assignment_id: [] for assignment_id in assignment_ids}
        for operation in await FormationAssignmentRepository(session).operations(tenant_id, assignment_ids):
            grouped[operation.assignment_id].append(operation)
        return grouped


formation_assignment = FormationAssignmentService()
