"""A formation's own state (Compass's formation lifecycle), reached by id.

A formation whose template has a FORMATION_LIFECYCLE webhook is INITIAL when created (DELETING when deleted) and
owes the webhook a createFormation (deleteFormation) notification, which the notifier
(director/formationassignment/notifier.py) sends after the commit; the answer, or the template's report on the
formation status API, makes it READY (deletes it) or CREATE_ERROR (DELETE_ERROR). Finalizing a DRAFT formation and
resynchronizing one that is not READY owe that notification again, as Compass sends it again; without a webhook the
formation becomes READY (is deleted) at once. Once READY, its assignments are notified again or made READY
(director/formationassignment/service.py ``settle``). Assignments are not in any runtime's view, nor is a
formation's state, so these writes invalidate no view.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from director.formation.repository import FormationRepository
from director.formationassignment import outbox
from director.formationassignment.notifications import (
    CREATE_ERROR,
    DELETE_ERROR,
    DELETING,
    INITIAL,
    READY,
    Outcome,
    formation_data,
    tenant_context,
)
from director.formationassignment.service import formation_assignment as assignment_service
from director.formationtemplate.service import formation_template as template_service
from director.models import Formation, Webhook
from director.polling.invalidation import changes
from director.webhook.repository import WebhookRepository
from kernel.errors import ConflictError, InvalidInputError, NotFoundError
from kernel.models import utcnow

DRAFT = "DRAFT"
# Compass's model.FormationOperation values of a formation's own lifecycle.
CREATE_FORMATION = "createFormation"
DELETE_FORMATION = "deleteFormation"


async def lifecycle_webhook(session: AsyncSession, tenant_id: str, template_id: str) -> Webhook | None:
    """The formation template's FORMATION_LIFECYCLE webhook, which Compass notifies of its formations' creation
    and deletion."""
    webhooks = (await WebhookRepository(session).of_formation_templates(tenant_id, [template_id])).get(template_id, [])
    return next((webhook for webhook in webhooks if webhook.type == "FORMATION_LIFECYCLE"), None)


def owe(session: AsyncSession, formation: Formation, operation: str, state: str) -> None:
    """``formation`` waits in ``state`` for its lifecycle notification, sent after the commit."""
    formation.state, formation.last_state_change_timestamp = state, utcnow()
    formation.notification, formation.claim, formation.claimed_until = operation, None, None
    outbox.owe(session)


class FormationLifecycleService:
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
        """Compass's resynchronizeFormation: a formation that is not READY is notified of its creation or
        deletion again (its assignments wait until it is READY); a READY one has its assignments notified again."""
        if formation.state != READY:
            deleting = formation.state in {DELETING, DELETE_ERROR}
            if await lifecycle_webhook(session, tenant_id, formation.formation_template_id) is not None:
                owe(session, formation, DELETE_FORMATION if deleting else CREATE_FORMATION, DELETING if deleting else INITIAL)
                formation.error = None
                return formation
            if deleting:
                # As the notifier does when nobody listens any more: the deletion is done.
                await self._reached(session, formation, True, Outcome(READY))
                return formation
            formation.state, formation.error, formation.last_state_change_timestamp = READY, None, utcnow()
            formation.notification = formation.claim = formation.claimed_until = None
        await assignment_service.settle(session, tenant_id, formation, reset=reset)
        return formation

    async def claim(self, session: AsyncSession, now: datetime, until: datetime, claim: str, limit: int) -> list[Formation]:
        """The notifier's claim on owed lifecycle notifications of any tenant."""
        return await outbox.OutboxRepository(session).claim(Formation, now, until, claim, limit)

    async def notification_of(
        self, session: AsyncSession, formation: Formation
    ) -> tuple[Webhook, dict[str, Any]] | None:
        """The template's webhook and Compass's FormationLifecycleInput, or None when it has no webhook now."""
        webhook = await lifecycle_webhook(session, formation.tenant_id, formation.formation_template_id)
        if webhook is None:
            return None
        _tenant, customer = await tenant_context(session, formation.tenant_id)
        data = {
            "Operation": formation.notification or CREATE_FORMATION,
            "Formation": formation_data(formation),
            "CustomerTenantContext": customer,
        }
        return webhook, data

    async def record(
        self, session: AsyncSession, tenant_id: str, formation_id: str, claim: str, outcome: Outcome
    ) -> None:
        """A lifecycle notification's outcome, unless the formation changed hands meanwhile."""
        formation = await outbox.OutboxRepository(session).lock_claimed(Formation, tenant_id, formation_id, claim)
        if formation is None:
            changes(session).outside_views()
            return
        operation = formation.notification
        formation.notification = formation.claim = formation.claimed_until = None
        formation.last_notification_sent_timestamp = utcnow()
        await self._reached(session, formation, operation == DELETE_FORMATION, outcome)

    async def _reached(self, session: AsyncSession, formation: Formation, deleting: bool, outcome: Outcome) -> None:
        """READY: created (its assignments made meanwhile notified), or deleted; an error state with its error."""
        if deleting and outcome.state == READY:
            await changes(session).tenant()
            await FormationRepository(session).delete(formation)
            return
        changes(session).outside_views()
        if outcome.state is None:
            return
        formation.state, formation.last_state_change_timestamp = outcome.state, utcnow()
        formation.error = json.loads(outcome.error)["error"] if outcome.error else None
        if outcome.state == READY:
            await assignment_service.settle(session, formation.tenant_id, formation, reset=False)

    async def report_status(
        self, session: AsyncSession, tenant_id: str, formation_id: str, state: str, error: str | None
    ) -> None:
        """The formation status API (Compass's UpdateFormationStatus): READY or CREATE_ERROR for a formation being
        created, READY (it is deleted) or DELETE_ERROR for one being deleted."""
        formation = await FormationRepository(session).lock(tenant_id, formation_id)
        if formation is None:
            raise NotFoundError(f"Formation with ID {formation_id!r} was not found")
        deleting = formation.state in {DELETING, DELETE_ERROR}
        if formation.state == DRAFT:
            raise InvalidInputError(f"Formations in state: {DRAFT!r} do not support status updates")
        operation = DELETE_FORMATION if deleting else CREATE_FORMATION
        if state not in ({READY, DELETE_ERROR} if deleting else {READY, CREATE_ERROR}):
            raise InvalidInputError(f"An invalid state: {state!r} is provided for {operation!r} operation")
        if state == READY == formation.state:
            # Already created: settling again would notify its assignments again.
            changes(session).outside_views()
            return
        # The report answers the lifecycle notification: one still owed (or in flight) is not sent, or not recorded.
        formation.notification = formation.claim = formation.claimed_until = None
        message = json.dumps({"error": {"message": error, "errorCode": 2}}) if error else None
        await self._reached(session, formation, deleting, Outcome(state, error=message))


formation_lifecycle = FormationLifecycleService()
