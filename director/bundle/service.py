"""Bundles and their API definitions, event definitions and documents."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from director.application import parts
from director.application.repository import ApplicationRepository
from director.bundle.auth import auth_record
from director.bundle.inputs import (
    APIDefinitionInput,
    BundleCreateInput,
    BundleUpdateInput,
    DocumentInput,
    EventDefinitionInput,
    VersionInput,
)
from director.bundle.repository import (
    APIDefinitionRepository,
    BundleRepository,
    DocumentRepository,
    EventDefinitionRepository,
)
from director.models import APIDefinition, Bundle, Document, EventDefinition
from director.models.application import DefinitionColumns
from director.validation import list_size, optional_text, require_name, require_url
from kernel.errors import InvalidInputError


def _json_schema(value: str | None, field: str) -> str | None:
    if value is not None and not isinstance(json.loads(value), dict):
        raise InvalidInputError(f"{field} must be a JSON schema object")
    return value


def _apply_version(target: DefinitionColumns, version: VersionInput | None) -> None:
    target.version_value = require_name(version.value, "version.value", max_length=64) if version else None
    target.version_deprecated = version.deprecated if version else None
    target.version_deprecated_since = (
        optional_text(version.deprecated_since, "version.deprecatedSince", max_length=64) if version else None
    )
    target.version_for_removal = version.for_removal if version else None


def _apply_api(api: APIDefinition, data: APIDefinitionInput) -> APIDefinition:
    api.name = require_name(data.name, "apiDefinition.name")
    api.description = optional_text(data.description, "apiDefinition.description")
    api.target_url = require_url(data.target_url, "apiDefinition.targetURL")
    api.group = optional_text(data.group, "apiDefinition.group", max_length=256)
    api.spec_data = data.spec.data if data.spec else None
    api.spec_type = data.spec.type.value if data.spec else None
    api.spec_format = data.spec.format.value if data.spec else None
    _apply_version(api, data.version)
    return api


def _apply_event(event: EventDefinition, data: EventDefinitionInput) -> EventDefinition:
    event.name = require_name(data.name, "eventDefinition.name")
    event.description = optional_text(data.description, "eventDefinition.description")
    event.group = optional_text(data.group, "eventDefinition.group", max_length=256)
    event.spec_data = data.spec.data if data.spec else None
    event.spec_type = data.spec.type.value if data.spec else None
    event.spec_format = data.spec.format.value if data.spec else None
    _apply_version(event, data.version)
    return event


def _document(tenant_id: str, bundle_id: str, data: DocumentInput) -> Document:
    return Document(
        tenant_id=tenant_id,
        bundle_id=bundle_id,
        title=require_name(data.title, "document.title"),
        display_name=require_name(data.display_name, "document.displayName"),
        description=optional_text(data.description, "document.description") or "",
        format=data.format.value,
        kind=optional_text(data.kind, "document.kind", max_length=256),
        data=data.data,
    )


class BundleService:
    async def find(self, session: AsyncSession, tenant_id: str, bundle_id: str) -> Bundle | None:
        return await BundleRepository(session).get(tenant_id, bundle_id)

    async def add(self, session: AsyncSession, tenant_id: str, application_id: str, data: BundleCreateInput) -> Bundle:
        await parts.changing(ApplicationRepository(session), tenant_id, application_id)
        return await self.create_tree(session, tenant_id, application_id, data)

    async def create_tree(
        self, session: AsyncSession, tenant_id: str, application_id: str, data: BundleCreateInput
    ) -> Bundle:
        """A bundle with all its definitions; the caller has checked the application and declared the change."""
        bundle = Bundle(tenant_id=tenant_id, application_id=application_id)
        self._apply(bundle, data)
        await BundleRepository(session).add(bundle)
        for api in list_size(data.api_definitions, "apiDefinitions"):
            session.add(_apply_api(APIDefinition(tenant_id=tenant_id, bundle_id=bundle.id), api))
        for event in list_size(data.event_definitions, "eventDefinitions"):
            session.add(_apply_event(EventDefinition(tenant_id=tenant_id, bundle_id=bundle.id), event))
        for document in list_size(data.documents, "documents"):
            session.add(_document(tenant_id, bundle.id, document))
        await session.flush()
        return bundle

    def _apply(self, bundle: Bundle, data: BundleCreateInput | BundleUpdateInput) -> None:
        bundle.name = require_name(data.name, "bundle.name")
        bundle.description = optional_text(data.description, "bundle.description")
        bundle.instance_auth_request_input_schema = _json_schema(
            data.instance_auth_request_input_schema, "bundle.instanceAuthRequestInputSchema"
        )
        bundle.default_instance_auth = auth_record(data.default_instance_auth)

    async def update(self, session: AsyncSession, tenant_id: str, bundle_id: str, data: BundleUpdateInput) -> Bundle:
        repository = BundleRepository(session)
        return await parts.update(repository, tenant_id, bundle_id, lambda bundle: self._apply(bundle, data))

    async def delete(self, session: AsyncSession, tenant_id: str, bundle_id: str) -> Bundle:
        return await parts.delete(BundleRepository(session), tenant_id, bundle_id)

    async def add_api(self, session: AsyncSession, tenant_id: str, bundle_id: str, data: APIDefinitionInput) -> APIDefinition:
        await parts.changing(BundleRepository(session), tenant_id, bundle_id)
        return await APIDefinitionRepository(session).add(
            _apply_api(APIDefinition(tenant_id=tenant_id, bundle_id=bundle_id), data)
        )

    async def update_api(self, session: AsyncSession, tenant_id: str, api_id: str, data: APIDefinitionInput) -> APIDefinition:
        repository = APIDefinitionRepository(session)
        return await parts.update(repository, tenant_id, api_id, lambda api: _apply_api(api, data))

    async def delete_api(self, session: AsyncSession, tenant_id: str, api_id: str) -> APIDefinition:
        return await parts.delete(APIDefinitionRepository(session), tenant_id, api_id)

    async def add_event(
        self, session: AsyncSession, tenant_id: str, bundle_id: str, data: EventDefinitionInput
    ) -> EventDefinition:
        await parts.changing(BundleRepository(session), tenant_id, bundle_id)
        return await EventDefinitionRepository(session).add(
            _apply_event(EventDefinition(tenant_id=tenant_id, bundle_id=bundle_id), data)
        )

    async def update_event(
        self, session: AsyncSession, tenant_id: str, event_id: str, data: EventDefinitionInput
    ) -> EventDefinition:
        repository = EventDefinitionRepository(session)
        return await parts.update(repository, tenant_id, event_id, lambda event: _apply_event(event, data))

    async def delete_event(self, session: AsyncSession, tenant_id: str, event_id: str) -> EventDefinition:
        return await parts.delete(EventDefinitionRepository(session), tenant_id, event_id)

    async def add_document(self, session: AsyncSession, tenant_id: str, bundle_id: str, data: DocumentInput) -> Document:
        await parts.changing(BundleRepository(session), tenant_id, bundle_id)
        return await DocumentRepository(session).add(_document(tenant_id, bundle_id, data))

    async def delete_document(self, session: AsyncSession, tenant_id: str, document_id: str) -> Document:
        return await parts.delete(DocumentRepository(session), tenant_id, document_id)

    # Batch reads for the DataLoaders: the children of many parents, one statement per kind.

    async def by_applications(
        self, session: AsyncSession, tenant_id: str, application_ids: Sequence[str]
    ) -> dict[str, list[Bundle]]:
        return await BundleRepository(session).grouped_by(tenant_id, "application_id", application_ids)

    async def api_definitions_by_bundles(
        self, session: AsyncSession, tenant_id: str, bundle_ids: Sequence[str]
    ) -> dict[str, list[APIDefinition]]:
        return await APIDefinitionRepository(session).grouped_by(tenant_id, "bundle_id", bundle_ids)

    async def event_definitions_by_bundles(
        self, session: AsyncSession, tenant_id: str, bundle_ids: Sequence[str]
    ) -> dict[str, list[EventDefinition]]:
        return await EventDefinitionRepository(session).grouped_by(tenant_id, "bundle_id", bundle_ids)

    async def documents_by_bundles(
        self, session: AsyncSession, tenant_id: str, bundle_ids: Sequence[str]
    ) -> dict[str, list[Document]]:
        return await DocumentRepository(session).grouped_by(tenant_id, "bundle_id", bundle_ids)


bundle = BundleService()
