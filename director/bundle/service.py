"""Bundles and their API definitions, event definitions and documents."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from director.application import parts
from director.application.repository import ApplicationRepository
from director.bundle.auth import auth_record
from director.bundle.inputs import (
    APIDefinitionInput,
    APISpecInput,
    BundleCreateInput,
    BundleUpdateInput,
    DocumentInput,
    EventDefinitionInput,
    EventSpecInput,
    FetchedSpec,
    FetchRequestInput,
    VersionInput,
)
from director.bundle.repository import (
    APIDefinitionRepository,
    BundleRepository,
    DocumentRepository,
    EventDefinitionRepository,
)
from director.fetchrequest.service import Owner
from director.fetchrequest.service import fetch_request as fetch_request_service
from director.models import (
    APIDefinition,
    Bundle,
    Document,
    EventDefinition,
    FetchRequest,
    IntegrationDependency,
)
from director.models.application import DefinitionColumns
from director.pagination import Page, PageRequest
from director.validation import list_size, optional_text, require_name, require_url
from kernel.errors import InvalidInputError
from kernel.repository import TenantScopedRepository


def _json_schema(value: str | None, field: str) -> str | None:
    if value is not None and not isinstance(json.loads(value), dict):
        raise InvalidInputError(f"{field} must be a JSON schema object")
    return value


def apply_version(target: DefinitionColumns | IntegrationDependency, version: VersionInput | None) -> None:
    """The version columns of a definition or an integration dependency (both have Compass's ``Version``)."""
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
    api.spec_data = fetch_request_service.data_of(data.spec.data, data.spec.fetch_request) if data.spec else None
    api.spec_type = data.spec.type.value if data.spec else None
    api.spec_format = data.spec.format.value if data.spec else None
    apply_version(api, data.version)
    return api


def _apply_event(event: EventDefinition, data: EventDefinitionInput) -> EventDefinition:
    event.name = require_name(data.name, "eventDefinition.name")
    event.description = optional_text(data.description, "eventDefinition.description")
    event.group = optional_text(data.group, "eventDefinition.group", max_length=256)
    event.spec_data = fetch_request_service.data_of(data.spec.data, data.spec.fetch_request) if data.spec else None
    event.spec_type = data.spec.type.value if data.spec else None
    event.spec_format = data.spec.format.value if data.spec else None
    apply_version(event, data.version)
    return event


Definition = TypeVar("Definition", APIDefinition, EventDefinition)
DefinitionInput = TypeVar("DefinitionInput", APIDefinitionInput, EventDefinitionInput)


def _keeping_spec(
    definition: Definition, data: DefinitionInput, apply: Callable[[Definition, DefinitionInput], Definition]
) -> Definition:
    kept = (definition.spec_data, definition.spec_type, definition.spec_format)
    apply(definition, data)
    if data.spec is None:
        definition.spec_data, definition.spec_type, definition.spec_format = kept
    return definition


async def _page_of_application(
    repository: TenantScopedRepository[Definition], tenant_id: str, application_id: str, request: PageRequest
) -> Page[Definition]:
    """Another tenant's application, like a missing one, has no definitions: an empty page, as in Compass."""
    statement = repository.select(tenant_id).where(repository.model.application_id == application_id)
    rows, total = await repository.page(statement, limit=request.limit, offset=request.offset)
    return Page(rows, total, request.offset)


def _correlation_ids(values: Sequence[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [require_name(value, "bundle.correlationIDs", max_length=256) for value in list_size(values, "correlationIDs")]


def _document(tenant_id: str, bundle_id: str, data: DocumentInput) -> Document:
    return Document(
        tenant_id=tenant_id,
        bundle_id=bundle_id,
        title=require_name(data.title, "document.title"),
        display_name=require_name(data.display_name, "document.displayName"),
        description=optional_text(data.description, "document.description") or "",
        format=data.format.value,
        kind=optional_text(data.kind, "document.kind", max_length=256),
        data=fetch_request_service.data_of(data.data, data.fetch_request),
    )


# The definitions whose spec can be refetched, by what their fetch request belongs to.
_SPECS: dict[Owner, type[TenantScopedRepository[Any]]] = {
    Owner.API_DEFINITION: APIDefinitionRepository,
    Owner.EVENT_DEFINITION: EventDefinitionRepository,
}


def _spec_request(spec: APISpecInput | EventSpecInput | None) -> FetchRequestInput | None:
    """As in Compass, a spec keeps its fetch request only when it comes without data."""
    return spec.fetch_request if spec is not None and spec.data is None else None


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
        bundle.correlation_ids = _correlation_ids(data.correlation_ids)
        await BundleRepository(session).add(bundle)
        owners = {"tenant_id": tenant_id, "application_id": application_id, "bundle_id": bundle.id}
        requests: list[tuple[Owner, APIDefinition | EventDefinition | Document, FetchRequestInput | None]] = [
            (Owner.API_DEFINITION, _apply_api(APIDefinition(**owners), api), _spec_request(api.spec))
            for api in list_size(data.api_definitions, "apiDefinitions")
        ]
        requests.extend(
            (Owner.EVENT_DEFINITION, _apply_event(EventDefinition(**owners), event), _spec_request(event.spec))
            for event in list_size(data.event_definitions, "eventDefinitions")
        )
        requests.extend(
            (Owner.DOCUMENT, _document(tenant_id, bundle.id, document), document.fetch_request)
            for document in list_size(data.documents, "documents")
        )
        session.add_all([row for _owner, row, _request in requests])
        await session.flush()
        for owner, row, request in requests:
            await fetch_request_service.record(session, tenant_id, owner, row.id, request, replacing=False)
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
        bundle = await parts.changing(BundleRepository(session), tenant_id, bundle_id)
        owners = {"tenant_id": tenant_id, "application_id": bundle.application_id, "bundle_id": bundle_id}
        api = await APIDefinitionRepository(session).add(_apply_api(APIDefinition(**owners), data))
        await fetch_request_service.record(
            session, tenant_id, Owner.API_DEFINITION, api.id, _spec_request(data.spec), replacing=False
        )
        return api

    async def update_api(self, session: AsyncSession, tenant_id: str, api_id: str, data: APIDefinitionInput) -> APIDefinition:
        repository = APIDefinitionRepository(session)
        api = await parts.update(repository, tenant_id, api_id, lambda api: _apply_api(api, data))
        await fetch_request_service.record(session, tenant_id, Owner.API_DEFINITION, api_id, _spec_request(data.spec))
        return api

    async def delete_api(self, session: AsyncSession, tenant_id: str, api_id: str) -> APIDefinition:
        return await parts.delete(APIDefinitionRepository(session), tenant_id, api_id)

    async def add_event(
        self, session: AsyncSession, tenant_id: str, bundle_id: str, data: EventDefinitionInput
    ) -> EventDefinition:
        bundle = await parts.changing(BundleRepository(session), tenant_id, bundle_id)
        owners = {"tenant_id": tenant_id, "application_id": bundle.application_id, "bundle_id": bundle_id}
        event = await EventDefinitionRepository(session).add(_apply_event(EventDefinition(**owners), data))
        await fetch_request_service.record(
            session, tenant_id, Owner.EVENT_DEFINITION, event.id, _spec_request(data.spec), replacing=False
        )
        return event

    async def update_event(
        self, session: AsyncSession, tenant_id: str, event_id: str, data: EventDefinitionInput
    ) -> EventDefinition:
        repository = EventDefinitionRepository(session)
        event = await parts.update(repository, tenant_id, event_id, lambda event: _apply_event(event, data))
        await fetch_request_service.record(
            session, tenant_id, Owner.EVENT_DEFINITION, event_id, _spec_request(data.spec)
        )
        return event

    async def delete_event(self, session: AsyncSession, tenant_id: str, event_id: str) -> EventDefinition:
        return await parts.delete(EventDefinitionRepository(session), tenant_id, event_id)

    async def add_document(self, session: AsyncSession, tenant_id: str, bundle_id: str, data: DocumentInput) -> Document:
        await parts.changing(BundleRepository(session), tenant_id, bundle_id)
        document = await DocumentRepository(session).add(_document(tenant_id, bundle_id, data))
        await fetch_request_service.record(
            session, tenant_id, Owner.DOCUMENT, document.id, data.fetch_request, replacing=False
        )
        return document

    async def delete_document(self, session: AsyncSession, tenant_id: str, document_id: str) -> Document:
        return await parts.delete(DocumentRepository(session), tenant_id, document_id)

    # API and event definitions added to an application directly, outside its bundles (Compass's
    # addAPIDefinitionToApplication...). Pages and updates reach every definition of the application, bundled
    # or not, as Compass's (its definitions always carry their application).

    async def add_api_to_application(
        self, session: AsyncSession, tenant_id: str, application_id: str, data: APIDefinitionInput
    ) -> APIDefinition:
        """An application without a base URL takes the API's scheme and host as its own, as in Compass."""
        application = await parts.changing(ApplicationRepository(session), tenant_id, application_id)
        api = _apply_api(APIDefinition(tenant_id=tenant_id, application_id=application_id), data)
        await APIDefinitionRepository(session).add(api)
        await fetch_request_service.record(
            session, tenant_id, Owner.API_DEFINITION, api.id, _spec_request(data.spec), replacing=False
        )
        if not application.base_url:
            target = urlsplit(api.target_url)
            application.base_url = f"{target.scheme}://{target.netloc}"
            await session.flush()
        return api

    async def add_event_to_application(
        self, session: AsyncSession, tenant_id: str, application_id: str, data: EventDefinitionInput
    ) -> EventDefinition:
        await parts.changing(ApplicationRepository(session), tenant_id, application_id)
        event = _apply_event(EventDefinition(tenant_id=tenant_id, application_id=application_id), data)
        await EventDefinitionRepository(session).add(event)
        await fetch_request_service.record(
            session, tenant_id, Owner.EVENT_DEFINITION, event.id, _spec_request(data.spec), replacing=False
        )
        return event

    async def update_api_for_application(
        self, session: AsyncSession, tenant_id: str, api_id: str, data: APIDefinitionInput
    ) -> APIDefinition:
        """Unlike ``update_api``, an input without a spec keeps the stored one (Compass's UpdateForApplication)."""
        repository = APIDefinitionRepository(session)
        api = await parts.update(repository, tenant_id, api_id, lambda api: _keeping_spec(api, data, _apply_api))
        if data.spec is not None:
            await fetch_request_service.record(session, tenant_id, Owner.API_DEFINITION, api_id, _spec_request(data.spec))
        return api

    async def update_event_for_application(
        self, session: AsyncSession, tenant_id: str, event_id: str, data: EventDefinitionInput
    ) -> EventDefinition:
        repository = EventDefinitionRepository(session)
        event = await parts.update(
            repository, tenant_id, event_id, lambda event: _keeping_spec(event, data, _apply_event)
        )
        if data.spec is not None:
            await fetch_request_service.record(
                session, tenant_id, Owner.EVENT_DEFINITION, event_id, _spec_request(data.spec)
            )
        return event

    async def api_page_of_application(
        self, session: AsyncSession, tenant_id: str, application_id: str, request: PageRequest
    ) -> Page[APIDefinition]:
        return await _page_of_application(APIDefinitionRepository(session), tenant_id, application_id, request)

    async def event_page_of_application(
        self, session: AsyncSession, tenant_id: str, application_id: str, request: PageRequest
    ) -> Page[EventDefinition]:
        return await _page_of_application(EventDefinitionRepository(session), tenant_id, application_id, request)

    # A refetch fetches outside any unit of work (``director.fetchrequest.service``): the fetch request is read
    # first, the outcome written after.

    async def spec_fetch_request(
        self, session: AsyncSession, tenant_id: str, owner: Owner, definition_id: str
    ) -> tuple[APIDefinition | EventDefinition, FetchRequest | None]:
        """A definition and its spec's fetch request; a missing definition is the caller's NOT_FOUND."""
        definition: APIDefinition | EventDefinition = await _SPECS[owner](session).get_or_raise(tenant_id, definition_id)
        return definition, await fetch_request_service.of_owner(session, tenant_id, owner, definition_id)

    async def store_refetched_spec(
        self,
        session: AsyncSession,
        tenant_id: str,
        owner: Owner,
        definition_id: str,
        *,
        request_id: str,
        fetched: FetchedSpec,
    ) -> APIDefinition | EventDefinition:
        """The refetched spec stored, as Compass stores it (no data when the fetch failed), unless an update
        replaced the fetch request meanwhile."""
        definition: APIDefinition | EventDefinition = await parts.changing(
            _SPECS[owner](session), tenant_id, definition_id
        )
        stored = await fetch_request_service.store_refetched(
            session, tenant_id, owner, definition_id, request_id=request_id, fetched=fetched
        )
        if stored:
            definition.spec_data = fetched.data
            await session.flush()
        return definition

    # Batch reads for the DataLoaders: the children of many parents, one statement per kind.

    async def api_definitions_by_ids(
        self, session: AsyncSession, tenant_id: str, ids: Sequence[str]
    ) -> dict[str, APIDefinition]:
        return await APIDefinitionRepository(session).by_ids(tenant_id, ids)

    async def event_definitions_by_ids(
        self, session: AsyncSession, tenant_id: str, ids: Sequence[str]
    ) -> dict[str, EventDefinition]:
        return await EventDefinitionRepository(session).by_ids(tenant_id, ids)

    async def by_applications(
        self, session: AsyncSession, tenant_id: str, application_ids: Sequence[str]
    ) -> dict[str, list[Bundle]]:
        return await BundleRepository(session).read_grouped_by(tenant_id, "application_id", application_ids)

    async def api_definitions_by_bundles(
        self, session: AsyncSession, tenant_id: str, bundle_ids: Sequence[str]
    ) -> dict[str, list[APIDefinition]]:
        return await APIDefinitionRepository(session).read_grouped_by(tenant_id, "bundle_id", bundle_ids)

    async def event_definitions_by_bundles(
        self, session: AsyncSession, tenant_id: str, bundle_ids: Sequence[str]
    ) -> dict[str, list[EventDefinition]]:
        return await EventDefinitionRepository(session).read_grouped_by(tenant_id, "bundle_id", bundle_ids)

    async def documents_by_bundles(
        self, session: AsyncSession, tenant_id: str, bundle_ids: Sequence[str]
    ) -> dict[str, list[Document]]:
        return await DocumentRepository(session).grouped_by(tenant_id, "bundle_id", bundle_ids)


bundle = BundleService()
