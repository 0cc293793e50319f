"""The Application Registry of the REST API, ``/{app}/v1/metadata/services[/{id}]`` (DATAPLANE.md D.2, D.3.3 and
D.3.4): an application registers its APIs and events as legacy *services*, each one bundle of the Director
(``compass.adapter.service_details``), so runtimes see them like any other bundle.

Only an application's client certificate is served (on the mTLS listener, or from a trusted proxy's header), and
only for its own application: ``{app}`` is the application's normalized name, looked up in the certificate's
tenant. Each write is one unit of work (``compass.adapter.transactions``): the runtimes' cached views see it at
their next poll.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from compass.adapter import service_details
from compass.adapter.connector import Refused, answering, application_certificate
from compass.adapter.responses import INVALID_CREDENTIAL, AdapterResponse, error_response, refusal
from compass.adapter.service_details import (
    LABEL_KEY,
    InvalidServiceError,
    References,
    ServiceDetails,
    UnreadableServiceError,
)
from compass.adapter.transactions import write
from director.application.service import application as application_service
from director.bundle.inputs import BundleCreateInput, BundleUpdateInput
from director.bundle.service import bundle as bundle_service
from director.fetchrequest.service import fetch_request as fetch_request_service
from director.label.service import label as label_service
from director.models import Bundle
from kernel.db import Database
from kernel.settings import Settings

# The templates are also the routes' label in the HTTP metrics.
SERVICES_PATH = "/{app}/v1/metadata/services"
SERVICE_PATH = f"{SERVICES_PATH}/{{id}}"

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """The application a request acts on: the caller's own, in the caller's tenant."""

    tenant_id: str
    application_id: str


async def _doing(failure: str, work: Awaitable[T]) -> T:
    """``work``'s result; any failure of it but a ``Refused`` answered as the adapter answers a service's refusal
    (``failure`` says what failed: ``while creating Service``), without its details when unexpected."""
    try:
        return await work
    except Refused:
        raise
    except Exception as error:  # every failure becomes the adapter's error body, none its traceback
        raise Refused(refusal(error, failure)) from error


def _details(body: bytes) -> ServiceDetails:
    try:
        details = service_details.parse(body)
    except UnreadableServiceError as error:
        raise Refused(error_response(400, f"while unmarshalling service: {error}")) from None
    try:
        service_details.validate(details)
    except InvalidServiceError as error:
        raise Refused(error_response(400, f"while validating input, {error}")) from None
    return details


def _not_found(service_id: str) -> Refused:
    return Refused(error_response(404, f"entity with ID {service_id} not found"))


async def _references(session: AsyncSession, target: Target) -> References:
    labels = await label_service.by_applications(session, target.tenant_id, [target.application_id])
    value = next((item.value for item in labels.get(target.application_id, []) if item.key == LABEL_KEY), None)
    return service_details.read_references(value)


async def _references_to_change(session: AsyncSession, target: Target) -> References:
    """The label's entries, read after declaring the change: its lock keeps every concurrent request from
    rewriting the label (and losing an entry, or adding a second one with the same identifier) until commit."""
    await application_service.changing(session, target.tenant_id, target.application_id)
    return await _references(session, target)


async def _write(session: AsyncSession, target: Target, references: References) -> None:
    value = service_details.encode_references(references)
    await application_service.set_label(session, target.tenant_id, target.application_id, LABEL_KEY, value)


async def _bundle(session: AsyncSession, target: Target, service_id: str) -> Bundle:
    """The service's bundle; one of another application is as unknown as a missing one."""
    bundle = await bundle_service.find(session, target.tenant_id, service_id)
    if bundle is None or bundle.application_id != target.application_id:
        raise _not_found(service_id)
    return bundle


async def _details_of(session: AsyncSession, target: Target, bundle: Bundle) -> dict[str, Any]:
    tenant_id, ids = target.tenant_id, [bundle.id]
    apis = await bundle_service.api_definitions_by_bundles(session, tenant_id, ids)
    events = await bundle_service.event_definitions_by_bundles(session, tenant_id, ids)
    documents = await bundle_service.documents_by_bundles(session, tenant_id, ids)
    entry = (await _references(session, target)).get(bundle.id, {})
    fetch_requests = await fetch_request_service.by_api_definitions(
        session, tenant_id, [api.id for api in apis.get(bundle.id, [])]
    )
    specification = next(iter(fetch_requests.values()), None)
    return service_details.details_of(
        bundle,
        apis.get(bundle.id, []),
        events.get(bundle.id, []),
        documents.get(bundle.id, []),
        entry,
        specification=specification,
    )


async def _replace_definitions(session: AsyncSession, tenant_id: str, bundle_id: str, data: BundleCreateInput) -> None:
    """Compass's update: every API and event definition and document of the bundle deleted, the input's added."""
    ids = [bundle_id]
    for api in (await bundle_service.api_definitions_by_bundles(session, tenant_id, ids)).get(bundle_id, []):
        await bundle_service.delete_api(session, tenant_id, api.id)
    for event in (await bundle_service.event_definitions_by_bundles(session, tenant_id, ids)).get(bundle_id, []):
        await bundle_service.delete_event(session, tenant_id, event.id)
    for document in (await bundle_service.documents_by_bundles(session, tenant_id, ids)).get(bundle_id, []):
        await bundle_service.delete_document(session, tenant_id, document.id)
    for new_api in data.api_definitions or ():
        await bundle_service.add_api(session, tenant_id, bundle_id, new_api)
    for new_event in data.event_definitions or ():
        await bundle_service.add_event(session, tenant_id, bundle_id, new_event)
    for new_document in data.documents or ():
        await bundle_service.add_document(session, tenant_id, bundle_id, new_document)


