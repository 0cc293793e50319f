"""Operations: Compass's asynchronous mode of application lifecycle mutations, and its scheduled operations.

ASYNC in Compass marks the application in progress and leaves the work to its operations controller, which calls
the application's REGISTER_APPLICATION or UNREGISTER_APPLICATION webhook; with no such webhook the controller
finishes the operation at once (created: CREATE_SUCCEEDED; deleted: the application is gone). pycompass has no
operations controller: that webhook-less case is done within the request, and ASYNC with such a webhook is
refused. Compass's scheduled operations (ORD aggregation, system fetching) have no counterpart here: pycompass
runs neither, so none exist.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from director.application.inputs import ApplicationRegisterInput, ApplicationStatusCondition
from director.application.service import application as application_service
from director.models import Application
from director.webhook.inputs import WebhookType
from director.webhook.service import webhook as webhook_service
from kernel.errors import InvalidInputError, NotFoundError


def _refuse(webhook: WebhookType) -> InvalidInputError:
    return InvalidInputError(
        f"mode ASYNC with a {webhook.value} webhook needs Compass's operations controller to call it, and "
        "pycompass runs none: use mode SYNC, or leave the webhook out"
    )


class OperationService:
    def registration(self, data: ApplicationRegisterInput) -> ApplicationRegisterInput:
        """What an ASYNC registerApplication registers: the application as its finished operation leaves it."""
        if any(hook.type is WebhookType.REGISTER_APPLICATION for hook in data.webhooks or ()):
            raise _refuse(WebhookType.REGISTER_APPLICATION)
        return replace(data, status_condition=ApplicationStatusCondition.CREATE_SUCCEEDED)

    async def unregister(
        self, session: AsyncSession, tenant_id: str, application_id: str, *, now: datetime
    ) -> Application:
        """An ASYNC unregisterApplication: as SYNC, unless the application has an UNREGISTER_APPLICATION webhook."""
        hooks = (await webhook_service.by_applications(session, tenant_id, [application_id])).get(application_id, [])
        if any(hook.type == WebhookType.UNREGISTER_APPLICATION.value for hook in hooks):
            raise _refuse(WebhookType.UNREGISTER_APPLICATION)
        return await application_service.unregister(session, tenant_id, application_id, now=now)

    async def get(self, session: AsyncSession, tenant_id: str, operation_id: str) -> None:  # noqa: ARG002 - nothing is stored
        """Compass answers NOT_FOUND for an operation it does not have; here that is every one."""
        raise NotFoundError(f"operation {operation_id} does not exist")


operation = OperationService()
