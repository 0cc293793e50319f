from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director import models
from director.graphql.application.types import After, Application, First
from director.graphql.enums import (
    AssignmentOperationType,
    FormationAssignmentType,
    FormationStatusCondition,
    OperationTrigger,
)
from director.graphql.pagination import Page
from director.graphql.permissions import require_scope
from director.graphql.runtime.types import Runtime
from director.graphql.runtimecontext.types import RuntimeContext
from director.graphql.scalars import Timestamp, maybe
from director.pagination import PageRequest
from kernel.principal import Scope

FormationParticipant = Annotated[
    Application | Runtime | RuntimeContext,
    strawberry.union("FormationParticipant", description="What a formation assignment connects."),
]
# Assignment states Compass counts as still under way (any other but READY and the error states).
_IN_PROGRESS = frozenset({"INITIAL", "CONFIG_PENDING", "DELETING"})
_ERROR = frozenset({"CREATE_ERROR", "DELETE_ERROR"})


@strawberry.type(description="A formation's error from its lifecycle notifications; empty when there is none.")
class FormationError:
    message: str
    error_code: int


@strawberry.type(description="An error of a formation or one of its assignments.")
class FormationStatusError:
    assignment_id: strawberry.ID | None = strawberry.field(name="assignmentID")
    message: str
    error_code: int


@strawberry.type(description="A formation's state aggregated with its assignments' states.")
class FormationStatus:
    condition: FormationStatusCondition
    errors: list[FormationStatusError] | None


async def _participant(info: Info, object_id: str) -> FormationParticipant | None:
    row = await info.context.loaders.participant_by_id.load(object_id)
    if isinstance(row, models.Application):
        return Application.of(row)
    if isinstance(row, models.Runtime):
        return Runtime.of(row)
    if isinstance(row, models.RuntimeContext):
        return RuntimeContext.of(row)
    return None


@strawberry.type(description="One operation on a formation assignment: what started it, and when it finished.")
class AssignmentOperation:
    id: strawberry.ID
    operation_type: AssignmentOperationType
    formation_assignment_id: strawberry.ID = strawberry.field(name="formationAssignmentID")
    formation_id: strawberry.ID = strawberry.field(name="formationID")
    triggered_by: OperationTrigger
    started_at_timestamp: Timestamp | None
    finished_at_timestamp: Timestamp | None

    @classmethod
    def of(cls, model: models.AssignmentOperation) -> AssignmentOperation:
        return cls(
            id=strawberry.ID(model.id),
            operation_type=AssignmentOperationType(model.type),
            formation_assignment_id=strawberry.ID(model.assignment_id),
            formation_id=strawberry.ID(model.formation_id),
            triggered_by=OperationTrigger(model.triggered_by),
            started_at_timestamp=maybe(Timestamp, model.started_at),
            finished_at_timestamp=maybe(Timestamp, model.finished_at),
        )


@strawberry.type(description="A page of assignment operations.")
class AssignmentOperationPage(Page[AssignmentOperation]):
    pass


@strawberry.type(description="One direction between two participants of a formation, or a participant to itself.")
class FormationAssignment:
    id: strawberry.ID
    source: strawberry.ID
    source_type: FormationAssignmentType
    target: strawberry.ID
    target_type: FormationAssignmentType
    state: str
    value: str | None
    configuration: str | None
    error: str | None
    last_state_change_timestamp: Timestamp | None
    last_notification_sent_timestamp: Timestamp | None

    @classmethod
    def of(cls, model: models.FormationAssignment) -> FormationAssignment:
        return cls(
            id=strawberry.ID(model.id),
            source=strawberry.ID(model.source),
            source_type=FormationAssignmentType(model.source_type),
            target=strawberry.ID(model.target),
            target_type=FormationAssignmentType(model.target_type),
            state=model.state,
            value=model.value,
            configuration=model.value,
            error=model.error,
            last_state_change_timestamp=maybe(Timestamp, model.last_state_change_timestamp),
            last_notification_sent_timestamp=maybe(Timestamp, model.last_notification_sent_timestamp),
        )

    @strawberry.field(description="The source application, runtime or runtime context.")
    async def source_entity(self, info: Info) -> FormationParticipant | None:
        return await _participant(info, self.source)

    @strawberry.field(description="The target application, runtime or runtime context.")
    async def target_entity(self, info: Info) -> FormationParticipant | None:
        return await _participant(info, self.target)

    @strawberry.field(description="The assignment's operations, oldest first.")
    async def assignment_operations(
        self, info: Info, first: First = 200, after: After = None
    ) -> AssignmentOperationPage | None:
        rows = await info.context.loaders.operations_by_assignment.load(self.id)
        return AssignmentOperationPage.slice(rows, PageRequest.of(first, after), AssignmentOperation.of)


