"""Input types; services receive them as plain dataclasses (strawberry inputs carry no GraphQL behaviour)."""

from __future__ import annotations

import strawberry

from director.graphql.enums import (
    APISpecType,
    ApplicationStatusCondition,
    BundleInstanceAuthSetStatusCondition,
    DocumentFormat,
    EventSpecType,
    FetchMode,
    RuntimeStatusCondition,
    SpecFormat,
    WebhookMode,
    WebhookType,
)
from director.graphql.scalars import (
    CLOB,
    HttpHeaders,
    HttpHeadersSerialized,
    JSONSchema,
    JSONString,
    Labels,
    QueryParams,
    QueryParamsSerialized,
    Timestamp,
)
from director.graphql.systemauth.types import OneTimeTokenType


@strawberry.input(description="Username and password.")
class BasicCredentialDataInput:
    username: str
    password: str


@strawberry.input(description="OAuth 2.0 client credentials.")
class OAuthCredentialDataInput:
    client_id: strawberry.ID
    client_secret: str
    url: str = strawberry.field(description="The token endpoint; an absolute http or https URL.")


@strawberry.input(description="OAuth 2.0 client credentials; the client authenticates with a certificate (mTLS).")
class CertificateOAuthCredentialDataInput:
    client_id: strawberry.ID
    certificate: str = strawberry.field(description="The client certificate (and key) in PEM.")
    url: str = strawberry.field(description="The token endpoint; an absolute http or https URL.")


@strawberry.input(description="Exactly one of basic, oauth or certificateOAuth.")
class CredentialDataInput:
    basic: BasicCredentialDataInput | None = None
    oauth: OAuthCredentialDataInput | None = None
    certificate_oauth: CertificateOAuthCredentialDataInput | None = strawberry.field(
        default=None, name="certificateOAuth"
    )


@strawberry.input(description="How to fetch a CSRF token before calling an API.")
class CSRFTokenCredentialRequestAuthInput:
    token_endpoint_url: str = strawberry.field(name="tokenEndpointURL")
    credential: CredentialDataInput | None = None
    additional_headers: HttpHeaders | None = strawberry.field(
        default=None, deprecation_reason="Use additionalHeadersSerialized."
    )
    additional_headers_serialized: HttpHeadersSerialized | None = None
    additional_query_params: QueryParams | None = strawberry.field(
        default=None, deprecation_reason="Use additionalQueryParamsSerialized."
    )
    additional_query_params_serialized: QueryParamsSerialized | None = None


@strawberry.input(description="Authentication needed before the call itself.")
class CredentialRequestAuthInput:
    csrf: CSRFTokenCredentialRequestAuthInput | None = None


@strawberry.input(description="Credentials and extra request parameters for calling an API.")
class AuthInput:
    credential: CredentialDataInput | None = None
    additional_headers: HttpHeaders | None = strawberry.field(
        default=None, deprecation_reason="Use additionalHeadersSerialized."
    )
    additional_query_params: QueryParams | None = strawberry.field(
        default=None, deprecation_reason="Use additionalQueryParamsSerialized."
    )
    additional_headers_serialized: HttpHeadersSerialized | None = None
    additional_query_params_serialized: QueryParamsSerialized | None = None
    request_auth: CredentialRequestAuthInput | None = None
    access_strategy: str | None = strawberry.field(
        default=None, description="How a runtime obtains the credentials (e.g. sap:cmp-mtls:v1), instead of credential."
    )
    cert_common_name: str | None = strawberry.field(
        default=None, description="Kept only on a system auth; ignored on bundles, webhooks and instance auths."
    )
    one_time_token: OneTimeTokenInput | None = strawberry.field(
        default=None, description="Kept only on a system auth; ignored on bundles, webhooks and instance auths."
    )


@strawberry.input(description="A one-time token as another Compass exported it.")
class OneTimeTokenInput:
    token: str
    connector_url: str | None = strawberry.field(default=None, name="connectorURL")
    used: bool
    expires_at: Timestamp
    created_at: Timestamp
    used_at: Timestamp
    raw: str | None = None
    raw_encoded: str | None = None
    type: OneTimeTokenType | None = None


@strawberry.input(description="A version of an API or event definition.")
class VersionInput:
    value: str
    deprecated: bool | None = False
    deprecated_since: str | None = None
    for_removal: bool | None = False


@strawberry.input(description="Where the Director fetches a spec from when it comes without data.")
class FetchRequestInput:
    url: str
    auth: AuthInput | None = strawberry.field(default=None, description="Basic or OAuth credentials for the fetch.")
    mode: FetchMode | None = strawberry.field(default=FetchMode.SINGLE, description="Only SINGLE is fetched.")
    filter: str | None = strawberry.field(default=None, description="Not supported: the spec is not fetched.")


@strawberry.input(description="An API specification: data, or a fetchRequest the Director fetches it with.")
class APISpecInput:
    data: CLOB | None = None
    type: APISpecType
    format: SpecFormat
    fetch_request: FetchRequestInput | None = None


@strawberry.input(description="An event specification: data, or a fetchRequest the Director fetches it with.")
class EventSpecInput:
    data: CLOB | None = None
    type: EventSpecType
    format: SpecFormat
    fetch_request: FetchRequestInput | None = None


@strawberry.input(description="An API of an application.")
class APIDefinitionInput:
    name: str
    target_url: str = strawberry.field(name="targetURL")
    description: str | None = None
    group: str | None = None
    spec: APISpecInput | None = None
    version: VersionInput | None = None


