"""Formation templates (Compass's formation types): which application and runtime types a formation admits.

Templates created through the API belong to the caller's tenant, as Compass makes them for a caller with a tenant;
global templates (no tenant) come from migrations, and every tenant reads but none changes them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from director.formationtemplate.inputs import FormationTemplateRegisterInput, FormationTemplateUpdateInput
from director.formationtemplate.repository import FormationTemplateRepository
from director.label.filters import LabelCondition, parse_label_filter
from director.label.inputs import LabelFilter
from director.models import FormationTemplate, Webhook
from director.pagination import Page, PageRequest
from director.polling.invalidation import changes
from director.validation import list_size
from director.webhook.inputs import WebhookInput
from director.webhook.service import webhook as webhook_service
from kernel.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from kernel.models import utcnow

# Compass's limits: longStringLengthLimit for names and types, longLongStringLengthLimit for the display name.
NAME_LIMIT = 256
DISPLAY_NAME_LIMIT = 512
_LABEL_KEY = re.compile(r"^[a-zA-Z0-9_]{1,256}$")


def _strings(values: Sequence[str] | None, field: str) -> list[str] | None:
    if values is None:
        return None
    for value in list_size(values, field):
        if not value or len(value) > NAME_LIMIT or "\x00" in value:
            raise InvalidInputError(f"each of {field} must be 1 to {NAME_LIMIT} characters")
    return list(values)


def _validated(data: FormationTemplateUpdateInput) -> dict[str, Any]:
    """Compass's FormationTemplate*Input.Validate: the runtime fields come all together or not at all, and
    discovery consumers are among the template's application and runtime types."""
    if not data.name or len(data.name) > NAME_LIMIT or "\x00" in data.name:
        raise InvalidInputError(f"name must be 1 to {NAME_LIMIT} characters")
    if not data.application_types:
        raise InvalidInputError("applicationTypes must name at least one application type")
    application_types = _strings(data.application_types, "applicationTypes") or []
    runtime_types = _strings(data.runtime_types, "runtimeTypes")
    display_name = data.runtime_type_display_name
    if display_name is not None and not 0 < len(display_name) <= DISPLAY_NAME_LIMIT:
        raise InvalidInputError(f"runtimeTypeDisplayName must be 1 to {DISPLAY_NAME_LIMIT} characters")
    present = (data.runtime_artifact_kind is not None, display_name is not None, bool(runtime_types))
    if any(present) and not all(present):
        raise InvalidInputError(
            "runtimeTypes, runtimeTypeDisplayName and runtimeArtifactKind must be given all together or not at all"
        )
    consumers = _strings(data.discovery_consumers, "discoveryConsumers")
    known = {*application_types, *(runtime_types or [])}
    if consumers and (unknown := [consumer for consumer in consumers if consumer not in known]):
        raise InvalidInputError(f"discoveryConsumers must be among applicationTypes and runtimeTypes, not {unknown}")
    return {
        "name": data.name,
        "application_types": application_types,
        "runtime_types": runtime_types,
        "runtime_type_display_name": display_name,
        "runtime_artifact_kind": data.runtime_artifact_kind.value if data.runtime_artifact_kind else None,
        "leading_product_ids": _strings(data.leading_product_ids, "leadingProductIDs"),
        "supports_reset": bool(data.supports_reset),
        "discovery_consumers": consumers,
    }


def validate_label_key(key: str) -> None:
    if not _LABEL_KEY.match(key):
        raise InvalidInputError(f"label key {key!r} must be 1 to 256 letters, digits or underscores")


def _matches(labels: dict[str, Any], condition: LabelCondition) -> bool:
    if condition.key not in labels:
        return False
    value = labels[condition.key]
    if condition.any_of is not None:
        return isinstance(value, list) and any(item in value for item in condition.any_of)
    return not condition.has_equals or value == condition.equals


