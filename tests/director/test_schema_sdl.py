"""The printed SDL is a reviewed artifact, and it keeps the names and signatures Compass clients send."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
)
from graphql import build_schema as parse_sdl
from graphql.utilities.print_schema import print_input_value

from director.graphql.schema import build_schema

SDL_PATH = Path(__file__).resolve().parents[2] / "director" / "schema.graphql"
REGENERATE = "scripts/export-schema.sh"

QUERY_SIGNATURES = [
    "applications(filter: [LabelFilter!] = null, first: Int = 200, after: PageCursor = null): ApplicationPage!",
    "application(id: ID!): Application",
    "applicationsForRuntime(runtimeID: ID!, first: Int = 200, after: PageCursor = null): ApplicationPage!",
    "runtimes(filter: [LabelFilter!] = null, first: Int = 200, after: PageCursor = null): RuntimePage!",
    "runtime(id: ID!): Runtime",
    "labelDefinitions: [LabelDefinition!]!",
    "labelDefinition(key: String!): LabelDefinition",
    "viewer: Viewer!",
    "formations(first: Int = 200, after: PageCursor = null): FormationPage!",
    "formationByName(name: String!): Formation",
    "formationsForObject(objectID: String!): [Formation!]!",
    "tenants(first: Int = 200, after: PageCursor = null, searchTerm: String = null): TenantPage!",
    "systemAuth(id: ID!): SystemAuth",
    "automaticScenarioAssignmentForScenario(scenarioName: String!): AutomaticScenarioAssignment",
    "automaticScenarioAssignmentsForSelector(selector: LabelSelectorInput!): [AutomaticScenarioAssignment!]!",
    "automaticScenarioAssignments(first: Int = 200, after: PageCursor = null): AutomaticScenarioAssignmentPage",
]
MUTATION_SIGNATURES = [
    "registerApplication(in: ApplicationRegisterInput!, mode: OperationMode = SYNC): Application!",
    "updateApplication(id: ID!, in: ApplicationUpdateInput!): Application!",
    "unregisterApplication(id: ID!, mode: OperationMode = SYNC): Application!",
    "registerRuntime(in: RuntimeRegisterInput!): Runtime!",
    "updateRuntime(id: ID!, in: RuntimeUpdateInput!): Runtime!",
    "unregisterRuntime(id: ID!): Runtime!",
    "setApplicationLabel(applicationID: ID!, key: String!, value: Any!): Label!",
    "deleteApplicationLabel(applicationID: ID!, key: String!): Label!",
    "setRuntimeLabel(runtimeID: ID!, key: String!, value: Any!): Label!",
    "deleteRuntimeLabel(runtimeID: ID!, key: String!): Label!",
    "createLabelDefinition(in: LabelDefinitionInput!): LabelDefinition!",
    "updateLabelDefinition(in: LabelDefinitionInput!): LabelDefinition!",
    "deleteLabelDefinition(key: String!, deleteRelatedLabels: Boolean = false): LabelDefinition!",
    "addBundle(applicationID: ID!, in: BundleCreateInput!): Bundle!",
    "updateBundle(id: ID!, in: BundleUpdateInput!): Bundle!",
    "deleteBundle(id: ID!): Bundle!",
    "addAPIDefinitionToBundle(bundleID: ID!, in: APIDefinitionInput!): APIDefinition!",
    "updateAPIDefinition(id: ID!, in: APIDefinitionInput!): APIDefinition!",
    "deleteAPIDefinition(id: ID!): APIDefinition!",
    "addEventDefinitionToBundle(bundleID: ID!, in: EventDefinitionInput!): EventDefinition!",
    "updateEventDefinition(id: ID!, in: EventDefinitionInput!): EventDefinition!",
    "deleteEventDefinition(id: ID!): EventDefinition!",
    "addDocumentToBundle(bundleID: ID!, in: DocumentInput!): Document!",
    "deleteDocument(id: ID!): Document!",
    (
        "addWebhook(in: WebhookInput!, applicationID: ID = null, runtimeID: ID = null, applicationTemplateID: ID = null, "
        "formationTemplateID: ID = null): Webhook!"
    ),
    "updateWebhook(webhookID: ID!, in: WebhookInput!): Webhook!",
    "deleteWebhook(webhookID: ID!): Webhook!",
    "requestOneTimeTokenForRuntime(id: ID!, systemAuthID: ID = null): OneTimeTokenForRuntime!",
    "requestOneTimeTokenForApplication(id: ID!, systemAuthID: ID = null): OneTimeTokenForApplication!",
    "invalidateSystemAuthOneTimeToken(authID: ID!): SystemAuth!",
    "createFormation(formation: FormationInput!): Formation!",
    "deleteFormation(formation: FormationInput!): Formation!",
    (
        "assignFormation(objectID: ID!, objectType: FormationObjectType!, formation: FormationInput!, "
        "initialConfigurations: [InitialConfiguration!] = null): Formation!"
    ),
    "unassignFormation(objectID: ID!, objectType: FormationObjectType!, formation: FormationInput!): Formation!",
    "registerRuntimeContext(runtimeID: ID!, in: RuntimeContextInput!): RuntimeContext!",
    "updateRuntimeContext(id: ID!, in: RuntimeContextInput!): RuntimeContext!",
    "unregisterRuntimeContext(id: ID!): RuntimeContext!",
]
BUNDLE_INSTANCE_AUTH_FIELDS = [
    ("Query", "bundleInstanceAuth"),
    ("Mutation", "requestBundleInstanceAuthCreation"),
    ("Mutation", "setBundleInstanceAuth"),
    ("Mutation", "requestBundleInstanceAuthDeletion"),
    ("Bundle", "instanceAuth"),
    ("Bundle", "instanceAuths"),
]
# Fields the Runtime Agent and Compass tooling select, by type (DESIGN.md §2).
TYPE_FIELDS = {
    "Application": "id name systemNumber baseUrl providerName description integrationSystemID labels status webhooks "
    "healthCheckURL bundles bundle auths createdAt updatedAt",
    "Bundle": "id name description instanceAuthRequestInputSchema defaultInstanceAuth apiDefinitions "
    "eventDefinitions documents",
    "APIDefinition": "id name description spec targetURL group version",
    "APISpec": "data format type",
    "Version": "value deprecated deprecatedSince forRemoval",
    "EventDefinition": "id name description group spec version",
    "Document": "id title displayName description format kind data",
    "Auth": "credential accessStrategy additionalHeaders additionalQueryParams additionalHeadersSerialized "
    "additionalQueryParamsSerialized requestAuth oneTimeToken certCommonName",
    "BasicCredentialData": "username password",
    "OAuthCredentialData": "clientId clientSecret url",
    "CertificateOAuthCredentialData": "clientId certificate url",
    "CSRFTokenCredentialRequestAuth": "tokenEndpointURL credential additionalHeaders additionalHeadersSerialized "
    "additionalQueryParams additionalQueryParamsSerialized",
    "Webhook": "id applicationID applicationTemplateID runtimeID integrationSystemID formationTemplateID type mode "
    "correlationIdKey retryInterval timeout url auth urlTemplate inputTemplate headerTemplate outputTemplate "
    "statusTemplate createdAt",
    "OneTimeToken": "token connectorURL used expiresAt createdAt usedAt raw rawEncoded type",
    "SystemAuth": "id auth type tenantId referenceObjectId",
    "Pageable": "pageInfo totalCount",
    "Runtime": "id name description labels status metadata auths runtimeContexts runtimeContext",
    "RuntimeMetadata": "creationTimestamp",
    "OneTimeTokenForRuntime": "token connectorURL used expiresAt createdAt usedAt raw rawEncoded type",
    "OneTimeTokenForApplication": "token connectorURL legacyConnectorURL used expiresAt createdAt usedAt raw "
    "rawEncoded type scenarioGroups",
    "Label": "key value",
    "LabelDefinition": "key schema",
    "Formation": "id name state",
    "AppSystemAuth": "id auth type tenantId referenceObjectId",
    "PageInfo": "startCursor endCursor hasNextPage",
    "ApplicationPage": "data pageInfo totalCount",
    "ApplicationRegisterInput": "name providerName description labels webhooks healthCheckURL baseUrl "
    "integrationSystemID statusCondition bundles",
    "RuntimeRegisterInput": "name description labels webhooks statusCondition",
    "BundleCreateInput": "name description instanceAuthRequestInputSchema defaultInstanceAuth apiDefinitions "
    "eventDefinitions documents",
    "APIDefinitionInput": "name description targetURL group spec version",
    "APISpecInput": "data type format",
    "VersionInput": "value deprecated deprecatedSince forRemoval",
    "EventDefinitionInput": "name description spec group version",
    "AuthInput": "credential accessStrategy additionalHeadersSerialized additionalQueryParamsSerialized "
    "requestAuth certCommonName oneTimeToken",
    "CredentialDataInput": "basic oauth certificateOAuth",
    "CertificateOAuthCredentialDataInput": "clientId certificate url",
    "CSRFTokenCredentialRequestAuthInput": "tokenEndpointURL credential additionalHeaders "
    "additionalHeadersSerialized additionalQueryParams additionalQueryParamsSerialized",
    "OneTimeTokenInput": "token connectorURL used expiresAt createdAt usedAt raw rawEncoded type",
    "WebhookInput": "type url auth mode version correlationIdKey retryInterval timeout urlTemplate inputTemplate "
    "headerTemplate outputTemplate statusTemplate",
    "FormationInput": "name templateName",
    "LabelFilter": "key query",
    "RuntimeContext": "id key value labels",
    "RuntimeContextPage": "data pageInfo totalCount",
    "RuntimeContextInput": "key value",
    "AutomaticScenarioAssignment": "scenarioName selector",
    "AutomaticScenarioAssignmentPage": "data pageInfo totalCount",
    "LabelSelectorInput": "key value",
}
ENUM_VALUES = {
    "FormationObjectType": {"APPLICATION", "RUNTIME", "RUNTIME_CONTEXT", "TENANT"},
    "APISpecType": {"ODATA", "OPEN_API"},
    "SpecFormat": {"YAML", "JSON", "XML"},
    "EventSpecType": {"ASYNC_API"},
    "RuntimeStatusCondition": {"INITIAL", "PROVISIONING", "CONNECTED", "FAILED"},
    "WebhookMode": {"SYNC", "ASYNC", "ASYNC_CALLBACK"},
    "WebhookType": {
        "CONFIGURATION_CHANGED",
        "APPLICATION_TENANT_MAPPING",
        "REGISTER_APPLICATION",
        "UNREGISTER_APPLICATION",
        "OPEN_RESOURCE_DISCOVERY",
        "OPEN_RESOURCE_DISCOVERY_STATIC",
        "FORMATION_LIFECYCLE",
        "SYSTEM_FIELD_DISCOVERY",
    },
}
SCALARS = [
    "Timestamp", "PageCursor", "Labels", "Any", "HttpHeaders", "QueryParams", "HttpHeadersSerialized",
    "QueryParamsSerialized", "JSONSchema", "CLOB",
]  # fmt: skip


@pytest.fixture(scope="module")
def committed() -> GraphQLSchema:
    return parse_sdl(SDL_PATH.read_text(encoding="utf-8"))


def _field_names(schema: GraphQLSchema, type_name: str) -> set[str]:
    named = schema.type_map[type_name]
    assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType)
    return set(named.fields)


def _signature(schema: GraphQLSchema, type_name: str, field_name: str) -> str:
    named = schema.type_map[type_name]
    assert isinstance(named, GraphQLObjectType)
    field = named.fields[field_name]
    arguments = ", ".join(print_input_value(name, argument) for name, argument in field.args.items())
    return f"{field_name}({arguments}): {field.type}" if arguments else f"{field_name}: {field.type}"


def test_committed_sdl_is_the_printed_schema() -> None:
    printed = build_schema().as_str() + "\n"

    assert SDL_PATH.read_text(encoding="utf-8") == printed, (
        f"director/schema.graphql is out of date with the code: run {REGENERATE} and review the diff"
    )


@pytest.mark.parametrize("signature", QUERY_SIGNATURES)
def test_query_keeps_the_compass_signature(committed: GraphQLSchema, signature: str) -> None:
    field_name = signature.split("(", maxsplit=1)[0].split(":", maxsplit=1)[0]

    assert _signature(committed, "Query", field_name) == signature


@pytest.mark.parametrize("signature", MUTATION_SIGNATURES)
def test_mutation_keeps_the_compass_signature(committed: GraphQLSchema, signature: str) -> None:
    field_name = signature.split("(", maxsplit=1)[0].split(":", maxsplit=1)[0]

    assert _signature(committed, "Mutation", field_name) == signature


@pytest.mark.parametrize(("type_name", "field_names"), TYPE_FIELDS.items())
def test_type_keeps_the_compass_fields(committed: GraphQLSchema, type_name: str, field_names: str) -> None:
    fields = _field_names(committed, type_name)

    assert set(field_names.split()) - set(fields) == set()


@pytest.mark.parametrize(("enum_name", "values"), ENUM_VALUES.items())
def test_enum_keeps_the_compass_values(committed: GraphQLSchema, enum_name: str, values: set[str]) -> None:
    enum = committed.type_map[enum_name]

    assert isinstance(enum, GraphQLEnumType)
    assert set(enum.values) == values


@pytest.mark.parametrize("scalar", SCALARS)
def test_compass_scalar_is_declared(committed: GraphQLSchema, scalar: str) -> None:
    assert scalar in committed.type_map


def test_credential_data_is_the_union_of_basic_oauth_and_certificate_oauth(committed: GraphQLSchema) -> None:
    union = committed.type_map["CredentialData"]

    assert isinstance(union, GraphQLUnionType)
    assert {member.name for member in union.types} == {
        "BasicCredentialData",
        "OAuthCredentialData",
        "CertificateOAuthCredentialData",
    }


@pytest.mark.parametrize(
    ("interface", "implementations"),
    [
        ("OneTimeToken", {"OneTimeTokenForRuntime", "OneTimeTokenForApplication"}),
        ("SystemAuth", {"AppSystemAuth", "RuntimeSystemAuth"}),
    ],
)
def test_compass_interface_is_implemented_by_its_types(
    committed: GraphQLSchema, interface: str, implementations: set[str]
) -> None:
    implementing = {
        name
        for name, named in committed.type_map.items()
        if isinstance(named, GraphQLObjectType) and interface in {parent.name for parent in named.interfaces}
    }

    assert implementations <= implementing


def test_every_page_implements_pageable(committed: GraphQLSchema) -> None:
    pages = [
        named for name, named in committed.type_map.items() if name.endswith("Page") and isinstance(named, GraphQLObjectType)
    ]

    assert pages
    assert [page.name for page in pages if "Pageable" not in {parent.name for parent in page.interfaces}] == []


@pytest.mark.parametrize(("type_name", "field_name"), BUNDLE_INSTANCE_AUTH_FIELDS)
def test_bundle_instance_auth_field_is_served(committed: GraphQLSchema, type_name: str, field_name: str) -> None:
    assert field_name in _field_names(committed, type_name)