@strawberry.input(description="Events an application sends.")
class EventDefinitionInput:
    name: str
    description: str | None = None
    spec: EventSpecInput | None = None
    group: str | None = None
    version: VersionInput | None = None


@strawberry.input(description="Documentation of a bundle.")
class DocumentInput:
    title: str
    display_name: str
    description: str
    format: DocumentFormat
    kind: str | None = None
    data: CLOB | None = None
    fetch_request: FetchRequestInput | None = None


@strawberry.input(description="A bundle with its definitions, created in one call.")
class BundleCreateInput:
    name: str
    description: str | None = None
    instance_auth_request_input_schema: JSONSchema | None = None
    default_instance_auth: AuthInput | None = None
    api_definitions: list[APIDefinitionInput] | None = None
    event_definitions: list[EventDefinitionInput] | None = None
    documents: list[DocumentInput] | None = None
    correlation_ids: list[str] | None = strawberry.field(default=None, name="correlationIDs")


@strawberry.input(description="New values of a bundle's own fields.")
class BundleUpdateInput:
    name: str
    description: str | None = None
    instance_auth_request_input_schema: JSONSchema | None = None
    default_instance_auth: AuthInput | None = None


@strawberry.input(description="A webhook; url or urlTemplate, not both. Templates are Go text/template documents.")
class WebhookInput:
    type: WebhookType
    url: str | None = strawberry.field(default=None, description="An absolute http or https URL, at most 256 characters.")
    auth: AuthInput | None = None
    mode: WebhookMode | None = strawberry.field(
        default=None, description="ASYNC needs a statusTemplate; ASYNC_CALLBACK is for formation webhooks only."
    )
    version: str | None = strawberry.field(
        default=None, description="Selects tenant-mapping webhooks on an application template; ignored elsewhere."
    )
    correlation_id_key: str | None = strawberry.field(default=None, name="correlationIdKey")
    retry_interval: int | None = None
    timeout: int | None = None
    url_template: str | None = None
    input_template: str | None = None
    header_template: str | None = None
    output_template: str | None = strawberry.field(
        default=None, description="Required for REGISTER_APPLICATION and UNREGISTER_APPLICATION."
    )
    status_template: str | None = None


@strawberry.input(description="An application with its whole tree; registration is one transaction.")
class ApplicationRegisterInput:
    name: str
    provider_name: str | None = None
    description: str | None = None
    labels: Labels | None = None
    webhooks: list[WebhookInput] | None = None
    health_check_url: str | None = strawberry.field(default=None, name="healthCheckURL")
    base_url: str | None = None
    integration_system_id: strawberry.ID | None = strawberry.field(default=None, name="integrationSystemID")
    status_condition: ApplicationStatusCondition | None = None
    bundles: list[BundleCreateInput] | None = None
    application_namespace: str | None = None
    local_tenant_id: str | None = strawberry.field(default=None, name="localTenantID")


@strawberry.input(description="New values of an application's own fields (its name cannot change).")
class ApplicationUpdateInput:
    provider_name: str | None = None
    description: str | None = None
    health_check_url: str | None = strawberry.field(default=None, name="healthCheckURL")
    base_url: str | None = None
    integration_system_id: strawberry.ID | None = strawberry.field(default=None, name="integrationSystemID")
    status_condition: ApplicationStatusCondition | None = None
    application_namespace: str | None = None
    local_tenant_id: str | None = strawberry.field(default=None, name="localTenantID")


@strawberry.input(description="A runtime to register.")
class RuntimeRegisterInput:
    name: str
    description: str | None = None
    labels: Labels | None = None
    webhooks: list[WebhookInput] | None = None
    status_condition: RuntimeStatusCondition | None = None
    application_namespace: str | None = None


@strawberry.input(description="New values of a runtime; given labels are set, others are kept.")
class RuntimeUpdateInput:
    name: str
    description: str | None = None
    labels: Labels | None = None
    status_condition: RuntimeStatusCondition | None = None
    application_namespace: str | None = None


@strawberry.input(description="A label key and, optionally, a JSON schema its values must match.")
class LabelDefinitionInput:
    key: str
    schema: JSONSchema | None = None


@strawberry.input(description='Selects objects by label; query is $[*] ? (@ == "VALUE") or a JSON value.')
class LabelFilter:
    key: str
    query: str | None = None


@strawberry.input(description="A formation by name.")
class FormationInput:
    name: str
    template_name: str | None = None
    state: str | None = strawberry.field(
        default=None,
        description="The initial state of a new formation: INITIAL or DRAFT; needs formation.state:write.",
    )


@strawberry.input(description="The configuration an assignment from source to target starts with.")
class InitialConfiguration:
    source_id: strawberry.ID = strawberry.field(name="sourceID")
    target_id: strawberry.ID = strawberry.field(name="targetID")
    configuration: JSONString



@strawberry.input(description="A consumer's request for credentials of a bundle.")
class BundleInstanceAuthRequestInput:
    id: strawberry.ID | None = None
    context: JSONString | None = strawberry.field(default=None, description="E.g. the runtime id and namespace.")
    input_params: JSONString | None = strawberry.field(
        default=None, description="Checked against the bundle's instanceAuthRequestInputSchema."
    )


@strawberry.input(description="The outcome an application reports.")
class BundleInstanceAuthStatusInput:
    condition: BundleInstanceAuthSetStatusCondition = BundleInstanceAuthSetStatusCondition.SUCCEEDED
    message: str
    reason: str


@strawberry.input(description="Credentials an application sets for a request; FAILED carries no auth.")
class BundleInstanceAuthSetInput:
    auth: AuthInput | None = None
    status: BundleInstanceAuthStatusInput | None = None