class FormationTemplateService:
    async def get(self, session: AsyncSession, tenant_id: str, template_id: str) -> FormationTemplate:
        template = await FormationTemplateRepository(session).get(tenant_id, template_id)
        if template is None:
            raise NotFoundError(f"formation template {template_id} does not exist")
        return template

    async def find(self, session: AsyncSession, tenant_id: str, template_id: str) -> FormationTemplate | None:
        return await FormationTemplateRepository(session).get(tenant_id, template_id)

    async def by_name(self, session: AsyncSession, tenant_id: str, name: str) -> FormationTemplate:
        """The tenant's own template of that name, else the global one (Compass's GetByNameAndTenant)."""
        found = await FormationTemplateRepository(session).by_name(tenant_id, name)
        if not found:
            raise NotFoundError(f"formation template {name!r} does not exist")
        return found[0]

    async def by_ids(self, session: AsyncSession, tenant_id: str, ids: Sequence[str]) -> dict[str, FormationTemplate]:
        return await FormationTemplateRepository(session).by_ids(tenant_id, ids)

    async def page(
        self,
        session: AsyncSession,
        tenant_id: str,
        filters: Sequence[LabelFilter],
        name: str | None,
        request: PageRequest,
    ) -> Page[FormationTemplate]:
        """Templates are few (the global ones and the tenant's): loaded in one statement, filtered here."""
        conditions = [parse_label_filter(item.key, item.query) for item in list_size(filters, "filter")]
        rows = await FormationTemplateRepository(session).listed(tenant_id, name)
        matching = [row for row in rows if all(_matches(row.labels, condition) for condition in conditions)]
        return Page.slice(matching, request)

    async def create(
        self, session: AsyncSession, tenant_id: str, data: FormationTemplateRegisterInput
    ) -> FormationTemplate:
        changes(session).outside_views()
        fields = _validated(data)
        labels = dict(data.labels or {})
        for key in labels:
            validate_label_key(key)
        webhooks = list_size(data.webhooks, "webhooks")
        repository = FormationTemplateRepository(session)
        if any(row.tenant_id == tenant_id for row in await repository.by_name(tenant_id, data.name)):
            raise ConflictError(f"formation template {data.name!r} already exists")
        template = await repository.add(FormationTemplate(tenant_id=tenant_id, labels=labels, **fields))
        for webhook in webhooks:
            await webhook_service.add_to_formation_template(session, tenant_id, template.id, webhook)
        return template

    async def add_webhook(self, session: AsyncSession, tenant_id: str, template_id: str, data: WebhookInput) -> Webhook:
        """``addWebhook(formationTemplateID:)``: a webhook of a template of the tenant."""
        changes(session).outside_views()
        await self._own(session, tenant_id, template_id)
        return await webhook_service.add_to_formation_template(session, tenant_id, template_id, data)

    async def _own(self, session: AsyncSession, tenant_id: str, template_id: str) -> FormationTemplate:
        """A template the tenant may change: a global one is read-only, as for Compass's callers with a tenant."""
        template = await self.get(session, tenant_id, template_id)
        if template.tenant_id is None:
            raise ForbiddenError(f"formation template {template_id} is global: no tenant may change it")
        return template

    async def update(
        self, session: AsyncSession, tenant_id: str, template_id: str, data: FormationTemplateUpdateInput
    ) -> FormationTemplate:
        changes(session).outside_views()
        fields = _validated(data)
        template = await self._own(session, tenant_id, template_id)
        repository = FormationTemplateRepository(session)
        if any(row.tenant_id == tenant_id and row.id != template_id for row in await repository.by_name(tenant_id, data.name)):
            raise ConflictError(f"formation template {data.name!r} already exists")
        for key, value in fields.items():
            setattr(template, key, value)
        template.updated_at = utcnow()
        await session.flush()
        return template

    async def delete(self, session: AsyncSession, tenant_id: str, template_id: str) -> FormationTemplate:
        changes(session).outside_views()
        template = await self._own(session, tenant_id, template_id)
        repository = FormationTemplateRepository(session)
        if count := await repository.in_use(template_id):
            raise ConflictError(f"formation template {template_id} still has {count} formation(s); delete them first")
        await webhook_service.delete_of_formation_template(session, tenant_id, template_id)
        await repository.delete(template)
        return template

    async def set_label(
        self, session: AsyncSession, tenant_id: str, template_id: str, key: str, value: Any
    ) -> tuple[str, Any]:
        changes(session).outside_views()
        validate_label_key(key)
        template = await self._own(session, tenant_id, template_id)
        template.labels = {**template.labels, key: value}
        await session.flush()
        return key, value

    async def delete_label(self, session: AsyncSession, tenant_id: str, template_id: str, key: str) -> tuple[str, Any]:
        changes(session).outside_views()
        template = await self._own(session, tenant_id, template_id)
        if key not in template.labels:
            raise NotFoundError(f"formation template {template_id} has no label {key!r}")
        value = template.labels[key]
        template.labels = {name: item for name, item in template.labels.items() if name != key}
        await session.flush()
        return key, value


formation_template = FormationTemplateService()
