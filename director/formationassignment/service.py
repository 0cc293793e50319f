"""Formation assignments: one per direction between two participants of a formation, and one per participant to
itself, generated as Compass generates them when an object is assigned.

An assignment whose target listens with a webhook (director/formationassignment/notifications.py says which) is
INITIAL when made and DELETING when its object is unassigned, with a notification owed; the others are READY at
once (deleted at once when unassigned). The write only records that (the row is the outbox); the notifier
(director/formationassignment/notifier.py) sends after the commit and records the answer. Assignments made while
the formation is DRAFT or INITIAL stay INITIAL until the formation is finalized or resynchronized. The
``scenarios`` labels remain the truth of who participates: assignments of an object that left a formation some
other way (deleted, or its label rewritten) are not shown, unless they are still being unassigned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from director.application.repository import ApplicationRepository
from director.formation.repository import FormationRepository
from director.formationassignment import outbox
from director.formationassignment.notifications import (
    ASSIGN,
    CLIENT_ERROR,
    CREATE_ERROR,
    CREATE_READY,
    DELETE_ERROR,
    DELETE_READY,
    DELETING,
    ERROR_STATES,
    INITIAL,
    READY,
    REPORTABLE,
    UNASSIGN,
    InputBuilder,
    Outcome,
    error_value,
    may_notify,
    participants_of,
)
from director.formationassignment.repository import FormationAssignmentRepository
from director.label.repository import LabelRepository
from director.models import (
    Application,
    AssignmentOperation,
    Formation,
    FormationAssignment,
    Label,
    Runtime,
    RuntimeContext,
    Webhook,
)
from director.polling.invalidation import changes
from director.runtime.repository import RuntimeRepository
from director.runtimecontext.repository import RuntimeContextRepository
from kernel.errors import InvalidInputError, NotFoundError
from kernel.models import new_id, utcnow

# Compass's OperationTrigger values.
ASSIGN_OBJECT = "ASSIGN_OBJECT"
UNASSIGN_OBJECT = "UNASSIGN_OBJECT"
RESET = "RESET"
RESYNC = "RESYNC"
# Compass's NotificationRecursionDepthLimit: configuration exchanges between the two sides of a pair.
EXCHANGE_LIMIT = 10
# Compass's ResynchronizableFormationAssignmentStates, and the operation each is notified again with.
RESYNCHRONIZABLE = {INITIAL: ASSIGN, CREATE_ERROR: ASSIGN, DELETING: UNASSIGN, DELETE_ERROR: UNASSIGN}


@dataclass(frozen=True)
class StatusReport:
    """A status API body: ``configuration`` as JSON text (None when empty)."""

    state: str | None
    configuration: str | None
    error: str | None


@dataclass(frozen=True)
class InitialConfiguration:
    source_id: str
    target_id: str
    configuration: str


def _owe(session: AsyncSession, row: FormationAssignment, operation: str, exchanges: int = 0) -> None:
    """``row`` is to be notified of ``operation`` after the commit; a notifier holding an older one loses it."""
    row.notification, row.claim, row.claimed_until, row.exchanges = operation, None, None, exchanges
    outbox.owe(session)


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
    for label in await LabelRepository(session).in_formations(tenant_id, names):
        participant = _participant(label)
        if participant is None or not isinstance(label.value, list):
            continue
        for name in label.value:
            if name in names:
                found[name][participant[0]] = participant[1]
    return found


def _operation(
    row: FormationAssignment, trigger: str, started: datetime, finished: datetime | None, kind: str = "ASSIGN"
) -> AssignmentOperation:
    """Compass records an operation (ASSIGN or UNASSIGN) per assignment and trigger, finished once the assignment
    is READY (or gone)."""
    return AssignmentOperation(
        tenant_id=row.tenant_id,
        assignment_id=row.id,
        formation_id=row.formation_id,
        type=kind,
        triggered_by=trigger,
        started_at=started,
        finished_at=finished,
    )


@dataclass(frozen=True)
class Pair:
    """An assignment to make: from ``source`` to ``target`` (the same object for a participant's own)."""

    source: str
    source_type: str
    target: str
    target_type: str


def pairs_joining(object_id: str, object_type: str, others: Mapping[str, str]) -> list[Pair]:
    """What an object joining a formation of ``others`` (id → type) makes: its own, and one each way with every
    other participant (Compass's GenerateAssignments)."""
    pairs = [Pair(object_id, object_type, object_id, object_type)]
    for other_id, other_type in others.items():
        pairs += [
            Pair(object_id, object_type, other_id, other_type),
            Pair(other_id, other_type, object_id, object_type),
        ]
    return pairs


def new_rows(  # noqa: PLR0917 - an assignment's columns
    tenant_id: str,
    formation_id: str,
    pairs: Sequence[Pair],
    states: Mapping[Pair, tuple[str, str | None]],
    values: Mapping[tuple[str, str], str],
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The assignments of ``pairs`` and their ASSIGN_OBJECT operations as column values, to be inserted in bulk:
    each pair's (state, notification owed) from ``states``, READY and nothing owed if absent; an operation is
    finished when its assignment is READY. Every row has the same columns: one statement inserts many."""
    assignments, operations = [], []
    for pair in pairs:
        state, notification = states.get(pair, (READY, None))
        assignment_id = new_id()
        assignments.append(
            {
                "id": assignment_id,
                "tenant_id": tenant_id,
                "formation_id": formation_id,
                "source": pair.source,
                "source_type": pair.source_type,
                "target": pair.target,
                "target_type": pair.target_type,
                "state": state,
                "value": values.get((pair.source, pair.target)),
                "error": None,
                "last_state_change_timestamp": now,
                "last_notification_sent_timestamp": None,
                "created_at": now,
                "notification": notification,
                "claim": None,
                "claimed_until": None,
                "exchanges": 0,
            }
        )
        operations.append(
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "assignment_id": assignment_id,
                "formation_id": formation_id,
                "type": "ASSIGN",
                "triggered_by": ASSIGN_OBJECT,
                "started_at": now,
                "finished_at": now if state == READY else None,
            }
        )
    return assignments, operations


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
        context gets none with its own runtime (Compass's rule, so that the runtime can leave).

        Their number grows with the formation, as in Compass; what is read to make them does not: the
        formation's members alone, and the participants only of assignments a webhook could hear of."""
        values = {(item.source_id, item.target_id): item.configuration for item in configurations}
        others = dict((await participants(session, tenant_id, [formation.name]))[formation.name])
        others.pop(object_id, None)
        if object_type == "RUNTIME_CONTEXT":
            context = await RuntimeContextRepository(session).get_or_raise(tenant_id, object_id)
            others.pop(context.runtime_id, None)
        pairs = pairs_joining(object_id, object_type, others)
        if unknown := [pair for pair in values if pair not in {(item.source, item.target) for item in pairs}]:
            raise InvalidInputError(
                f"initialConfigurations name pairs that are not in the formation: {unknown}"
            )
        repository = FormationAssignmentRepository(session)
        await repository.delete_for_object(tenant_id, formation.id, object_id)
        states: dict[Pair, tuple[str, str | None]]
        if formation.state == READY:
            notifiable = [pair for pair in pairs if may_notify(pair)]
            listening = await participants_of(session, tenant_id, notifiable)
            states = {
                pair: (INITIAL, ASSIGN) for pair in notifiable if listening.webhook_for(pair) is not None
            }
            if states:
                outbox.owe(session)
        else:
            # Made while the formation is DRAFT or INITIAL: INITIAL, nothing owed until it is finalized.
            states = dict.fromkeys(pairs, (INITIAL, None))
        assignments, operations = new_rows(tenant_id, formation.id, pairs, states, values, utcnow())
        await repository.insert_many(FormationAssignment, assignments)
        await repository.insert_many(AssignmentOperation, operations)

    async def remove(self, session: AsyncSession, tenant_id: str, formation: Formation, object_id: str) -> None:
        """Unassigning deletes the object's assignments at once, but those whose target listens: they are
        DELETING until the notification's answer (Compass's CleanupFormationAssignment)."""
        repository = FormationAssignmentRepository(session)
        rows = await repository.for_object(tenant_id, formation.id, object_id)
        listening = await participants_of(session, tenant_id, rows) if formation.state == READY else None
        notified = [row for row in rows if listening is not None and listening.webhook_for(row) is not None]
        await repository.delete_for_object(tenant_id, formation.id, object_id, keep=[row.id for row in notified])
        now = utcnow()
        for row in notified:
            row.state, row.last_state_change_timestamp = DELETING, now
            _owe(session, row, UNASSIGN)
        await repository.add_all([_operation(row, UNASSIGN_OBJECT, now, None, "UNASSIGN") for row in notified])

    async def by_formations(
        self, session: AsyncSession, tenant_id: str, formation_ids: Sequence[str]
    ) -> dict[str, list[FormationAssignment]]:
        """The current assignments of many formations, in three statements whatever their number."""
        formations = await FormationRepository(session).by_ids(tenant_id, formation_ids)
        members = await participants(session, tenant_id, [formation.name for formation in formations.values()])
        grouped: dict[str, list[FormationAssignment]] = {formation_id: [] for formation_id in formation_ids}
        for row in await FormationAssignmentRepository(session).for_formations(tenant_id, list(formations)):
            current = members.get(formations[row.formation_id].name, {})
            if (row.source in current and row.target in current) or row.state in {DELETING, DELETE_ERROR}:
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
        """Resynchronizing (Compass's ResynchronizeFormationNotifications): every assignment in a resynchronizable
        state (all of them on ``reset``, their values and errors cleared) is notified again if its target
        listens; otherwise it becomes READY, or is deleted if it was being unassigned."""
        now = utcnow()
        repository = FormationAssignmentRepository(session)
        rows = (await self.by_formations(session, tenant_id, [formation.id]))[formation.id]
        listening = await participants_of(session, tenant_id, rows)
        unfinished = {
            operation.assignment_id: operation
            for operation in await repository.operations(tenant_id, [row.id for row in rows])
            if operation.finished_at is None
        }
        added = []
        for row in rows:
            operation = RESYNCHRONIZABLE.get(row.state, ASSIGN if reset else None)
            if operation is None:
                continue
            webhook = listening.webhook_for(row)
            if webhook is None and operation == UNASSIGN:
                await repository.delete(row)
                continue
            if reset:
                row.value = row.error = None
            # A reset is a new operation (Compass's RESET); resynchronizing continues the unfinished one.
            record = None if reset else unfinished.get(row.id)
            if record is None:
                kind = "ASSIGN" if operation == ASSIGN else "UNASSIGN"
                record = _operation(row, RESET if reset else RESYNC, now, None, kind)
                added.append(record)
            record.triggered_by = RESET if reset else RESYNC
            row.last_state_change_timestamp = now
            if webhook is not None:
                row.state = INITIAL if operation == ASSIGN else DELETING
                _owe(session, row, operation)
            else:
                row.state, row.notification, record.finished_at = READY, None, now
                if (earlier := unfinished.get(row.id)) is not None:
                    earlier.finished_at = now
        await repository.add_all(added)

    async def operations_by_assignments(
        self, session: AsyncSession, tenant_id: str, assignment_ids: Sequence[str]
    ) -> dict[str, list[AssignmentOperation]]:
        """Batch read for the DataLoaders."""
        grouped: dict[str, list[AssignmentOperation]] = {assignment_id: [] for assignment_id in assignment_ids}
        for operation in await FormationAssignmentRepository(session).operations(tenant_id, assignment_ids):
            grouped[operation.assignment_id].append(operation)
        return grouped

    async def claim(
        self, session: AsyncSession, now: datetime, until: datetime, claim: str, limit: int
    ) -> list[FormationAssignment]:
        """The notifier's claim on owed notifications of any tenant (not a Director write: no view changes)."""
        return await outbox.OutboxRepository(session).claim(FormationAssignment, now, until, claim, limit)

    async def notification_of(
        self, session: AsyncSession, row: FormationAssignment
    ) -> tuple[Webhook, dict[str, Any]] | None:
        """The webhook a claimed assignment is notified with and its templates' input, read now (not when the
        notification was owed, as Compass reads them when it sends); None when nobody listens any more."""
        formation = await FormationRepository(session).get(row.tenant_id, row.formation_id)
        listening = await participants_of(session, row.tenant_id, [row])
        webhook = listening.webhook_for(row)
        if formation is None or webhook is None:
            return None
        reverse = await FormationAssignmentRepository(session).reverse_of(row)
        builder = InputBuilder(session, row.tenant_id, listening)
        return webhook, await builder.build(row.notification or ASSIGN, formation, row, reverse)

    async def record(
        self, session: AsyncSession, tenant_id: str, assignment_id: str, claim: str, outcome: Outcome
    ) -> None:
        """A notification's outcome, unless the assignment was reassigned, reset or re-claimed meanwhile. A
        successful unassignment deletes the assignment; READY finishes its operations."""
        changes(session).outside_views()
        repository = FormationAssignmentRepository(session)
        row = await outbox.OutboxRepository(session).lock_claimed(FormationAssignment, tenant_id, assignment_id, claim)
        if row is None:
            return
        operation = row.notification
        now = utcnow()
        row.notification = row.claim = row.claimed_until = None
        row.last_notification_sent_timestamp = now
        if outcome.state is None:
            return
        if operation == UNASSIGN and outcome.state == READY:
            await repository.delete(row)
            return
        await self.report(session, row, outcome, now)
        if operation == ASSIGN:
            await self._exchange(session, row, outcome)

    async def _exchange(self, session: AsyncSession, row: FormationAssignment, outcome: Outcome) -> None:
        """A configuration a participant gave is news for the other side (Compass's reverse notification): the
        reverse assignment is notified again, unless it is READY or failed, nobody listens for it, or the two
        exchanged configurations ``EXCHANGE_LIMIT`` times already."""
        if outcome.config is None or outcome.state in ERROR_STATES or row.source == row.target:
            return
        reverse = await FormationAssignmentRepository(session).reverse_of(row)
        if reverse is None or reverse.state == READY or reverse.state in ERROR_STATES or row.exchanges >= EXCHANGE_LIMIT:
            return
        if (await participants_of(session, row.tenant_id, [reverse])).webhook_for(reverse) is not None:
            _owe(session, reverse, ASSIGN, row.exchanges + 1)

    async def report(self, session: AsyncSession, row: FormationAssignment, outcome: Outcome, now: datetime) -> None:
        """A state reached (by a notification's answer or the participant's report): its configuration kept, its
        error kept or cleared, its operations finished when READY."""
        if outcome.state is None:
            return
        if outcome.state != row.state:
            row.state, row.last_state_change_timestamp = outcome.state, now
        if outcome.config is not None:
            row.value = outcome.config
        if outcome.state in ERROR_STATES:
            row.error = outcome.error
        elif outcome.state == READY:
            row.error = None
            for operation in await FormationAssignmentRepository(session).operations(row.tenant_id, [row.id]):
                if operation.finished_at is None:
                    operation.finished_at = now
        await session.flush()

    async def reporters(self, session: AsyncSession, tenant_id: str, assignment_id: str) -> set[str] | None:
        """Who may report on an assignment besides an operator (Compass's formation mapping authenticator): its
        target, a target runtime context's runtime, the integration system managing a target application; None
        when the assignment does not exist in the tenant."""
        row = await FormationAssignmentRepository(session).get(tenant_id, assignment_id)
        if row is None:
            return None
        listening = await participants_of(session, tenant_id, [row])
        allowed = {row.target}
        if (runtime_id := listening.runtime_of(row.target)) is not None:
            allowed.add(runtime_id)
        application = listening.applications.get(row.target)
        if application is not None and application.integration_system_id is not None:
            allowed.add(application.integration_system_id)
        return allowed

    async def report_status(
        self,
        session: AsyncSession,
        tenant_id: str,
        formation_id: str,
        assignment_id: str,
        report: StatusReport,
    ) -> None:
        """A participant's report on the status API (Compass's formation mapping handler): READY, CONFIG_PENDING
        or CREATE_ERROR for an assignment being assigned, READY (it is deleted) or DELETE_ERROR for one being
        unassigned. Refusals carry Compass's messages."""
        changes(session).outside_views()
        repository = FormationAssignmentRepository(session)
        row = await repository.lock(tenant_id, assignment_id)
        if row is None or row.formation_id != formation_id:
            raise NotFoundError(f"Formation assignment with ID {assignment_id!r} was not found")
        formation = await FormationRepository(session).get(tenant_id, formation_id)
        if formation is None:
            raise NotFoundError(f"Formation with ID {formation_id!r} was not found")
        if report.state and formation.state != READY:
            raise InvalidInputError(
                f"Cannot update formation assignment for formation with ID {formation_id!r} as formation is not "
                f"in {READY} state"
            )
        operations = await repository.operations(tenant_id, [row.id])
        operation = UNASSIGN if operations and operations[-1].type == "UNASSIGN" else ASSIGN
        state = report.state or row.state
        if report.error and not report.state:
            state = CREATE_ERROR if operation == ASSIGN else DELETE_ERROR
        if state not in REPORTABLE[operation]:
            raise InvalidInputError(f"An invalid state: {state} is provided for {operation} operation")
        now = utcnow()
        if state in {CREATE_READY, DELETE_READY}:
            state = READY
        error = error_value(report.error, CLIENT_ERROR) if report.error else None
        if operation == UNASSIGN and state == READY:
            await repository.delete(row)
            return
        # The report answers the notification: one still owed is not sent, one in flight is not recorded.
        row.notification = row.claim = row.claimed_until = None
        reached = Outcome(state, config=report.configuration, error=error)
        await self.report(session, row, reached, now)
        if operation == ASSIGN:
            await self._exchange(session, row, reached)


formation_assignment = FormationAssignmentService()
