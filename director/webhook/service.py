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
from director.validation import optional_text, optional_url
from director.webhook.inputs import WebhookInput, WebhookMode, WebhookType
from director.webhook.repository import WebhookRepository
from director.webhook.templates import TemplateError, check_template
from kernel.errors import InvalidInputError

# Compass's limit on a webhook's url and correlation id key.
MAX_WEBHOOK_STRING = 256
# Compass stores templates as text; the tenant-mapping ones run to a few kilobytes.
MAX_TEMPLATE_LENGTH = 65_536
# The types Compass has a request object for: only their url, input and header templates can be rendered.
_TEMPLATED_TYPES = frozenset(
    {
        WebhookType.REGISTER_APPLICATION,
        WebhookType.UNREGISTER_APPLICATION,
        WebhookType.CONFIGURATION_CHANGED,
        WebhookType.APPLICATION_TENANT_MAPPING,
        WebhookType.FORMATION_LIFECYCLE,
    }
)
# Formation notifications may be answered by a callback; other webhooks may not.
_CALLBACK_TYPES = frozenset(
    {WebhookType.CONFIGURATION_CHANGED, WebhookType.APPLICATION_TENANT_MAPPING, WebhookType.FORMATION_LIFECYCLE}
)
_OUTPUT_REQUIRED = frozenset({WebhookType.REGISTER_APPLICATION, WebhookType.UNREGISTER_APPLICATION})


def _template(value: str | None, field: str, *, renderable: bool = True, webhook_type: WebhookType) -> str | None:
    if value is None:
        return None
    optional_text(value, f"webhook.{field}", max_length=MAX_TEMPLATE_LENGTH)
    if not renderable:
        raise InvalidInputError(f"webhook.{field}: missing template input for type {webhook_type.value}")
    try:
        check_template(value)
    except TemplateError as error:
        raise InvalidInputError(f"webhook.{field} does not parse as a Go template: {error}") from None
    return value


def _non_negative(value: int | None, field: str) -> int | None:
    if value is not None and value < 0:
        raise InvalidInputError(f"webhook.{field} must be 0 or more")
    return value


def _mode(data: WebhookInput) -> str | None:
    if data.mode is None:
        return None
    if data.type in _CALLBACK_TYPES and data.mode is WebhookMode.ASYNC:
        raise InvalidInputError(f"webhook.mode must be SYNC or ASYNC_CALLBACK for type {data.type.value}")
    if data.type not in _CALLBACK_TYPES and data.mode is WebhookMode.ASYNC_CALLBACK:
        raise InvalidInputError(f"webhook.mode ASYNC_CALLBACK is only for formation webhooks, not {data.type.value}")
    return data.mode.value


