"""Application, its bundles and definitions, auth and webhooks: Compass's shapes, loaded through DataLoaders."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Self, TypeVar

import strawberry
from strawberry import Info

from director import models
from director.graphql.enums import (
    APISpecType,
    ApplicationStatusCondition,
    BundleInstanceAuthStatusCondition,
    DocumentFormat,
    EventSpecType,
    SpecFormat,
    SystemAuthReferenceType,
    WebhookMode,
    WebhookType,
)
from director.graphql.eventing.types import ApplicationEventingConfiguration
from director.graphql.pagination import Page
from director.graphql.permissions import sanitized
from director.graphql.scalars import (
    CLOB,
    HttpHeaders,
    HttpHeadersSerialized,
    JSONSchema,
    JSONString,
    Labels,
    PageCursor,
    QueryParams,
    QueryParamsSerialized,
    Timestamp,
)
from director.pagination import PageRequest
from kernel.principal import ClientKind, ClientPrincipal, Scope

First = Annotated[int | None, strawberry.argument(description="Page size, 1 to 200; null means 200.")]
After = Annotated[PageCursor | None, strawberry.argument(description="Cursor from pageInfo.endCursor.")]


def labels_object(labels: list[models.Label], key: str | None) -> dict[str, Any]:
    return {label.key: label.value for label in labels if key is None or label.key == key}


@strawberry.type(description="Username and password.")
class BasicCredentialData:
    username: str
    password: str


@strawberry.type(description="OAuth 2.0 client credentials.")
class OAuthCredentialData:
    client_id: str
    client_secret: str
    url: str


CredentialData = Annotated[BasicCredentialData | OAuthCredentialData, strawberry.union("CredentialData")]


def _credential(record: dict[str, Any] | None) -> BasicCredentialData | OAuthCredentialData | None:
    if not record:
        return None
    if basic := record.get("basic"):
        return BasicCredentialData(username=basic["username"], password=basic["password"])
    oauth = record["oauth"]
    return OAuthCredentialData(client_id=oauth["clientId"], client_secret=oauth["clientSecret"], url=oauth["url"])


Plain = TypeVar("Plain")
Scalar = TypeVar("Scalar")


def _maybe(scalar: Callable[[Plain], Scalar], value: Plain | None) -> Scalar | None:
    """A stored value, possibly null, as the scalar its field declares (the scalars are NewTypes of it)."""
    return None if value is None else scalar(value)


def _serialized(value: dict[str, list[str]] | None) -> str | None:
    return json.dumps(value, separators=(",", ":")) if value is not None else None


@strawberry.type(description="How to fetch a CSRF token before calling an API.")
class CSRFTokenCredentialRequestAuth:
    token_endpoint_url: str = strawberry.field(name="tokenEndpointURL")
    credential: CredentialData | None
    additional_headers: HttpHeaders | None
    additional_query_params: QueryParams | None


@strawberry.type(description="Authentication needed before the call itself.")
class CredentialRequestAuth:
    csrf: CSRFTokenCredentialRequestAuth | None


@strawberry.type(description="Credentials and extra request parameters for calling an API.")
class Auth:
    credential: CredentialData | None
    additional_headers: HttpHeaders | None
    additional_query_params: QueryParams | None
    additional_headers_serialized: HttpHeadersSerialized | None
    additional_query_params_serialized: QueryParamsSerialized | None
    request_auth: CredentialRequestAuth | None

    @classmethod
    def of(cls, record: dict[str, Any] | None) -> Auth | None:
        if record is None:
            return None
        csrf = (record.get("requestAuth") or {}).get("csrf")
        return cls(
            credential=_credential(record.get("credential")),
            additional_headers=record.get("additionalHeaders"),
            additional_query_params=record.get("additionalQueryParams"),
            additional_headers_serialized=_maybe(HttpHeadersSerialized, _serialized(record.get("additionalHeaders"))),
            additional_query_params_serialized=_maybe(
                QueryParamsSerialized, _serialized(record.get("additionalQueryParams"))
            ),
            request_auth=CredentialRequestAuth(
                csrf=CSRFTokenCredentialRequestAuth(
                    token_endpoint_url=csrf["tokenEndpointURL"],
                    credential=_credential(csrf.get("credential")),
                    additional_headers=csrf.get("additionalHeaders"),
                    additional_query_params=csrf.get("additionalQueryParams"),
                )
            )
            if csrf
            else None,
        )


@strawberry.type(description="A webhook of an application or runtime.")
class Webhook:
    id: strawberry.ID
    application_id: strawberry.ID | None = strawberry.field(name="applicationID")
    runtime_id: strawberry.ID | None = strawberry.field(name="runtimeID")
    type: WebhookType
    mode: WebhookMode | None
    url: str | None
    auth: Auth | None = strawberry.field(extensions=sanitized(Scope.WEBHOOKS_AUTH_READ))

    @classmethod
    def of(cls, model: models.Webhook) -> Webhook:
        return cls(
            id=strawberry.ID(model.id),
            application_id=_maybe(strawberry.ID, model.application_id),
            runtime_id=_maybe(strawberry.ID, model.runtime_id),
            type=WebhookType(model.type),
            mode=WebhookMode(model.mode) if model.mode else None,
            url=model.url,
            auth=Auth.of(model.auth),
        )


@strawberry.type(description="A version of an API or event definition.")
class Version:
    value: str
    deprecated: bool | None
    deprecated_since: str | None
    for_removal: bool | None

    @classmethod
    def of(cls, model: models.APIDefinition | models.EventDefinition) -> Version | None:
        if model.version_value is None:
            return None
        return cls(
            value=model.version_value,
            deprecated=model.version_deprecated,
            deprecated_since=model.version_deprecated_since,
            for_removal=model.version_for_removal,
        )


@strawberry.type(description="An API specification.")
class APISpec:
    data: CLOB | None
    format: SpecFormat
    type: APISpecType


@strawberry.type(description="An event specification.")
class EventSpec:
    data: CLOB | None
    type: EventSpecType
    format: SpecFormat


Spec = TypeVar("Spec", APISpec, EventSpec)


def _spec(
    spec: type[Spec], spec_type: Callable[[str], Any], model: models.APIDefinition | models.EventDefinition
) -> Spec | None:
    """The definition's spec, if it has one: ``spec`` (APISpec, EventSpec) with its kind's ``spec_type`` enum."""
    if not (model.spec_type and model.spec_format):
        return None
    return spec(data=_maybe(CLOB, model.spec_data), type=spec_type(model.spec_type), format=SpecFormat(model.spec_format))


@strawberry.type(description="An API of an application.")
class APIDefinition:
    id: strawberry.ID
    name: str
    description: str | None
    spec: APISpec | None
    target_url: str = strawberry.field(name="targetURL")
    group: str | None
    version: Version | None

    @classmethod
    def of(cls, model: models.APIDefinition) -> APIDefinition:
        return cls(
            id=strawberry.ID(model.id),
            name=model.name,
            description=model.description,
            spec=_spec(APISpec, APISpecType, model),
            target_url=model.target_url,
            group=model.group,
            version=Version.of(model),
        )


@strawberry.type(description="Events an application sends.")
class EventDefinition:
    id: strawberry.ID
    name: str
    description: str | None
    group: str | None
    spec: EventSpec | None
    version: Version | None

    @classmethod
    def of(cls, model: models.EventDefinition) -> EventDefinition:
        return cls(
            id=strawberry.ID(model.id),
            name=model.name,
            description=model.description,
            group=model.group,
            spec=_spec(EventSpec, EventSpecType, model),
            version=Version.of(model),
        )


@strawberry.type(description="Documentation of a bundle.")
class Document:
    id: strawberry.ID
    title: str
    display_name: str
    description: str
    format: DocumentFormat
    kind: str | None
    data: CLOB | None

    @classmethod
    def of(cls, model: models.Document) -> Document:
        return cls(
            id=strawberry.ID(model.id),
            title=model.title,
            display_name=model.display_name,
            description=model.description,
            format=DocumentFormat(model.format),
            kind=model.kind,
            data=_maybe(CLOB, model.data),
        )


@strawberry.type(description="A page of API definitions.")
class APIDefinitionPage(Page[APIDefinition]):
    pass


@strawberry.type(description="A page of event definitions.")
class EventDefinitionPage(Page[EventDefinition]):
    pass


@strawberry.type(description="A page of documents.")
class DocumentPage(Page[Document]):
    pass


@strawberry.type(description="Where a bundle instance auth stands, and why.")
class BundleInstanceAuthStatus:
    condition: BundleInstanceAuthStatusCondition
    timestamp: Timestamp
    message: str
    reason: str


@strawberry.type(description="Credentials of one consumer for a bundle.")
class BundleInstanceAuth:
    id: strawberry.ID
    context: JSONString | None
    input_params: JSONString | None
    auth: Auth | None = strawberry.field(description="Empty while PENDING; the bundle's default auth if it has one.")
    status: BundleInstanceAuthStatus
    runtime_id: strawberry.ID | None = strawberry.field(name="runtimeID")
    runtime_context_id: strawberry.ID | None = strawberry.field(name="runtimeContextID")

    @classmethod
    def of(cls, model: models.BundleInstanceAuth) -> BundleInstanceAuth:
        return cls(
            id=strawberry.ID(model.id),
            context=_maybe(JSONString, model.context),
            input_params=_maybe(JSONString, model.input_params),
            auth=Auth.of(model.auth),
            status=BundleInstanceAuthStatus(
                condition=BundleInstanceAuthStatusCondition(model.status_condition),
                timestamp=Timestamp(model.status_timestamp),
                message=model.status_message,
                reason=model.status_reason,
            ),
            runtime_id=_maybe(strawberry.ID, model.runtime_id),
            runtime_context_id=None,
        )


def _visible_instance_auths(
    info: Info, rows: Sequence[models.BundleInstanceAuth]
) -> Sequence[models.BundleInstanceAuth]:
    """A runtime sees only the credentials requested for it, as in Compass ("each application contains only
    credentials that are valid for the runtime that called"), never other runtimes' or the operator's."""
    principal = info.context.principal
    if isinstance(principal, ClientPrincipal) and principal.identity.kind is ClientKind.RUNTIME:
        return [row for row in rows if row.runtime_id == principal.viewer_id]
    return rows


def _in_group(rows: list[Any], group: str | None) -> list[Any]:
    return rows if group is None else [row for row in rows if row.group == group]


@strawberry.type(description="A group of an application's APIs and events sharing one credential.")
class Bundle:
    model: strawberry.Private[models.Bundle]
    id: strawberry.ID
    name: str
    description: str | None
    instance_auth_request_input_schema: JSONSchema | None
    default_instance_auth: Auth | None = strawberry.field(extensions=sanitized(Scope.BUNDLE_INSTANCE_AUTHS_READ))

    @classmethod
    def of(cls, model: models.Bundle) -> Bundle:
        return cls(
            model=model,
            id=strawberry.ID(model.id),
            name=model.name,
            description=model.description,
            instance_auth_request_input_schema=_maybe(JSONSchema, model.instance_auth_request_input_schema),
            default_instance_auth=Auth.of(model.default_instance_auth),
        )

    @strawberry.field(description="The bundle's APIs, optionally of one group.")
    async def api_definitions(
        self, info: Info, group: str | None = None, first: First = 200, after: After = None
    ) -> APIDefinitionPage:
        request = PageRequest.of(first, after)
        rows = _in_group(await info.context.loaders.api_definitions_by_bundle.load(self.id), group)
        return APIDefinitionPage.slice(rows, request, APIDefinition.of)

    @strawberry.field(description="The bundle's events, optionally of one group.")
    async def event_definitions(
        self, info: Info, group: str | None = None, first: First = 200, after: After = None
    ) -> EventDefinitionPage:
        request = PageRequest.of(first, after)
        rows = _in_group(await info.context.loaders.event_definitions_by_bundle.load(self.id), group)
        return EventDefinitionPage.slice(rows, request, EventDefinition.of)

    @strawberry.field(description="The bundle's documents.")
    async def documents(self, info: Info, first: First = 200, after: After = None) -> DocumentPage:
        request = PageRequest.of(first, after)
        return DocumentPage.slice(await info.context.loaders.documents_by_bundle.load(self.id), request, Document.of)

    @strawberry.field(
        description="The credentials requested for this bundle.", extensions=sanitized(Scope.BUNDLE_INSTANCE_AUTHS_READ)
    )
    async def instance_auths(self, info: Info) -> list[BundleInstanceAuth] | None:
        rows = await info.context.loaders.instance_auths_by_bundle.load(self.id)
        return [BundleInstanceAuth.of(row) for row in _visible_instance_auths(info, rows)]

    @strawberry.field(
        description="One instance auth of the bundle.", extensions=sanitized(Scope.BUNDLE_INSTANCE_AUTHS_READ)
    )
    async def instance_auth(self, info: Info, id: strawberry.ID) -> BundleInstanceAuth | None:
        rows = await info.context.loaders.instance_auths_by_bundle.load(self.id)
        return next((BundleInstanceAuth.of(row) for row in _visible_instance_auths(info, rows) if row.id == id), None)

    @strawberry.field(description="One API definition of the bundle.")
    async def api_definition(self, info: Info, id: strawberry.ID) -> APIDefinition | None:
        rows = await info.context.loaders.api_definitions_by_bundle.load(self.id)
        return next((APIDefinition.of(row) for row in rows if row.id == id), None)

    @strawberry.field(description="One event definition of the bundle.")
    async def event_definition(self, info: Info, id: strawberry.ID) -> EventDefinition | None:
        rows = await info.context.loaders.event_definitions_by_bundle.load(self.id)
        return next((EventDefinition.of(row) for row in rows if row.id == id), None)

    @strawberry.field(description="One document of the bundle.")
    async def document(self, info: Info, id: strawberry.ID) -> Document | None:
        rows = await info.context.loaders.documents_by_bundle.load(self.id)
        return next((Document.of(row) for row in rows if row.id == id), None)


@strawberry.type(description="A page of bundles.")
class BundlePage(Page[Bundle]):
    pass


@strawberry.type(description="Condition of an application and when it was set.")
class ApplicationStatus:
    condition: ApplicationStatusCondition
    timestamp: Timestamp


@strawberry.interface(description="An identity of an application or runtime; its id is the certificate's client id.")
class SystemAuth:
    id: strawberry.ID
    auth: Auth | None
    type: SystemAuthReferenceType | None

    @classmethod
    def of(cls, model: models.SystemAuth) -> Self:
        owner = SystemAuthReferenceType.RUNTIME if model.runtime_id is not None else SystemAuthReferenceType.APPLICATION
        return cls(id=strawberry.ID(model.id), auth=None, type=owner)


@strawberry.type(description="An identity of an application.")
class AppSystemAuth(SystemAuth):
    pass


@strawberry.type(description="An identity of a runtime.")
class RuntimeSystemAuth(SystemAuth):
    pass


def system_auth_of(model: models.SystemAuth) -> AppSystemAuth | RuntimeSystemAuth:
    return (RuntimeSystemAuth if model.runtime_id is not None else AppSystemAuth).of(model)


@strawberry.type(description="A business system registered in a tenant.")
class Application:
    id: strawberry.ID
    name: str
    system_number: str | None
    base_url: str | None
    provider_name: str | None
    description: str | None
    integration_system_id: strawberry.ID | None = strawberry.field(name="integrationSystemID")
    health_check_url: str | None = strawberry.field(name="healthCheckURL")
    status: ApplicationStatus
    created_at: Timestamp | None
    updated_at: Timestamp | None

    @classmethod
    def of(cls, model: models.Application, *, name: str | None = None) -> Application:
        return cls(
            id=strawberry.ID(model.id),
            name=name or model.name,
            system_number=model.system_number,
            base_url=model.base_url,
            provider_name=model.provider_name,
            description=model.description,
            integration_system_id=_maybe(strawberry.ID, model.integration_system_id),
            health_check_url=model.healthcheck_url,
            status=ApplicationStatus(
                condition=ApplicationStatusCondition(model.status_condition), timestamp=Timestamp(model.status_timestamp)
            ),
            created_at=Timestamp(model.created_at),
            updated_at=Timestamp(model.updated_at),
        )

    @strawberry.field(description="The application's labels, or only the one with this key.")
    async def labels(self, info: Info, key: str | None = None) -> Labels | None:
        return Labels(labels_object(await info.context.loaders.labels_by_application.load(self.id), key))

    @strawberry.field(
        description="The application's webhooks.", extensions=sanitized(Scope.APPLICATION_WEBHOOKS_READ)
    )
    async def webhooks(self, info: Info) -> list[Webhook] | None:
        return [Webhook.of(row) for row in await info.context.loaders.webhooks_by_application.load(self.id)]

    @strawberry.field(description="The application's bundles.")
    async def bundles(self, info: Info, first: First = 200, after: After = None) -> BundlePage:
        request = PageRequest.of(first, after)
        return BundlePage.slice(await info.context.loaders.bundles_by_application.load(self.id), request, Bundle.of)

    @strawberry.field(description="One bundle of the application.")
    async def bundle(self, info: Info, id: strawberry.ID) -> Bundle | None:
        rows = await info.context.loaders.bundles_by_application.load(self.id)
        return next((Bundle.of(row) for row in rows if row.id == id), None)

    @strawberry.field(description="The client ids the application's certificates carry.")
    async def auths(self, info: Info) -> list[AppSystemAuth]:
        return [AppSystemAuth.of(row) for row in await info.context.loaders.auths_by_application.load(self.id)]

    @strawberry.field(description='Where the application sends its events; defaultURL is "" without a runtime.')
    async def eventing_configuration(self, info: Info) -> ApplicationEventingConfiguration | None:
        url = await info.context.loaders.eventing_url_by_application.load(self.id)
        return ApplicationEventingConfiguration(default_url=url)


@strawberry.type(description="A page of applications.")
class ApplicationPage(Page[Application]):
    pass
