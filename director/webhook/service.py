"""Webhooks of applications and runtimes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from director.application.repository import ApplicationRepository
from director.bundle.auth import auth_record
from director.graphql.inputs import WebhookInput
from director.models import Webhook
from director.runtime.repository import RuntimeRepository
from director.validation import optional_url
from director.webhook.repository import WebhookRepository
from kernel.errors import InvalidInputError, NotFoundError


def _apply(webhook: Webhook, data: WebhookInput) -> Webhook:
    webhook.type = data.type.value
    webhook.url = optional_url(data.url, "webhook.url")
    webhook.mode = data.mode.value if data.mode else None
    webhook.auth = auth_record(data.auth, "webhook.auth")
    return webhook


class WebhookService:
    def new(self, tenant_id: str, data: WebhookInput, *, application_id: str | None = None,
            runtime_id: str | None = None) -> Webhook:
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
        if (application_id is None) == (runtime_id is None):
            raise InvalidInputError("give exactly one of applicationID or runtimeID")
        if application_id is not None and await ApplicationRepository(session).get(tenant_id, application_id) is None:
            raise NotFoundError(f"application {application_id} does not exist")
        if runtime_id is not None and await RuntimeRepository(session).get(tenant_id, runtime_id) is None:
            raise NotFoundError(f"runtime {runtime_id} does not exist")
        return await WebhookRepository(session).add(
            self.new(tenant_id, data, application_id=application_id, runtime_id=runtime_id)
        )

    async def get(self, session: AsyncSession, tenant_id: str, webhook_id: str) -> Webhook:
        webhook = await WebhookRepository(session).get(tenant_id, webhook_id)
        if webhook is None:
            raise NotFoundError(f"webhook {webhook_id} does not exist")
        return webhook

    async def update(self, session: AsyncSession, tenant_id: str, webhook_id: str, data: WebhookInput) -> Webhook:
        webhook = _apply(await self.get(session, tenant_id, webhook_id), data)
        await session.flush()
        return webhook

    async def delete(self, session: AsyncSession, tenant_id: str, webhook_id: str) -> Webhook:
        webhook = await self.get(session, tenant_id, webhook_id)
        await WebhookRepository(session).delete(webhook)
        return webhook


webhook = WebhookService()