@strawberry.type(description="A page of formation assignments.")
class FormationAssignmentPage(Page[FormationAssignment]):
    pass


@strawberry.type(description="A group of applications and runtimes; runtimes see the applications of their formations.")
class Formation:
    id: strawberry.ID
    name: str
    formation_template_id: strawberry.ID
    state: str = strawberry.field(description="Formation lifecycle notifications state.")
    error: FormationError | None = strawberry.field(description="Formation lifecycle notifications error.")
    last_state_change_timestamp: Timestamp | None
    last_notification_sent_timestamp: Timestamp | None
    tenant: strawberry.Private[str]

    @classmethod
    def of(cls, model: models.Formation) -> Formation:
        error = model.error or {}
        return cls(
            id=strawberry.ID(model.id),
            name=model.name,
            formation_template_id=strawberry.ID(model.formation_template_id),
            state=model.state,
            error=FormationError(message=error.get("message", ""), error_code=error.get("errorCode", 0)),
            last_state_change_timestamp=maybe(Timestamp, model.last_state_change_timestamp),
            last_notification_sent_timestamp=maybe(Timestamp, model.last_notification_sent_timestamp),
            tenant=model.tenant_id,
        )

    @strawberry.field(name="tenantID", description="The formation's tenant; needs formation:global_read.")
    def tenant_id(self, info: Info) -> strawberry.ID:
        require_scope(info, Scope.FORMATION_GLOBAL_READ)
        return strawberry.ID(self.tenant)

    @strawberry.field(description="One of the formation's assignments, or null.")
    async def formation_assignment(self, info: Info, id: strawberry.ID) -> FormationAssignment | None:
        rows = await info.context.loaders.assignments_by_formation.load(self.id)
        return next((FormationAssignment.of(row) for row in rows if row.id == id), None)

    @strawberry.field(description="The formation's assignments.")
    async def formation_assignments(
        self, info: Info, first: First = 200, after: After = None
    ) -> FormationAssignmentPage | None:
        rows = await info.context.loaders.assignments_by_formation.load(self.id)
        return FormationAssignmentPage.slice(rows, PageRequest.of(first, after), FormationAssignment.of)

    @strawberry.field(description="Aggregated formation status: its state and its assignments' states.")
    async def status(self, info: Info) -> FormationStatus:
        """Compass's status: DRAFT stands alone; an assignment in error makes it ERROR, one under way
        IN_PROGRESS."""
        if self.state == "DRAFT":
            return FormationStatus(condition=FormationStatusCondition.DRAFT, errors=None)
        errors: list[FormationStatusError] = []
        condition = FormationStatusCondition.READY
        if self.state in {"INITIAL", "DELETING"}:
            condition = FormationStatusCondition.IN_PROGRESS
        elif self.state in _ERROR and self.error is not None:
            condition = FormationStatusCondition.ERROR
            errors.append(FormationStatusError(assignment_id=None, message=self.error.message, error_code=self.error.error_code))
        for row in await info.context.loaders.assignments_by_formation.load(self.id):
            if row.state in _ERROR:
                condition = FormationStatusCondition.ERROR
                errors.append(FormationStatusError(assignment_id=strawberry.ID(row.id), message=row.error or "", error_code=0))
            elif condition is not FormationStatusCondition.ERROR and row.state in _IN_PROGRESS:
                condition = FormationStatusCondition.IN_PROGRESS
        return FormationStatus(condition=condition, errors=errors or None)


@strawberry.type(description="A page of formations.")
class FormationPage(Page[Formation]):
    pass
