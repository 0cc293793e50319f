"""Formations group applications, runtimes and runtime contexts; each one's ``scenarios`` label is the truth."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from director.application.repository import ApplicationRepository
from director.formation.inputs import FormationInput, FormationObjectType
from director.formation.lifecycle import (
    CREATE_FORMATION,
    DELETE_FORMATION,
    DELETING,
    DRAFT,
    INITIAL,
    lifecycle_webhook,
)
from director.formation.lifecycle import owe as owe_lifecycle
from director.formation.repository import FormationRepository
from director.formation.rules import ObjectOperation, enforce_lifecycle
from director.formationassignment.service import InitialConfiguration
from director.formationassignment.service import formation_assignment as assignment_service
from director.formationconstraint.inputs import ConstraintType, TargetOperation
from director.formationtemplate.service import formation_template as template_service
from director.label.repository import LabelledKind, LabelRepository
from director.label.service import label as label_service
from director.models import SCENARIOS, Application, Formation
from director.models.formation import DEFAULT_TEMPLATE_NAME
from director.pagination import Page, PageRequest
from director.polling.invalidation import changes
from director.runtime.repository import RuntimeRepository
from director.runtimecontext.repository import RuntimeContextRepository
from kernel.errors import ConflictError, InvalidInputError, NotFoundError
from kernel.models import utcnow

DEFAULT_FORMATION = "DEFAULT"
NAME_PATTERN = "^[A-Za-z0-9]([-_A-Za-z0-9 ]{0,254}[A-Za-z0-9])?$"
_NAME = re.compile(NAME_PATTERN)
# The states a caller may create a formation in (Compass's FormationInput.state; DRAFT holds it until finalized).
INITIAL_STATES = ("INITIAL", "DRAFT")


async def _declare(
    session: AsyncSession, tenant_id: str, object_type: FormationObjectType, object_id: str, joining: Sequence[str]
) -> None:
    """An assignment changes the runtime's own view (a runtime context's: its runtime's, which lists the context's
    labels), or the views sharing a formation with the application (which may be the one it is ``joining``). A
    whole tenant is refused before anything is written."""
    if object_type is FormationObjectType.RUNTIME:
        await changes(session).runtime(object_id, formations=True)
    elif object_type is FormationObjectType.RUNTIME_CONTEXT:
        # A context's runtime never changes: reading it before the declaration is safe.
        context = await RuntimeContextRepository(session).get_or_raise(tenant_id, object_id)
        await changes(session).runtime(context.runtime_id, formations=True)
    elif object_type is FormationObjectType.APPLICATION:
        await changes(session).application(Application, object_id, joining=joining)


class FormationService:
    async def ensure_default(self, session: AsyncSession, tenant_id: str) -> None:
        """Part of a new tenant's creation: no view of the tenant exists yet, so nothing is declared."""
        repository = FormationRepository(session)
        if await repository.get_by_name(tenant_id, DEFAULT_FORMATION) is None:
            await repository.add(Formation(tenant_id=tenant_id, name=DEFAULT_FORMATION))

    async def get(
        self, session: AsyncSession, tenant_id: str, name: str, *, lock: Literal["share", "update"] | None = None
    ) -> Formation:
        formation = await FormationRepository(session).get_by_name(tenant_id, name, lock=lock)
        if formation is None:
            raise NotFoundError(f"formation {name!r} does not exist")
        return formation

    async def find(self, session: AsyncSession, tenant_id: str, name: str) -> Formation | None:
        return await FormationRepository(session).get_by_name(tenant_id, name)

    async def create(self, session: AsyncSession, tenant_id: str, data: FormationInput) -> Formation:
        await changes(session).tenant()
        if not _NAME.match(data.name):
            raise InvalidInputError(
                "formation name must be 1 to 256 letters, digits, spaces, - or _, starting and ending alphanumeric"
            )
        if data.state is not None and data.state not in INITIAL_STATES:
            raise InvalidInputError(f"state must be one of {', '.join(INITIAL_STATES)}, got {data.state!r}")
        repository = FormationRepository(session)
        if await repository.get_by_name(tenant_id, data.name) is not None:
            raise ConflictError(f"formation {data.name!r} already exists")
        template = await template_service.by_name(session, tenant_id, data.template_name or DEFAULT_TEMPLATE_NAME)
        operation = TargetOperation.CREATE_FORMATION
        await enforce_lifecycle(session, tenant_id, operation, ConstraintType.PRE, template, data.name)
        formation = Formation(
            tenant_id=tenant_id,
            name=data.name,
            template_name=data.template_name,
            formation_template_id=template.id,
            state=data.state or "READY",
            last_state_change_timestamp=utcnow(),
        )
        if data.state != DRAFT and await lifecycle_webhook(session, tenant_id, template.id) is not None:
            owe_lifecycle(session, formation, CREATE_FORMATION, INITIAL)
        created = await repository.add(formation)
        await enforce_lifecycle(session, tenant_id, operation, ConstraintType.POST, template, data.name)
        return created

    async def delete(self, session: AsyncSession, tenant_id: str, name: str) -> Formation:
        await changes(session).tenant()
        if name == DEFAULT_FORMATION:
            raise InvalidInputError("the DEFAULT formation cannot be deleted")
        # Assignments share-lock the formation row, so none is in flight while the labels are checked.
        formation = await self.get(session, tenant_id, name, lock="update")
        labels = LabelRepository(session)
        in_use = [label for label in await labels.with_key(tenant_id, SCENARIOS) if name in (label.value or [])]
        if in_use:
            raise ConflictError(f"formation {name!r} still has {len(in_use)} object(s) assigned; unassign them first")
        template = await template_service.get(session, tenant_id, formation.formation_template_id)
        operation = TargetOperation.DELETE_FORMATION
        await enforce_lifecycle(session, tenant_id, operation, ConstraintType.PRE, template, name)
        if formation.state != DRAFT and await lifecycle_webhook(session, tenant_id, template.id) is not None:
            # Deleted once the template's webhook answers (director/formationassignment/notifier.py).
            owe_lifecycle(session, formation, DELETE_FORMATION, DELETING)
            return formation
        await FormationRepository(session).delete(formation)
        await enforce_lifecycle(session, tenant_id, operation, ConstraintType.POST, template, name)
        return formation

    async def _owner(
        self, session: AsyncSession, tenant_id: str, object_type: FormationObjectType, object_id: str
    ) -> LabelledKind:
        """Checks the object exists and locks it: its scenarios label is read, changed and written back."""
        if object_type is FormationObjectType.APPLICATION:
            if await ApplicationRepository(session).lock(tenant_id, object_id) is None:
                raise NotFoundError(f"application {object_id} does not exist")
            return LabelledKind.APPLICATION
        if object_type is FormationObjectType.RUNTIME:
            if await RuntimeRepository(session).lock(tenant_id, object_id) is None:
                raise NotFoundError(f"runtime {object_id} does not exist")
            return LabelledKind.RUNTIME
        if object_type is FormationObjectType.RUNTIME_CONTEXT:
            if await RuntimeContextRepository(session).lock(tenant_id, object_id) is None:
                raise NotFoundError(f"runtime context {object_id} does not exist")
            return LabelledKind.RUNTIME_CONTEXT
        raise InvalidInputError("assigning a whole tenant to a formation is not supported; assign its objects")

    async def scenarios_of(self, session: AsyncSession, tenant_id: str, kind: LabelledKind, object_id: str) -> list[str]:
        existing = await LabelRepository(session).get(tenant_id, kind, object_id, SCENARIOS)
        return list(existing.value) if existing is not None and isinstance(existing.value, list) else []

    async def assign(  # noqa: PLR0917 - Compass's assignFormation arguments
        self,
        session: AsyncSession,
        tenant_id: str,
        object_type: FormationObjectType,
        object_id: str,
        name: str,
        configurations: Sequence[InitialConfiguration] = (),
    ) -> Formation:
        await _declare(session, tenant_id, object_type, object_id, joining=(name,))
        owner = await self._owner(session, tenant_id, object_type, object_id)
        formation = await self.get(session, tenant_id, name, lock="share")
        operation = ObjectOperation(TargetOperation.ASSIGN_FORMATION, formation, object_type, object_id)
        await operation.before(session, tenant_id)
        scenarios = await self.scenarios_of(session, tenant_id, owner, object_id)
        if name not in scenarios:
            await label_service.set(session, tenant_id, owner, object_id, SCENARIOS, [*scenarios, name])
            await assignment_service.generate(
                session, tenant_id, formation, object_type.value, object_id, configurations
            )
        await operation.after(session, tenant_id)
        return formation

    async def unassign(
        self, session: AsyncSession, tenant_id: str, object_type: FormationObjectType, object_id: str, name: str
    ) -> Formation:
        await _declare(session, tenant_id, object_type, object_id, joining=())
        owner = await self._owner(session, tenant_id, object_type, object_id)
        formation = await self.get(session, tenant_id, name, lock="share")
        operation = ObjectOperation(TargetOperation.UNASSIGN_FORMATION, formation, object_type, object_id)
        await operation.before(session, tenant_id)
        scenarios = await self.scenarios_of(session, tenant_id, owner, object_id)
        if name in scenarios:
            remaining = [scenario for scenario in scenarios if scenario != name]
            await label_service.set(session, tenant_id, owner, object_id, SCENARIOS, remaining)
        await assignment_service.remove(session, tenant_id, formation, object_id)
        await operation.after(session, tenant_id)
        return formation

    async def unassign_by_id(
        self, session: AsyncSession, tenant_id: str, object_type: FormationObjectType, object_id: str, formation_id: str
    ) -> Formation:
        """Compass's unassignFormationGlobal names the formation by id; here within the caller's tenant."""
        formation = await FormationRepository(session).get_or_raise(tenant_id, formation_id)
        return await self.unassign(session, tenant_id, object_type, object_id, formation.name)

    async def for_object(self, session: AsyncSession, tenant_id: str, object_id: str) -> list[Formation]:
        names: list[str] = []
        for kind in LabelledKind:
            names += await self.scenarios_of(session, tenant_id, kind, object_id)
        return await FormationRepository(session).by_names(tenant_id, names) if names else []

    async def page(self, session: AsyncSession, tenant_id: str, request: PageRequest) -> Page[Formation]:
        repository = FormationRepository(session)
        rows, total = await repository.page(repository.select(tenant_id), limit=request.limit, offset=request.offset)
        return Page(rows, total, request.offset)


formation = FormationService()