class MetadataEndpoints:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    def routes(self) -> list[Route]:
        return [
            Route(SERVICES_PATH, answering(self.list_services), methods=["GET"]),
            Route(SERVICES_PATH, answering(self.create_service), methods=["POST"]),
            Route(SERVICE_PATH, answering(self.get_service), methods=["GET"]),
            Route(SERVICE_PATH, answering(self.update_service), methods=["PUT"]),
            Route(SERVICE_PATH, answering(self.delete_service), methods=["DELETE"]),
        ]

    async def _target(self, request: Request) -> Target:
        """The application of the path, if it is the certificate's own (D.3.3: by normalized name)."""
        identity = application_certificate(request)
        if identity is None:
            raise Refused(error_response(403, INVALID_CREDENTIAL))
        name = request.path_params["app"]
        async with self.database.read_sessions() as session:
            application = await application_service.find_by_normalized_name(session, identity.tenant_id, name)
        if application is None:
            raise Refused(error_response(404, f"application with name {name} not found"))
        if application.id != identity.object_id:
            message = f"{INVALID_CREDENTIAL}: the client certificate is not application {name}'s; it acts only for its own"
            raise Refused(error_response(403, message))
        return Target(identity.tenant_id, application.id)

    async def list_services(self, request: Request) -> Response:
        return await _doing("while fetching Services", self._list(request))

    async def _list(self, request: Request) -> Response:
        target = await self._target(request)
        tenant_id = target.tenant_id
        async with self.database.read_sessions() as session:
            bundles = (await bundle_service.by_applications(session, tenant_id, [target.application_id])).get(
                target.application_id, []
            )
            ids = [bundle.id for bundle in bundles]
            apis = await bundle_service.api_definitions_by_bundles(session, tenant_id, ids)
            events = await bundle_service.event_definitions_by_bundles(session, tenant_id, ids)
            references = await _references(session, target)
        return AdapterResponse(
            [
                service_details.summary_of(
                    bundle, apis.get(bundle.id, []), events.get(bundle.id, []), references.get(bundle.id, {})
                )
                for bundle in bundles
            ]
        )

    async def create_service(self, request: Request) -> Response:
        # Read first, outside ``_doing``: a body over the limit is the size middleware's 413.
        body = await request.body()
        return await _doing("while creating Service", self._create(request, body))

    async def _create(self, request: Request, body: bytes) -> Response:
        target = await self._target(request)
        details = _details(body)
        # The specs are fetched before the unit of work opens (``director.fetchrequest.service``).
        data = await fetch_request_service.prefetch(self.settings, service_details.bundle_input(details))

        async def create(session: AsyncSession) -> str:
            references = await _references_to_change(session, target)
            identifier = details.identifier
            if identifier and any(entry.get("identifier") == identifier for entry in references.values()):
                raise Refused(error_response(409, f"Service with Identifier {identifier} already exists"))
            bundle = await bundle_service.add(session, target.tenant_id, target.application_id, data)
            references[bundle.id] = service_details.reference(bundle.id, identifier)
            await _write(session, target, references)
            return bundle.id

        service_id = await write(self.database, self.settings, target.tenant_id, create, what="create service")
        return AdapterResponse({"id": service_id})

    async def get_service(self, request: Request) -> Response:
        return await _doing("while fetching service", self._get(request))

    async def _get(self, request: Request) -> Response:
        target = await self._target(request)
        async with self.database.read_sessions() as session:
            bundle = await _bundle(session, target, request.path_params["id"])
            return AdapterResponse(await _details_of(session, target, bundle))

    async def update_service(self, request: Request) -> Response:
        body = await request.body()
        return await _doing("while updating Service", self._update(request, body))

    async def _update(self, request: Request, body: bytes) -> Response:
        """Compass's PUT: the bundle's name, description and default auth updated, its definitions and documents
        replaced; the identifier stays what it was."""
        target = await self._target(request)
        details = _details(body)
        data = await fetch_request_service.prefetch(self.settings, service_details.bundle_input(details))
        update = BundleUpdateInput(
            name=data.name, description=data.description, default_instance_auth=data.default_instance_auth
        )

        async def replace(session: AsyncSession) -> dict[str, Any]:
            references = await _references_to_change(session, target)
            bundle = await _bundle(session, target, request.path_params["id"])
            await bundle_service.update(session, target.tenant_id, bundle.id, update)
            await _replace_definitions(session, target.tenant_id, bundle.id, data)
            identifier = references.get(bundle.id, {}).get("identifier", "")
            entry = service_details.reference(bundle.id, identifier)
            if references.get(bundle.id) != entry:
                references[bundle.id] = entry
                await _write(session, target, references)
            return await _details_of(session, target, bundle)

        return AdapterResponse(await write(self.database, self.settings, target.tenant_id, replace, what="update service"))

    async def delete_service(self, request: Request) -> Response:
        return await _doing("while deleting service", self._delete(request))

    async def _delete(self, request: Request) -> Response:
        target = await self._target(request)

        async def delete(session: AsyncSession) -> None:
            references = await _references_to_change(session, target)
            bundle = await _bundle(session, target, request.path_params["id"])
            await bundle_service.delete(session, target.tenant_id, bundle.id)
            if references.pop(bundle.id, None) is not None:
                await _write(session, target, references)

        await write(self.database, self.settings, target.tenant_id, delete, what="delete service")
        return Response(status_code=204)
