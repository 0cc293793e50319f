"""Application, its bundles and definitions, auth and webhooks: Compass's shapes, loaded through DataLoaders."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Self, TypeVar

import strawberry
from strawberry import Info

from director import models
from director.graphql.enums import (
    APISpecType,
    ApplicationStatusCondition,
    BundleInstanceAuthStatusCondition,
    DocumentFormat,
    EventSpecType,
    FetchMode,
    FetchRequestStatusCondition,
    SpecFormat,
    SystemAuthReferenceType,
    WebhookMode,
    WebhookType,
)
from director.graphql.eventing.types import ApplicationEventingConfiguration
from director.graphql.operation.types import Operation
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
    maybe,
)
from director.graphql.systemauth.types import OneTimeToken
from director.pagination import PageRequest
from kernel.principal import ClientKind, ClientPrincipal, Scope

if TYPE_CHECKING:
    from director.graphql.apptemplate.types import ApplicationTemplate
    from director.graphql.integrationdependency.types import IntegrationDependency, IntegrationDependencyPage

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
    client_id: strawberry.ID
    client_secret: str
    url: str = strawberry.field(description="The token endpoint.")


@strawberry.type(description="OAuth 2.0 client credentials; the client authenticates with a certificate (mTLS).")
class CertificateOAuthCredentialData:
    client_id: strawberry.ID
    certificate: str = strawberry.field(description="The client certificate (and key) in PEM.")
    url: str = strawberry.field(description="The token endpoint.")


AnyCredentialData = BasicCredentialData | OAuthCredentialData | CertificateOAuthCredentialData
CredentialData = Annotated[AnyCredentialData, strawberry.union("CredentialData")]


def _credential(record: dict[str, Any] | None) -> AnyCredentialData | None:
    if not record:
        return None
    if basic := record.get("basic"):
        return BasicCredentialData(username=basic["username"], password=basic["password"])
    if certificate := record.get("certificateOAuth"):
        return CertificateOAuthCredentialData(
            client_id=strawberry.ID(certificate["clientId"]), certificate=certificate["certificate"], url=certificate["url"]
        )
    oauth = record["oauth"]
    return OAuthCredentialData(
        client_id=strawberry.ID(oauth["clientId"]), client_secret=oauth["clientSecret"], url=oauth["url"]
    )




def _serialized(value: dict[str, list[str]] | None) -> str | None:
    return json.dumps(value, separators=(",", ":")) if value is not None else None


@strawberry.type(description="How to fetch a CSRF token before calling an API.")
class CSRFTokenCredentialRequestAuth:
    token_endpoint_url: str = strawberry.field(name="tokenEndpointURL")
    credential: CredentialData | None
    additional_headers: HttpHeaders | None
    additional_headers_serialized: HttpHeadersSerialized | None
    additional_query_params: QueryParams | None
    additional_query_params_serialized: QueryParamsSerialized | None


@strawberry.type(description="Authentication needed before the call itself.")
class CredentialRequestAuth:
    csrf: CSRFTokenCredentialRequestAuth | None


@strawberry.type(description="Credentials and extra request parameters for calling an API.")
class Auth:
    credential: CredentialData | None
    access_strategy: str | None = strawberry.field(description="How a runtime obtains the credentials instead.")
    additional_headers: HttpHeaders | None
    additional_query_params: QueryParams | None
    additional_headers_serialized: HttpHeadersSerialized | None
    additional_query_params_serialized: QueryParamsSerialized | None
    request_auth: CredentialRequestAuth | None
    one_time_token: OneTimeToken | None = strawberry.field(
        description="A system auth's token as Compass keeps it; pycompass keeps only a token's hash, so this is null."
    )
    cert_common_name: str | None = strawberry.field(
        description="The certificate's common name a system auth is known by; empty elsewhere, as in Compass."
    )

    @classmethod
    def of(cls, record: dict[str, Any] | None) -> Auth | None:
        if record is None:
            return None
        csrf = (record.get("requestAuth") or {}).get("csrf")
        return cls(
            credential=_credential(record.get("credential")),
            access_strategy=record.get("accessStrategy"),
            additional_headers=record.get("additionalHeaders"),
            additional_query_params=record.get("additionalQueryParams"),
            additional_headers_serialized=maybe(HttpHeadersSerialized, _serialized(record.get("additionalHeaders"))),
            additional_query_params_serialized=maybe(
                QueryParamsSerialized, _serialized(record.get("additionalQueryParams"))
            ),
            request_auth=CredentialRequestAuth(
                csrf=CSRFTokenCredentialRequestAuth(
                    token_endpoint_url=csrf["tokenEndpointURL"],
                    credential=_credential(csrf.get("credential")),
                    additional_headers=csrf.get("additionalHeaders"),
                    additional_headers_serialized=maybe(
                        HttpHeadersSerialized, _serialized(csrf.get("additionalHeaders"))
                    ),
                    additional_query_params=csrf.get("additionalQueryParams"),
                    additional_query_params_serialized=maybe(
                        QueryParamsSerialized, _serialized(csrf.get("additionalQueryParams"))
                    ),
                )
            )
            if csrf
            else None,
            one_time_token=None,
            cert_common_name=record.get("certCommonName", ""),
        )


@strawberry.type(description="A webhook of an application, runtime, application template or formation template.")
class Webhook:
    id: strawberry.ID
    application_id: strawberry.ID | None = strawberry.field(name="applicationID")
    application_template_id: strawberry.ID | None = strawberry.field(name="applicationTemplateID")
    runtime_id: strawberry.ID | None = strawberry.field(name="runtimeID")
    integration_system_id: strawberry.ID | None = strawberry.field(name="integrationSystemID")
    formation_template_id: strawberry.ID | None = strawberry.field(name="formationTemplateID")
    type: WebhookType
    mode: WebhookMode | None
    correlation_id_key: str | None = strawberry.field(name="correlationIdKey")
    retry_interval: int | None
    timeout: int | None
    url: str | None
    auth: Auth | None = strawberry.field(extensions=sanitized(Scope.WEBHOOKS_AUTH_READ))
    url_template: str | None = strawberry.field(description="A Go template rendering {method, path}.")
    input_template: str | None = strawberry.field(description="A Go template rendering the request body.")
    header_template: str | None = strawberry.field(description="A Go template rendering the request headers.")
    output_template: str | None = strawberry.field(description="A Go template reading the response.")
    status_template: str | None = strawberry.field(description="A Go template reading an ASYNC webhook's status.")
    created_at: Timestamp | None

    @classmethod
    def of(cls, model: models.Webhook) -> Webhook:
        return cls(
            id=strawberry.ID(model.id),
            application_id=maybe(strawberry.ID, model.application_id),
            application_template_id=maybe(strawberry.ID, model.application_template_id),
            runtime_id=maybe(strawberry.ID, model.runtime_id),
            integration_system_id=maybe(strawberry.ID, model.integration_system_id),
            formation_template_id=maybe(strawberry.ID, model.formation_template_id),
            type=WebhookType(model.type),
            mode=WebhookMode(model.mode) if model.mode else None,
            correlation_id_key=model.correlation_id_key,
            retry_interval=model.retry_interval,
            timeout=model.timeout,
            url=model.url,
            auth=Auth.of(model.auth),
            url_template=model.url_template,
            input_template=model.input_template,
            header_template=model.header_template,
            output_template=model.output_template,
            status_template=model.status_template,
            created_at=maybe(Timestamp, model.created_at),
        )


@strawberry.type(description="A version of an API or event definition.")
class Version:
    value: str
    deprecated: bool | None
    deprecated_since: str | None
    for_removal: bool | None

    @classmethod
    def of(cls, model: models.APIDefinition | models.EventDefinition | models.IntegrationDependency) -> Version | None:
        if model.version_value is None:
            return None
        return cls(
            value=model.version_value,
            deprecated=model.version_deprecated,
            deprecated_since=model.version_deprecated_since,
            for_removal=model.version_for_removal,
        )


@strawberry.type(description="How the last fetch of a spec went.")
class FetchRequestStatus:
    condition: FetchRequestStatusCondition
    message: str | None
    timestamp: Timestamp


@strawberry.type(description="Where the Director fetched a spec from, and how the last fetch went.")
class FetchRequest:
    url: str
    auth: Auth | None = strawberry.field(extensions=sanitized(Scope.FETCH_REQUEST_AUTH_READ))
    mode: FetchMode
    filter: str | None
    status: FetchRequestStatus

    @classmethod
    def of(cls, model: models.FetchRequest | None) -> FetchRequest | None:
        if model is None:
            return None
        return cls(
            url=model.url,
            auth=Auth.of(model.auth),
            mode=FetchMode(model.mode),
            filter=model.filter,
            status=FetchRequestStatus(
                condition=FetchRequestStatusCondition(model.status_condition),
                message=model.status_message,
                timestamp=Timestamp(model.status_timestamp),
            ),
        )


@strawberry.type(description="An API specification; its id is its API definition's.")
class APISpec:
    id: strawberry.ID
    data: CLOB | None
    format: SpecFormat
    type: APISpecType

    @strawberry.field(
        description="Where the spec is fetched from.", extensions=sanitized(Scope.API_SPEC_FETCH_REQUEST_READ)
    )
    async def fetch_request(self, info: Info) -> FetchRequest | None:
        return FetchRequest.of(await info.context.loaders.fetch_request_by_api_definition.load(self.id))


@strawberry.type(description="An event specification; its id is its event definition's.")
class EventSpec:
    id: strawberry.ID
    data: CLOB | None
    type: EventSpecType
    format: SpecFormat

    @strawberry.field(
        description="Where the spec is fetched from.", extensions=sanitized(Scope.EVENT_SPEC_FETCH_REQUEST_READ)
    )
    async def fetch_request(self, info: Info) -> FetchRequest | None:
        return FetchRequest.of(await info.context.loaders.fetch_request_by_event_definition.load(self.id))


Spec = TypeVar("Spec", APISpec, EventSpec)


def spec_of(
    spec: type[Spec], spec_type: Callable[[str], Any], model: models.APIDefinition | models.EventDefinition
) -> Spec | None:
    """The definition's spec, if it has one: ``spec`` (APISpec, EventSpec) with its kind's ``spec_type`` enum."""
    if not (model.spec_type and model.spec_format):
        return None
    return spec(
        id=strawberry.ID(model.id),
        data=maybe(CLOB, model.spec_data),
        type=spec_type(model.spec_type),
        format=SpecFormat(model.spec_format),
    )


@strawberry.type(description="An API of an application.")
class APIDefinition:
    id: strawberry.ID
    name: str
    description: str | None
    spec: APISpec | None
    target_url: str = strawberry.field(name="targetURL")
    group: str | None
    version: Version | None
    # Compass names these four in snake case on APIDefinition alone.
    created_at: Timestamp | None = strawberry.field(name="created_at")
    updated_at: Timestamp | None = strawberry.field(name="updated_at")
    deleted_at: Timestamp | None = strawberry.field(name="deleted_at")
    error: str | None

    @classmethod
    def of(cls, model: models.APIDefinition) -> APIDefinition:
        return cls(
            id=strawberry.ID(model.id),
            name=model.name,
            description=model.description,
            spec=spec_of(APISpec, APISpecType, model),
            target_url=model.target_url,
            group=model.group,
            version=Version.of(model),
            created_at=Timestamp(model.created_at),
            updated_at=maybe(Timestamp, model.updated_at),
            deleted_at=maybe(Timestamp, model.deleted_at),
            error=model.error,
        )


@strawberry.type(description="Events an application sends.")
class EventDefinition:
    id: strawberry.ID
    name: str
    description: str | None
    group: str | None
    spec: EventSpec | None
    version: Version | None
    created_at: Timestamp | None
    updated_at: Timestamp | None
    deleted_at: Timestamp | None
    error: str | None

    @classmethod
    def of(cls, model: models.EventDefinition) -> EventDefinition:
        return cls(
            id=strawberry.ID(model.id),
            name=model.name,
            description=model.description,
            group=model.group,
            spec=spec_of(EventSpec, EventSpecType, model),
            version=Version.of(model),
            created_at=Timestamp(model.created_at),
            updated_at=maybe(Timestamp, model.updated_at),
            deleted_at=maybe(Timestamp, model.deleted_at),
            error=model.error,
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
    created_at: Timestamp | None
    updated_at: Timestamp | None
    deleted_at: Timestamp | None
    error: str | None

    @classmethod
    def of(cls, model: models.Document) -> Document:
        return cls(
            id=strawberry.ID(model.id),
            title=model.title,
            display_name=model.display_name,
            description=model.description,
            format=DocumentFormat(model.format),
            kind=model.kind,
            data=maybe(CLOB, model.data),
            created_at=Timestamp(model.created_at),
            updated_at=maybe(Timestamp, model.updated_at),
            deleted_at=maybe(Timestamp, model.deleted_at),
            error=model.error,
        )

    @strawberry.field(
        description="Where the document is fetched from.", extensions=sanitized(Scope.DOCUMENT_FETCH_REQUEST_READ)
    )
    async def fetch_request(self, info: Info) -> FetchRequest | None:
        return FetchRequest.of(await info.context.loaders.fetch_request_by_document.load(self.id))


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
            context=maybe(JSONString, model.context),
            input_params=maybe(JSONString, model.input_params),
            auth=Auth.of(model.auth),
            status=BundleInstanceAuthStatus(
                condition=BundleInstanceAuthStatusCondition(model.status_condition),
                timestamp=Timestamp(model.status_timestamp),
                message=model.status_message,
                reason=model.status_reason,
            ),
            runtime_id=maybe(strawberry.ID, model.runtime_id),
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
    correlation_ids: list[str] | None = strawberry.field(name="correlationIDs")
    created_at: Timestamp | None
    updated_at: Timestamp | None
    deleted_at: Timestamp | None
    error: str | None

    @classmethod
    def of(cls, model: models.Bundle) -> Bundle:
        return cls(
            model=model,
            id=strawberry.ID(model.id),
            name=model.name,
            description=model.description,
            instance_auth_request_input_schema=maybe(JSONSchema, model.instance_auth_request_input_schema),
            default_instance_auth=Auth.of(model.default_instance_auth),
            correlation_ids=model.correlation_ids,
            created_at=Timestamp(model.created_at),
            updated_at=maybe(Timestamp, model.updated_at),
            deleted_at=maybe(Timestamp, model.deleted_at),
            error=model.error,
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


@strawberry.interface(
    description="An identity of an application, runtime or integration system; its id is the client id its "
    "certificate or its OAuth client credentials carry."
)
class SystemAuth:
    id: strawberry.ID
    auth: Auth | None
    type: SystemAuthReferenceType | None
    tenant_id: str | None = strawberry.field(description="The tenant of the object it belongs to.")
    reference_object_id: strawberry.ID | None = strawberry.field(description="The id of the object it belongs to.")

    @classmethod
    def of(cls, model: models.SystemAuth, *, client_secret: str | None = None) -> Self:
        """``client_secret``: only the answer that issues client credentials shows it; stored, it is a hash, and
        its ``clientSecret`` reads "" afterwards (as Hydra shows a client's secret once)."""
        value = model.value
        if client_secret is not None and value is not None:
            oauth = {**value["credential"]["oauth"], "clientSecret": client_secret}
            value = {**value, "credential": {"oauth": oauth}}
        return cls(
            id=strawberry.ID(model.id),
            auth=Auth.of(value),
            type=_reference_type(model),
            tenant_id=model.tenant_id,
            reference_object_id=maybe(
                strawberry.ID, model.runtime_id or model.application_id or model.integration_system_id
            ),
        )


def _reference_type(model: models.SystemAuth) -> SystemAuthReferenceType:
    if model.runtime_id is not None:
        return SystemAuthReferenceType.RUNTIME
    if model.integration_system_id is not None:
        return SystemAuthReferenceType.INTEGRATION_SYSTEM
    return SystemAuthReferenceType.APPLICATION


@strawberry.type(description="An identity of an application.")
class AppSystemAuth(SystemAuth):
    pass


@strawberry.type(description="An identity of a runtime.")
class RuntimeSystemAuth(SystemAuth):
    pass


@strawberry.type(description="Client credentials of an integration system.")
class IntSysSystemAuth(SystemAuth):
    auth: Auth | None = strawberry.field(extensions=sanitized(Scope.INTEGRATION_SYSTEM_AUTHS_READ))


def system_auth_of(
    model: models.SystemAuth, *, client_secret: str | None = None
) -> AppSystemAuth | RuntimeSystemAuth | IntSysSystemAuth:
    kind = _reference_type(model)
    if kind is SystemAuthReferenceType.RUNTIME:
        return RuntimeSystemAuth.of(model, client_secret=client_secret)
    if kind is SystemAuthReferenceType.INTEGRATION_SYSTEM:
        return IntSysSystemAuth.of(model, client_secret=client_secret)
    return AppSystemAuth.of(model, client_secret=client_secret)


@strawberry.type(description="A business system registered in a tenant.")
class Application:
    id: strawberry.ID
    name: str
    system_number: str | None
    base_url: str | None
    provider_name: str | None
    description: str | None
    integration_system_id: strawberry.ID | None = strawberry.field(name="integrationSystemID")
    application_template_id: strawberry.ID | None = strawberry.field(name="applicationTemplateID")
    health_check_url: str | None = strawberry.field(name="healthCheckURL")
    status: ApplicationStatus
    created_at: Timestamp | None
    updated_at: Timestamp | None
    local_tenant_id: str | None = strawberry.field(name="localTenantID")
    application_namespace: str | None
    system_status: str | None
    deleted_at: Timestamp | None
    error: str | None

    @classmethod
    def of(cls, model: models.Application, *, name: str | None = None) -> Application:
        return cls(
            id=strawberry.ID(model.id),
            name=name or model.name,
            system_number=model.system_number,
            base_url=model.base_url,
            provider_name=model.provider_name,
            description=model.description,
            integration_system_id=maybe(strawberry.ID, model.integration_system_id),
            application_template_id=maybe(strawberry.ID, model.application_template_id),
            health_check_url=model.healthcheck_url,
            status=ApplicationStatus(
                condition=ApplicationStatusCondition(model.status_condition), timestamp=Timestamp(model.status_timestamp)
            ),
            created_at=Timestamp(model.created_at),
            updated_at=Timestamp(model.updated_at),
            local_tenant_id=model.local_tenant_id,
            application_namespace=model.application_namespace,
            system_status=model.system_status,
            deleted_at=maybe(Timestamp, model.deleted_at),
            error=model.error,
        )

    @strawberry.field(
        description="The template it was registered from; null once the template is deleted.",
        extensions=sanitized(Scope.APPLICATION_APPLICATION_TEMPLATE_READ),
    )
    async def application_template(
        self, info: Info
    ) -> Annotated[ApplicationTemplate, strawberry.lazy("director.graphql.apptemplate.types")] | None:
        if self.application_template_id is None:
            return None
        model = await info.context.loaders.application_template_by_id.load(self.application_template_id)
        return _template_type().of(model) if model is not None else None

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

    @strawberry.field(description="One API definition of the application, in a bundle or not.")
    async def api_definition(self, info: Info, id: strawberry.ID) -> APIDefinition | None:
        row = await info.context.loaders.api_definition_by_id.load(id)
        return APIDefinition.of(row) if row is not None and row.application_id == self.id else None

    @strawberry.field(description="One event definition of the application, in a bundle or not.")
    async def event_definition(self, info: Info, id: strawberry.ID) -> EventDefinition | None:
        row = await info.context.loaders.event_definition_by_id.load(id)
        return EventDefinition.of(row) if row is not None and row.application_id == self.id else None

    @strawberry.field(description="What the application needs of other systems (ORD integration dependencies).")
    async def integration_dependencies(
        self, info: Info, first: First = 200, after: After = None
    ) -> Annotated[IntegrationDependencyPage, strawberry.lazy("director.graphql.integrationdependency.types")] | None:
        request = PageRequest.of(first, after)
        rows = await info.context.loaders.integration_dependencies_by_application.load(self.id)
        page_type, dependency_type = _dependency_types()
        return page_type.slice(rows, request, dependency_type.of)

    @strawberry.field(
        description="Compass's scheduled operations of the application (ORD aggregation, system fetching): "
        "pycompass runs neither, so there are none."
    )
    def operations(self) -> list[Operation | None] | None:
        return []

    @strawberry.field(description="The client ids the application's certificates carry.")
    async def auths(self, info: Info) -> list[AppSystemAuth]:
        return [AppSystemAuth.of(row) for row in await info.context.loaders.auths_by_application.load(self.id)]

    @strawberry.field(description='Where the application sends its events; defaultURL is "" without a runtime.')
    async def eventing_configuration(self, info: Info) -> ApplicationEventingConfiguration | None:
        url = await info.context.loaders.eventing_url_by_application.load(self.id)
        return ApplicationEventingConfiguration(default_url=url)


def _dependency_types() -> tuple[type[IntegrationDependencyPage], type[IntegrationDependency]]:
    """Imported late: that module imports this one (for Version)."""
    from director.graphql.integrationdependency.types import (  # noqa: PLC0415 - see the docstring
        IntegrationDependency,
        IntegrationDependencyPage,
    )

    return IntegrationDependencyPage, IntegrationDependency


def _template_type() -> type[ApplicationTemplate]:
    """The template's GraphQL type, imported late: its module imports this one (for Webhook)."""
    from director.graphql.apptemplate.types import ApplicationTemplate  # noqa: PLC0415 - see the docstring

    return ApplicationTemplate


@strawberry.type(description="A page of applications.")
class ApplicationPage(Page[Application]):
    pass
