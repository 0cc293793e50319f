"""Input types; services receive them as plain dataclasses (strawberry inputs carry no GraphQL behaviour)."""

from __future__ import annotations

import strawberry

from director.graphql.enums import (
    APISpecType,
    ApplicationStatusCondition,
    BundleInstanceAuthSetStatusCondition,
    DocumentFormat,
    EventSpecType,
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
)


@strawberry.input(description="Username and password.")
class BasicCredentialDataInput:
    username: str
    password: str


@strawberry.input(description="OAuth 2.0 client credentials.")
class OAuthCredentialDataInput:
    client_id: str
    client_secret: str
    url: str


@strawberry.input(description="Exactly one of basic or oauth.")
class CredentialDataInput:
    basic: BasicCredentialDataInput | None = None
    oauth: OAuthCredentialDataInput | None = None


@strawberry.input(description="How to fetch a CSRF token before calling an API.")
class CSRFTokenCredentialRequestAuthInput:
    token_endpoint_url: str = strawberry.field(name="tokenEndpointURL")
    credential: CredentialDataInput | None = None
    additional_headers_serialized: HttpHeadersSerialized | None = None
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


@strawberry.input(description="A version of an API or event definition.")
class VersionInput:
    value: str
    deprecated: bool | None = False
    deprecated_since: str | None = None
    for_removal: bool | None = False


@strawberry.input(description="An API specification.")
class APISpecInput:
    type: APISpecType
    format: SpecFormat
    data: CLOB | None = None


@strawberry.input(description="An event specification.")
class EventSpecInput:
    type: EventSpecType
    format: SpecFormat
    data: CLOB | None = None


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


@strawberry.input(description="A bundle with its definitions, created in one call.")
class BundleCreateInput:
    name: str
    description: str | None = None
    instance_auth_request_input_schema: JSONSchema | None = None
    default_instance_auth: AuthInput | None = None
    api_definitions: list[APIDefinitionInput] | None = None
    event_definitions: list[EventDefinitionInput] | None = None
    documents: list[DocumentInput] | None = None


@strawberry.input(description="New values of a bundle's own fields.")
class BundleUpdateInput:
    name: str
    description: str | None = None
    instance_auth_request_input_schema: JSONSchema | None = None
    default_instance_auth: AuthInput | None = None


@strawberry.input(description="A webhook of an application or runtime.")
class WebhookInput:
    type: WebhookType
    url: str | None = None
    auth: AuthInput | None = None
    mode: WebhookMode | None = None


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


@strawberry.input(description="New values of an application's own fields (its name cannot change).")
class ApplicationUpdateInput:
    provider_name: str | None = None
    description: str | None = None
    health_check_url: str | None = strawberry.field(default=None, name="healthCheckURL")
    base_url: str | None = None
    integration_system_id: strawberry.ID | None = strawberry.field(default=None, name="integrationSystemID")
    status_condition: ApplicationStatusCondition | None = None


@strawberry.input(description="A runtime to register.")
class RuntimeRegisterInput:
    name: str
    description: str | None = None
    labels: Labels | None = None
    webhooks: list[WebhookInput] | None = None
    status_condition: RuntimeStatusCondition | None = None


@strawberry.input(description="New values of a runtime; given labels are set, others are kept.")
class RuntimeUpdateInput:
    name: str
    description: str | None = None
    labels: Labels | None = None
    status_condition: RuntimeStatusCondition | None = None


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
