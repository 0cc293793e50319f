"""A formation's own state (Compass's formation lifecycle), reached by id.

Compass moves a formation from INITIAL or DRAFT to READY through its template's FORMATION_LIFECYCLE webhooks; with
none, finalizing makes it READY and resynchronizing has no notification to resend. pycompass sends no formation
notifications, so those are the states it reaches: finalizing a DRAFT formation and resynchronizing an INITIAL one
make it READY, and then its assignments READY. Assignments are not in any runtime's view, nor is a formation's
state, so these writes invalidate no view.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from director.formation.repository import FormationRepository
from director.formationassignment.service import formation_assignment as assignment_service
from director.formationtemplate.service import formation_template as template_service
from director.models import Formation
from director.polling.invalidation import changes
from kernel.errors import ConflictError, NotFoundError
from kernel.models import utcnow

READY = "READY"
DRAFT = "DRAFT"


class FormationLifecycleService:
    async def get(self, session: AsyncSession, tenant_id: str, formation_id: str) -> Formation:
        return await FormationRepository(session).get_or_raise(tenant_id, formation_id)

    async def find(self, session: AsyncSession, tenant_id: str, formation_id: str) -> Formation | None:
        return await FormationRepository(session).get(tenant_id, formation_id)

    async def _locked(self, session: AsyncSession, tenant_id: str, formation_id: str) -> Formation:
        formation = await FormationRepository(session).lock(tenant_id, formation_id)
        if formation is None:
            raise NotFoundError(f"formation {formation_id} does not exist")
        return formation

    async def finalize_draft(self, session: AsyncSession, tenant_id: str, formation_id: str) -> Formation:
        changes(session).outside_views()
        formation = await self._locked(session, tenant_id, formation_id)
        if formation.state != DRAFT:
            raise ConflictError(f"the formation with ID {formation_id} is not in {DRAFT} state")
        return await self._resynchronized(session, tenant_id, formation, reset=False)

    async def resynchronize(
        self, session: AsyncSession, tenant_id: str, formation_id: str, *, reset: bool = False
    ) -> Formation:
        changes(session).outside_views()
        formation = await self._locked(session, tenant_id, formation_id)
        if formation.state == DRAFT:
            raise ConflictError(f"formations in state {DRAFT} can not be resynchronized")
        if reset:
            template = await template_service.get(session, tenant_id, formation.formation_template_id)
            if not template.supports_reset:
                raise ConflictError(f"formation template {template.name!r} does not support resetting")
        return await self._resynchronized(session, tenant_id, formation, reset=reset)

    async def _resynchronized(
        self, session: AsyncSession, tenant_id: str, formation: Formation, *, reset: bool
    ) -> Formation:
        if formation.state != READY:
            formation.state = READY
            formation.error = None
            formation.last_state_change_timestamp = utcnow()
        await assignment_service.settle(session, tenant_id, formation, reset=reset)
        return formation


formation_lifecycle = FormationLifecycleService()
