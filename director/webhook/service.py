"""Webhooks of applications and runtimes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from director.application import parts
from director.application.repository import ApplicationRepository
from director.bundle.auth import auth_record
from director.models import Webhook
from director.polling.invalidation import changes
from director.runtime.repository import RuntimeRepository
from director.validation import optional_url
from director.webhook.inputs import WebhookInput
from director.webhook.repository import WebhookRepository
from kernel.errors import InvalidInputError


def _apply(webhook: Webhook, data: WebhookInput) -> Webhook:
    webhook.type = data.type.value
    webhook.url = optional_url(data.url, "webhook.url")
    webhook.mode = data.mode.value if data.mode else None
    webhook.auth = auth_record(data.auth, "webhook.auth")
    return webhook


class WebhookService:
    def new(self, tenant_id: str, data: WebhookInput, *, application_id: str | None = None,
            runtime_id: str | None = None) -> Webhook:
        """A webhook registered with its owner; the owner's registration declares the change."""
        return _apply(Webhook(tenant_id=tenant_id, application_id=application_id, runtime_id=runtime_id), data)

    async def add(
        self,
        session: AsyncSession,
        tenant_id: str,
        data: WebhookInput,
        *,
        application_id: str | None,
        runtime_id: str | None,
    ) -> Webhook:
        """A webhook concerns the view of its runtime, or the views sharing a formation with its application."""
        if (application_id is None) == (runtime_id is None):
            raise InvalidInputError("give exactly one of applicationID or runtimeID")
        if application_id is not None:
            await parts.changing(ApplicationRepository(session), tenant_id, application_id)
        if runtime_id is not None:
            await changes(session).runtime(runtime_id)
            await RuntimeRepository(session).get_or_raise(tenant_id, runtime_id)
        return await WebhookRepository(session).add(
            self.new(tenant_id, data, application_id=application_id, runtime_id=runtime_id)
        )

    async def update(self, session: AsyncSession, tenant_id: str, webhook_id: str, data: WebhookInput) -> Webhook:
        """A runtime's webhook belongs to no application: the declaration then counts as the tenant's."""
        repository = WebhookRepository(session)
        return await parts.update(repository, tenant_id, webhook_id, lambda webhook: _apply(webhook, data))

    async def delete(self, session: AsyncSession, tenant_id: str, webhook_id: str) -> Webhook:
        return await parts.delete(WebhookRepository(session), tenant_id, webhook_id)

    async def by_applications(
        self, session: AsyncSession, tenant_id: str, application_ids: Sequence[str]
    ) -> dict[str, list[Webhook]]:
        """Batch read for the DataLoaders."""
        return await WebhookRepository(session).grouped_by(tenant_id, "application_id", application_ids)

    async def by_runtimes(
        self, session: AsyncSession, tenant_id: str, runtime_ids: Sequence[str]
    ) -> dict[str, list[Webhook]]:
        """Batch read for the DataLoaders."""
        return await WebhookRepository(session).grouped_by(tenant_id, "runtime_id", runtime_ids)


webhook = WebhookService()