def _apply(webhook: Webhook, data: WebhookInput) -> Webhook:
    """Compass's WebhookInput rules, in its order; templates are checked as Go templates (director.webhook.templates)."""
    if data.url is not None and len(data.url) > MAX_WEBHOOK_STRING:
        raise InvalidInputError(f"webhook.url must be at most {MAX_WEBHOOK_STRING} characters")
    webhook.type = data.type.value
    webhook.url = optional_url(data.url, "webhook.url")
    webhook.correlation_id_key = optional_text(
        data.correlation_id_key, "webhook.correlationIdKey", max_length=MAX_WEBHOOK_STRING
    )
    webhook.mode = _mode(data)
    webhook.retry_interval = _non_negative(data.retry_interval, "retryInterval")
    webhook.timeout = _non_negative(data.timeout, "timeout")
    webhook.auth = auth_record(data.auth, "webhook.auth")
    if data.url is None and data.url_template is None:
        raise InvalidInputError("webhook needs a url or a urlTemplate")
    if data.url is not None and data.url_template is not None:
        raise InvalidInputError("give either webhook.url or webhook.urlTemplate, not both")
    renderable = data.type in _TEMPLATED_TYPES
    webhook.url_template = _template(data.url_template, "urlTemplate", renderable=renderable, webhook_type=data.type)
    webhook.input_template = _template(
        data.input_template, "inputTemplate", renderable=renderable, webhook_type=data.type
    )
    webhook.header_template = _template(
        data.header_template, "headerTemplate", renderable=renderable, webhook_type=data.type
    )
    if data.output_template is None and data.type in _OUTPUT_REQUIRED:
        raise InvalidInputError(f"webhook.outputTemplate is required for type {data.type.value}")
    webhook.output_template = _template(data.output_template, "outputTemplate", webhook_type=data.type)
    if data.mode is WebhookMode.ASYNC and data.status_template is None:
        raise InvalidInputError("webhook.statusTemplate is required for mode ASYNC")
    # Compass parses a status template only for an ASYNC webhook; otherwise it is kept as given.
    webhook.status_template = (
        _template(data.status_template, "statusTemplate", webhook_type=data.type)
        if data.mode is WebhookMode.ASYNC
        else optional_text(data.status_template, "webhook.statusTemplate", max_length=MAX_TEMPLATE_LENGTH)
    )
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

    async def update(
        self, session: AsyncSession, tenant_id: str, webhook_id: str, data: WebhookInput, *, templates: bool = False
    ) -> Webhook:
        """A runtime's webhook belongs to no application: the declaration then counts as the tenant's.
        ``templates``: the caller may change application templates' (global) webhooks too."""
        repository = WebhookRepository(session)
        if templates and (found := await repository.of_an_application_template(webhook_id)) is not None:
            changes(session).outside_views()
            _apply(found, data)
            await session.flush()
            return found
        return await parts.update(repository, tenant_id, webhook_id, lambda webhook: _apply(webhook, data))

    async def delete(self, session: AsyncSession, tenant_id: str, webhook_id: str, *, templates: bool = False) -> Webhook:
        """``templates``: the caller may delete application templates' (global) webhooks too."""
        repository = WebhookRepository(session)
        if templates and (found := await repository.of_an_application_template(webhook_id)) is not None:
            changes(session).outside_views()
            await repository.delete(found)
            return found
        return await parts.delete(repository, tenant_id, webhook_id)

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

    async def by_application_templates(
        self, session: AsyncSession, _tenant_id: str, template_ids: Sequence[str]
    ) -> dict[str, list[Webhook]]:
        """Batch read for the DataLoaders."""
        return await WebhookRepository(session).of_application_templates(template_ids)

    async def replace_for_application_template(
        self, session: AsyncSession, template_id: str, webhooks: Sequence[WebhookInput]
    ) -> None:
        """A template's webhooks, global like it; the template's service declares the change."""
        await WebhookRepository(session).delete_of_application_template(template_id)
        for data in webhooks:
            session.add(_apply(Webhook(tenant_id=None, application_template_id=template_id), data))
        await session.flush()

    async def add_to_application_template(
        self, session: AsyncSession, template_id: str, data: WebhookInput
    ) -> Webhook:
        """One more webhook of a template (which the caller found); the template's service declares the change."""
        return await WebhookRepository(session).add(
            _apply(Webhook(tenant_id=None, application_template_id=template_id), data)
        )

    async def by_formation_templates(
        self, session: AsyncSession, tenant_id: str, template_ids: Sequence[str]
    ) -> dict[str, list[Webhook]]:
        """Batch read for the DataLoaders."""
        return await WebhookRepository(session).of_formation_templates(tenant_id, template_ids)

    async def add_to_formation_template(
        self, session: AsyncSession, tenant_id: str, template_id: str, data: WebhookInput
    ) -> Webhook:
        """A webhook of a formation template the caller's tenant owns (the template's service checked it and
        declares the change)."""
        return await WebhookRepository(session).add(
            _apply(Webhook(tenant_id=tenant_id, formation_template_id=template_id), data)
        )

    async def delete_of_formation_template(self, session: AsyncSession, tenant_id: str, template_id: str) -> None:
        await WebhookRepository(session).delete_of_formation_template(tenant_id, template_id)


webhook = WebhookService()
