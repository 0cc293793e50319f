"""The access matrix: every query and mutation of both APIs, called the ways an attacker would, is refused.

The operations come from the live schemas (a new field is in the matrix without anyone adding it), each with a
placeholder document: its required arguments (and one optional id argument, where it has no required one) as
variables, filled with the ids and names of a victim's objects. The cases (columns) are: no credentials, a JWT of
another tenant, an expired JWT, a JWT signed with a wrong key, an unsigned (`alg: none`) JWT, a runtime
certificate used on another runtime's objects, a revoked certificate, a certificate of a foreign CA, and a
client-certificate header spoofed from an address that is not a trusted proxy. Each test fills one column and
asserts every cell of it is a refusal; the whole table is printed at the end of the run (per backend: the columns
that authentication decides before any row is read run on SQLite only).

A refusal is an answer whose errors are all access refusals (UNAUTHENTICATED, FORBIDDEN, CERTIFICATE_REVOKED, ...)
with no data, a failed TLS handshake, or, for another tenant's objects, an answer equal (ids aside) to the one
a tenant gets for ids that do not exist anywhere. Operations without any argument cannot name another runtime's
objects; with a certificate they answer about the caller only ("own only"), which the test checks.

A runtime's certificate reaches its formations' applications exactly this far: it asks for bundle instance auths of
their bundles and one-time tokens for them, and reads and deletes its own instance auths
(``RUNTIME_IN_FORMATION``; one column shows them answered). In the other runtime's column these operations name
the tenant's application outside every formation, and the other runtime's instance auth.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    Undefined,
    build_schema,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
)

from compass.auth.jwt import issue_token
from connector.ca import CertificateAuthority, CertificateSubject
from connector.graphql.schema import build_schema as build_connector_schema
from director.graphql.schema import build_schema as build_director_schema
from kernel.db import Database
from kernel.principal import ALL_SCOPES, PLATFORM_SCOPES
from tests.connector.support import (
    CONNECTOR,
    DIRECTOR,
    Connected,
    Credentials,
    Harness,
    client_ssl_context,
    csr_b64,
    ec_key,
    harness,
    name_of,
)
from tests.fixtures.servers import StartServer
from tests.security.support import SERVER_SETTINGS, UNTRUSTED_ADDRESS, Cell, record
from tests.support import Operator

DIRECTOR_SCHEMA = build_schema(build_director_schema().as_str())
CONNECTOR_SCHEMA = build_schema(build_connector_schema().as_str())
JSON_CONTENT = {"Content-Type": "application/json; charset=utf-8"}

NO_CREDENTIALS = "no credentials"
OTHER_TENANT = "other tenant's JWT"
EXPIRED_JWT = "expired JWT"
FORGED_JWT = "forged JWT"
UNSIGNED_JWT = "alg none JWT"
SCOPELESS_JWT = "JWT without scopes"
OTHER_RUNTIME = "other runtime's id"
IN_FORMATION = "runtime, own formation"
REVOKED = "revoked cert"
FOREIGN_CA = "foreign CA cert"
SPOOFED_HEADER = "spoofed XFCC"

ACCESS_REFUSALS = frozenset({"UNAUTHENTICATED", "FORBIDDEN", "CERTIFICATE_REVOKED", "TENANT_NOT_FOUND"})
SHORT_CODES = {
    "UNAUTHENTICATED": "UNAUTH",
    "CERTIFICATE_REVOKED": "REVOKED",
    "CSR_SUBJECT_MISMATCH": "CSR_MISMATCH",
}

# --- operations and their placeholder documents -----------------------------------------------------------

ID_ARGUMENTS = {
    "applicationID": "application",
    "runtimeID": "runtime",
    "bundleID": "bundle",
    "webhookID": "webhook",
    "objectID": "application",
    "systemAuthID": "system_auth",
    "tenantID": "tenant",
    "operationID": "operation",
    "apiID": "api_definition",
    "eventID": "event_definition",
    "appID": "application",
    "formationID": "formation_id",
    "formationTemplateID": "formation_template",
    "resourceID": "application",
    "constraintID": "formation_constraint",
}
# The kind of an `id` (or `authID`) argument, from the field's name; the first match wins.
FIELD_KINDS = [
    ("BundleInstanceAuth", "instance_auth"),
    ("bundleInstanceAuth", "instance_auth"),
    ("SystemAuth", "system_auth"),
    ("systemAuth", "system_auth"),
    ("IntegrationSystem", "integration_system"),
    ("integrationSystem", "integration_system"),
    ("APIDefinition", "api_definition"),
    ("EventDefinition", "event_definition"),
    ("Document", "document"),
    ("IntegrationDependency", "integration_dependency"),
    ("Bundle", "bundle"),
    ("Application", "application"),
    ("application", "application"),
    ("RuntimeContext", "runtime_context"),
    ("Runtime", "runtime"),
    ("runtime", "runtime"),
    ("Webhook", "webhook"),
    ("ByInstanceAuth", "instance_auth"),
    ("healthChecks", "application"),
    ("CertificateSubjectMapping", "certificate_subject_mapping"),
    ("certificateSubjectMapping", "certificate_subject_mapping"),
    ("tenantByLowestOwnerForResource", "runtime"),
    ("operation", "operation"),
    ("tenantBy", "tenant"),
    ("Tenant", "tenant"),
    ("FormationTemplate", "formation_template"),
    ("formationTemplate", "formation_template"),
    ("FormationConstraint", "formation_constraint"),
    ("formationConstraint", "formation_constraint"),
    ("ormation", "formation_id"),
    ("Watcher", "watcher"),
]
# Strings that name a tenant's objects: (input type or field, argument or input field) -> kind.
NAMED_STRINGS = {
    ("ApplicationRegisterInput", "name"): "application_name",
    ("RuntimeRegisterInput", "name"): "runtime_name",
    ("RuntimeUpdateInput", "name"): "runtime_name",
    ("FormationInput", "name"): "formation",
    ("formationByName", "name"): "formation",
    ("LabelDefinitionInput", "key"): "label_key",
    ("rootTenants", "externalTenant"): "tenant",
}
URL_FIELDS = frozenset({"url", "targetURL", "tokenEndpointURL", "baseUrl", "healthCheckURL"})
SCALAR_PLACEHOLDERS: dict[str, Any] = {
    "String": "placeholder",
    "Int": 1,
    "Float": 1.0,
    "Boolean": False,
    "Any": "placeholder",
    "Labels": {},
    "HttpHeaders": {},
    "QueryParams": {},
    "JSON": "{}",
    "JSONSchema": '{"type": "string"}',
    "HttpHeadersSerialized": "{}",
    "QueryParamsSerialized": "{}",
    "CLOB": "placeholder",
    "Timestamp": "2030-01-01T00:00:00Z",
    "PageCursor": "",
}


ID_KINDS = ("application", "bundle", "api_definition", "event_definition", "document", "webhook", "runtime",
            "instance_auth", "system_auth", "runtime_context", "tenant", "certificate_subject_mapping",
            "integration_system", "integration_dependency", "operation", "formation_id", "formation_template",
            "formation_constraint", "watcher")  # fmt: skip


def id_kind(field_name: str, argument: str) -> str:
    if argument in ID_ARGUMENTS:
        return ID_ARGUMENTS[argument]
    return next((kind for fragment, kind in FIELD_KINDS if fragment in field_name), "unknown")


@dataclass(frozen=True)
class References:
    """What the placeholder arguments name: kind (application, runtime, label_key, csr, ...) -> value."""

    values: dict[str, str]

    def __getitem__(self, kind: str) -> str:
        return self.values.get(kind, "00000000-0000-4000-8000-000000000000")

    def with_(self, **values: str) -> References:
        return References({**self.values, **values})


def fresh_references(csr: str) -> References:
    """Ids and names of the same shapes that exist nowhere."""
    ids = {kind: str(uuid.uuid4()) for kind in ID_KINDS}
    return References({**ids, **names_with(uuid.uuid4().hex[:12]), "csr": csr})


def names_with(suffix: str) -> dict[str, str]:
    return {
        "application_name": f"app{suffix}",
        "runtime_name": f"rt{suffix}",
        "formation": f"f{suffix}",
        "label_key": f"key{suffix}",
    }


@dataclass(frozen=True)
class Operation:
    api: Literal["director", "connector"]
    kind: Literal["query", "mutation"]
    field: str
    definition: GraphQLField
    schema: GraphQLSchema

    @property
    def name(self) -> str:
        return (
            f"{self.kind} {self.field}" if self.api == "director" else f"connector {self.kind} {self.field}"
        )

    @property
    def path(self) -> str:
        return DIRECTOR if self.api == "director" else CONNECTOR

    def arguments(self) -> list[tuple[str, GraphQLArgument]]:
        """The required arguments, and the first optional id argument when no required one names an id."""
        required = [
            (name, argument)
            for name, argument in self.definition.args.items()
            if isinstance(argument.type, GraphQLNonNull) and argument.default_value is Undefined
        ]
        if any(get_named_type(argument.type).name == "ID" for _, argument in required):
            return required
        optional_ids = [
            (name, argument)
            for name, argument in self.definition.args.items()
            if (name, argument) not in required and get_named_type(argument.type).name == "ID"
        ]
        return required + optional_ids[:1]

    def document(self, selection: str | None = None) -> str:
        arguments = self.arguments()
        declared = ", ".join(f"${name}: {argument.type}" for name, argument in arguments)
        passed = ", ".join(f"{name}: ${name}" for name, _ in arguments)
        if selection is None:
            selection = "" if is_leaf_type(get_named_type(self.definition.type)) else " { __typename }"
        head = f"{self.kind} ({declared})" if declared else self.kind
        return f"{head} {{ result: {self.field}{f'({passed})' if passed else ''}{selection} }}"

    def revealing_document(self) -> str:
        """The document with every argument-free leaf within two levels selected: what an answer would show."""
        return self.document(revealing_selection(self.definition.type))

    def variables(self, references: References) -> dict[str, Any]:
        return {
            name: placeholder(argument.type, self.field, name, references)
            for name, argument in self.arguments()
        }


def revealing_selection(type_: GraphQLOutputType, depth: int = 2) -> str:
    named = get_named_type(type_)
    if is_leaf_type(named):
        return ""
    parts = ["__typename"]
    if isinstance(named, GraphQLObjectType):
        for name, child in named.fields.items():
            if child.args or (not is_leaf_type(get_named_type(child.type)) and depth <= 1):
                continue
            parts.append(name + revealing_selection(child.type, depth - 1))
    return " { " + " ".join(parts) + " }"


def placeholder(type_: GraphQLInputType, parent: str, name: str, references: References) -> Any:
    """A value of the type that passes coercion; ids and names are the ``references``'."""
    if isinstance(type_, GraphQLNonNull):
        return placeholder(type_.of_type, parent, name, references)
    if isinstance(type_, GraphQLList):
        return [placeholder(type_.of_type, parent, name, references)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {
            field_name: placeholder(input_field.type, type_.name, field_name, references)
            for field_name, input_field in type_.fields.items()
            if isinstance(input_field.type, GraphQLNonNull) and input_field.default_value is Undefined
        }
    if type_.name == "ID":
        return references[id_kind(parent, name)]
    if (parent, name) in NAMED_STRINGS or name == "key":
        return references[NAMED_STRINGS.get((parent, name), "label_key")]
    if name == "csr":
        return references["csr"]
    if name in URL_FIELDS:
        return "https://placeholder.example.com/"
    return SCALAR_PLACEHOLDERS.get(type_.name, "placeholder")


def operations_of(api: Literal["director", "connector"], schema: GraphQLSchema) -> list[Operation]:
    found = []
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        for name, definition in (root.fields if root else {}).items():
            found.append(Operation(api, kind, name, definition, schema))  # type: ignore[arg-type]
    return found


# revokeCertificate revokes the caller's own certificate when it is let through: it goes last.
OPERATIONS = sorted(
    operations_of("director", DIRECTOR_SCHEMA) + operations_of("connector", CONNECTOR_SCHEMA),
    key=lambda operation: operation.field == "revokeCertificate",
)


# --- the victim's world -----------------------------------------------------------------------------------

CREATE_FORMATION = (
    "mutation ($name: String!) { result: createFormation(formation: {name: $name}) { id name } }"
)
CREATE_FORMATION_TEMPLATE = 'mutation ($name: String!) { result: createFormationTemplate(in: {name: $name, applicationTypes: ["t"]}) { id } }'
CREATE_LABEL_DEFINITION = 'mutation ($key: String!) { result: createLabelDefinition(in: {key: $key, schema: "{\\"type\\": \\"string\\"}"}) { key } }'
REGISTER_APPLICATION = """
    mutation ($in: ApplicationRegisterInput!) {
      result: registerApplication(in: $in) {
        id webhooks { id }
        bundles { data { id apiDefinitions { data { id } } eventDefinitions { data { id } } documents { data { id } } } }
      }
    }"""
REGISTER_RUNTIME = "mutation ($in: RuntimeRegisterInput!) { result: registerRuntime(in: $in) { id } }"
REGISTER_RUNTIME_CONTEXT = """
    mutation ($runtime: ID!) {
      result: registerRuntimeContext(runtimeID: $runtime, in: {key: "subscription", value: "victim"}) { id }
    }"""
ADD_INTEGRATION_DEPENDENCY = """
    mutation ($application: ID!) {
      result: addIntegrationDependencyToApplication(
        appID: $application, in: {name: "needs", ordID: ":integrationDependency:needs:v1"}
      ) { id }
    }"""
REQUEST_INSTANCE_AUTH = (
    "mutation ($bundle: ID!) { result: requestBundleInstanceAuthCreation(bundleID: $bundle, in: {}) { id } }"
)
REVOKE_RUNTIME_CERTIFICATES = "mutation ($id: ID!) { result: revokeRuntimeCertificates(id: $id) }"
CREATE_WATCHER = """
    mutation {
      result: createWatcher(in: {name: "victims", module: "victim", resourceToWatch: {group: "", version: "v1", resource: "secrets"}}) { id }
    }"""
SNAPSHOT = """
    query ($application: ID!, $holder: ID!, $other: ID!) {
      application(id: $application) {
        name labels webhooks { id url }
        bundles { data { id name instanceAuths { id status { condition } }
          apiDefinitions { data { id name } } eventDefinitions { data { id name } } documents { data { id title } } } }
      }
      holder: runtime(id: $holder) { name labels auths { id } }
      other: runtime(id: $other) { name labels auths { id } runtimeContexts { data { id key value labels } } }
      formations { data { name } }
      labelDefinitions { key schema }
      watchers { id name }
    }"""
VIEWER = "query { result: viewer { id type } }"


@dataclass
class World:
    """Tenant A with an application tree, a formation, a label definition, and two connected runtimes: the
    holder (whose certificate the attacks use) and the other one (whose objects they aim at)."""

    server: Harness
    operator: Operator
    references: References
    holder: Connected
    other: Connected
    outside: References

    def own_references(self) -> References:
        """The holder's own ids, as a certificate holder naming itself would send them."""
        return self.references.with_(
            runtime=self.holder.object_id,
            system_auth=self.holder.client_id,
            csr=csr_b64(ec_key(), self.holder.subject),
        )

    async def snapshot(self) -> dict[str, Any]:
        variables = {
            "application": self.references["application"],
            "holder": self.holder.object_id,
            "other": self.other.object_id,
        }
        return await self.operator.query(SNAPSHOT, variables)

    async def assert_untouched(self, before: dict[str, Any]) -> None:
        assert await self.snapshot() == before
        answer = await self.server.director(self.server.mtls(self.other.credentials), VIEWER)
        assert answer.result == {"id": self.other.object_id, "type": "RUNTIME"}


async def build_world(server: Harness) -> World:
    operator = await server.operator()
    names = names_with(uuid.uuid4().hex[:12])
    formation_id = (await operator.query(CREATE_FORMATION, {"name": names["formation"]}))["result"]["id"]
    template = (await operator.query(CREATE_FORMATION_TEMPLATE, {"name": names["formation"]}))["result"]
    await operator.query(CREATE_LABEL_DEFINITION, {"key": names["label_key"]})
    tree = {
        "name": names["application_name"],
        "labels": {names["label_key"]: "secret", "scenarios": [names["formation"]]},
        "webhooks": [{"type": "CONFIGURATION_CHANGED", "url": "https://victim.example.com/hook"}],
        "bundles": [
            {
                "name": "orders",
                "apiDefinitions": [{"name": "orders-api", "targetURL": "https://victim.example.com/api"}],
                "eventDefinitions": [{"name": "order-created"}],
                "documents": [{"title": "t", "displayName": "d", "description": "x", "format": "MARKDOWN"}],
            }
        ],
    }
    application = (await operator.query(REGISTER_APPLICATION, {"in": tree}))["result"]
    bundle = application["bundles"]["data"][0]
    dependency = (await operator.query(ADD_INTEGRATION_DEPENDENCY, {"application": application["id"]}))[
        "result"
    ]
    holder = await server.connect_runtime(operator, scenarios=[names["formation"]])
    other_in = {"name": names["runtime_name"], "labels": {"scenarios": [names["formation"]]}}
    other_id = (await operator.query(REGISTER_RUNTIME, {"in": other_in}))["result"]["id"]
    other = await server.connect(other_id, await server.runtime_token(operator, other_id))
    # The other runtime's own instance auth: what the holder aims at.
    requested = await server.director(
        server.mtls(other.credentials), REQUEST_INSTANCE_AUTH, {"bundle": bundle["id"]}
    )
    instance_auth = requested.result
    # An application of the tenant in no formation: what the holder's formation rights do not reach.
    outside_in = {"name": f"out{names['application_name']}", "bundles": [{"name": "outside"}]}
    outsider = (await operator.query(REGISTER_APPLICATION, {"in": outside_in}))["result"]
    context = (await operator.query(REGISTER_RUNTIME_CONTEXT, {"runtime": other_id}))["result"]
    watcher = (await operator.query(CREATE_WATCHER))["result"]
    references = References(
        {
            **names,
            "application": application["id"],
            "bundle": bundle["id"],
            "api_definition": bundle["apiDefinitions"]["data"][0]["id"],
            "event_definition": bundle["eventDefinitions"]["data"][0]["id"],
            "document": bundle["documents"]["data"][0]["id"],
            "webhook": application["webhooks"][0]["id"],
            "instance_auth": instance_auth["id"],
            "integration_dependency": dependency["id"],
            "runtime": other.object_id,
            "runtime_context": context["id"],
            "system_auth": other.client_id,
            "tenant": operator.tenant_id,
            # pycompass has no scheduled operations: any id names a missing one, the victim's as well.
            "operation": str(uuid.uuid4()),
            "csr": csr_b64(ec_key(), other.subject),
            # Integration systems are global, as in Compass: no tenant owns one to aim at.
            "integration_system": str(uuid.uuid4()),
            "formation_id": formation_id,
            "formation_template": template["id"],
            # Formation constraints are global too (and written only with a platform scope).
            "formation_constraint": str(uuid.uuid4()),
            "watcher": watcher["id"],
        }
    )
    outside = references.with_(application=outsider["id"], bundle=outsider["bundles"]["data"][0]["id"])
    return World(server, operator, references, holder, other, outside)


@pytest.fixture(scope="module")
async def server(
    start_server: StartServer, database: Database, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Harness]:
    """One harness per backend for the module: no test here moves the server's clock, and the world the read-only
    columns share must outlive each of them."""
    directory: Path = tmp_path_factory.mktemp("access-matrix")
    async with harness(start_server(**SERVER_SETTINGS), database, directory) as subject:
        yield subject


@pytest.fixture(scope="module")
async def shared_world(server: Harness) -> World:
    """The world of the columns whose every cell must be a refusal, built once per backend: each still snapshots it
    before its attack and compares after, so a column that changed it fails itself. The columns that change the
    world when they work (the control, the revocations, the formation's instance auth) build their own."""
    return await build_world(server)


# --- calling and judging ----------------------------------------------------------------------------------

Response = httpx.Response | httpx.TransportError


async def call(
    client: httpx.AsyncClient,
    operation: Operation,
    references: References,
    headers: dict[str, str] | None = None,
    *,
    document: str | None = None,
) -> Response:
    body = {"query": document or operation.document(), "variables": operation.variables(references)}
    try:
        return await client.post(operation.path, json=body, headers={**JSON_CONTENT, **(headers or {})})
    except httpx.TransportError as error:
        return error


def codes_of(body: dict[str, Any]) -> list[str]:
    return [str((error.get("extensions") or {}).get("code")) for error in body.get("errors") or []]


def refusal(response: Response, *, also: frozenset[str] = frozenset()) -> Cell:
    """Refused: a failed handshake, or errors that are all access refusals (or ``also``) and no data."""
    if isinstance(response, httpx.TransportError):
        return Cell(True, "TLS refused")
    try:
        body = response.json()
    except ValueError:
        return Cell(False, f"{response.status_code} {response.text[:24]!r}")
    codes = codes_of(body)
    data = body.get("data")
    result = data.get("result") if isinstance(data, dict) else None
    if codes and set(codes) <= ACCESS_REFUSALS | also and result is None:
        return Cell(True, f"{response.status_code} {SHORT_CODES.get(codes[0], codes[0])}")
    return Cell(False, f"{response.status_code} ANSWERED {','.join(codes) or 'data'}")


def normalized(response: Response, references: References, tenant_id: str) -> tuple[int, str]:
    assert not isinstance(response, httpx.TransportError), response
    text = response.text.replace(tenant_id, "<tenant>")
    for kind, value in references.values.items():
        text = text.replace(value, f"<{kind}>")
    return response.status_code, text


def own_only(response: Response, world: World) -> Cell:
    """An operation without arguments let through for a certificate: it must show nothing but the caller."""
    cell = refusal(response)
    if cell.refused or isinstance(response, httpx.TransportError):
        return cell
    # A certificate client may see its tenant's id (SystemAuth.tenantId): the tenant is not another's object; nor
    # are the tenant's watchers, which every runtime of it renders into its webhook configuration.
    others = [
        value for kind, value in world.references.values.items() if kind not in {"csr", "tenant", "watcher"}
    ]
    if (
        response.status_code == 200
        and not codes_of(response.json())
        and not any(value in response.text for value in others)
    ):
        return Cell(True, "own only")
    return Cell(False, f"{response.status_code} ANSWERED {response.text[:40]}")


def finish(backend: str, case: str, cells: dict[str, Cell]) -> None:
    for operation, cell in cells.items():
        record(backend, operation, case, cell)
    let_through = {operation: cell.outcome for operation, cell in cells.items() if not cell.refused}
    assert not let_through, f"{case}: not refused: {let_through}"


# The operations that need a platform scope (kernel.principal.PLATFORM_SCOPES).
PLATFORM_OPERATIONS = frozenset({
    "mutation writeTenants", "mutation writeTenant", "mutation deleteTenants", "mutation updateTenant",
    "mutation setTenantLabel", "query certificateSubjectMapping", "query certificateSubjectMappings",
    "mutation createCertificateSubjectMapping", "mutation updateCertificateSubjectMapping",
    "mutation deleteCertificateSubjectMapping", "query applicationsGlobal", "mutation createFormationConstraint",
    "mutation updateFormationConstraint", "mutation deleteFormationConstraint",
    "mutation attachConstraintToFormationTemplate", "mutation detachConstraintFromFormationTemplate",
    "mutation addTenantAccess", "mutation removeTenantAccess", "mutation subscribeTenant", "mutation unsubscribeTenant",
})  # fmt: skip


# Only a runtime's certificate may call these (an operator has requestOneTimeTokenForApplication).
RUNTIME_ONLY_OPERATIONS = frozenset({"mutation requestOneTimeTokenForApplicationFromRuntime"})
# What a runtime's certificate may do with its formations' applications and its own instance auths.
RUNTIME_IN_FORMATION = (
    "mutation requestBundleInstanceAuthCreation", "mutation requestOneTimeTokenForApplicationFromRuntime",
    "query bundleInstanceAuth", "query bundleByInstanceAuth", "mutation requestBundleInstanceAuthDeletion",
)  # fmt: skip


def needs_platform_scope(response: Response) -> bool:
    assert isinstance(response, httpx.Response)
    message = str(response.json()["errors"][0]["message"])
    return any(repr(str(scope)) in message for scope in PLATFORM_SCOPES)


def bearer(token: str, tenant_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Tenant": tenant_id}


async def attack_with_headers(server: Harness, world: World, headers: dict[str, str]) -> dict[str, Cell]:
    """Every operation over plain HTTP with these headers (the victim's own ids as arguments)."""
    return {
        operation.name: refusal(await call(server.http, operation, world.references, headers))
        for operation in OPERATIONS
    }


def claims(issuer: str, tenant_id: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": issuer, "sub": "attacker", "iat": now, "exp": now + 600, "tenant": tenant_id,
            "scopes": " ".join(sorted(ALL_SCOPES)), **extra}  # fmt: skip


def xfcc(certificate: x509.Certificate) -> str:
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    digest = certificate.fingerprint(hashes.SHA256()).hex()
    return f'Hash={digest};Subject="{certificate.subject.rfc4514_string()}";Cert="{quote(pem, safe="")}"'


# --- the placeholder documents themselves ---------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_every_operation_has_a_valid_placeholder_document(operation: Operation) -> None:
    references = fresh_references("csr")

    for document in (operation.document(), operation.revealing_document()):
        assert validate(operation.schema, parse(document)) == [], document
    json.dumps(operation.variables(references))


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_every_id_argument_names_a_kind_of_object(operation: Operation) -> None:
    """A new id argument the placeholders do not know would only ever name nothing: map it above."""
    unknown = [
        name
        for name, argument in operation.arguments()
        if get_named_type(argument.type).name == "ID" and id_kind(operation.field, name) == "unknown"
    ]

    assert not unknown


async def test_the_tenants_own_operator_passes_every_access_check(server: Harness) -> None:
    """The control: with the victim's own JWT no Director operation is refused for access or fails validation,
    so the refusals below are the access checks at work, not broken documents; but those that need a platform
    scope, which a tenant's token does not hold unless asked for, and those only a runtime may call."""
    world = await build_world(server)
    director = [operation for operation in OPERATIONS if operation.api == "director"]

    answers = {
        operation.name: await call(server.http, operation, world.references, world.operator.headers)
        for operation in director
    }

    failed = {
        name: codes_of(response.json())
        for name, response in answers.items()
        if isinstance(response, httpx.Response)
        and set(codes_of(response.json())) & (ACCESS_REFUSALS | {"GRAPHQL_VALIDATION_FAILED", "INTERNAL"})
    }
    platform = {
        name
        for name, codes in failed.items()
        if codes == ["FORBIDDEN"] and needs_platform_scope(answers[name])
    }
    assert platform == PLATFORM_OPERATIONS
    runtime_only = {
        name for name, codes in failed.items() if codes == ["FORBIDDEN"] and name in RUNTIME_ONLY_OPERATIONS
    }
    assert runtime_only == RUNTIME_ONLY_OPERATIONS
    assert not {name: codes for name, codes in failed.items() if name not in platform | runtime_only}
    assert all(
        isinstance(response, httpx.Response) and response.status_code == 200 for response in answers.values()
    )


# --- the columns ----------------------------------------------------------------------------------------

# The columns whose every cell is decided before a row is read (a JWT's signature and expiry, the TLS handshake, the
# trusted-proxy check of a client-certificate header, no credentials at all) run on SQLite only; those a tenant's
# or a runtime's rows decide (another tenant, another runtime, revocation, scopes) run on both backends.
REFUSED_BEFORE_ANY_ROW = pytest.mark.backend_independent(
    "the caller is refused by authentication, which reads no row, before any operation runs"
)


@REFUSED_BEFORE_ANY_ROW
async def test_no_credentials_are_refused_everywhere(
    server: Harness, backend: str, shared_world: World
) -> None:
    # given
    world = shared_world
    before = await world.snapshot()
    # when
    cells = await attack_with_headers(server, world, {})
    # then
    finish(backend, NO_CREDENTIALS, cells)
    await world.assert_untouched(before)


async def test_another_tenants_jwt_finds_nothing_of_the_tenant(
    server: Harness, backend: str, shared_world: World
) -> None:
    """Tenant B's operator names A's objects: every answer equals the one tenant B' gets for ids and names that
    exist nowhere (B and B' do the same things in step). Operations with nothing to name are sent with B's JWT
    and A in the Tenant header."""
    # given
    world = shared_world
    before = await world.snapshot()
    intruder, twin = await server.operator(), await server.operator()
    fresh = fresh_references(csr_b64(ec_key(), world.other.subject))
    cells: dict[str, Cell] = {}
    # when
    for operation in OPERATIONS:
        if operation.api == "connector":
            cells[operation.name] = refusal(
                await call(server.http, operation, world.references, intruder.headers)
            )
        elif not operation.arguments():
            headers = {**intruder.headers, "Tenant": world.operator.tenant_id}
            cells[operation.name] = refusal(await call(server.http, operation, world.references, headers))
        else:
            aimed = await call(server.http, operation, world.references, intruder.headers)
            missing = await call(server.http, operation, fresh, twin.headers)
            same = normalized(aimed, world.references, intruder.tenant_id) == normalized(
                missing, fresh, twin.tenant_id
            )
            code = (codes_of(aimed.json()) or ["data"])[0] if isinstance(aimed, httpx.Response) else "?"
            cells[operation.name] = Cell(
                same, f"as missing ({SHORT_CODES.get(code, code)})" if same else "DIFFERS"
            )
    # then
    finish(backend, OTHER_TENANT, cells)
    await world.assert_untouched(before)


def expired_jwt(server: Harness, tenant_id: str) -> str:
    return issue_token(server.settings, tenant_id=tenant_id, scopes=sorted(ALL_SCOPES), ttl_seconds=-60)


def forged_jwt(server: Harness, tenant_id: str) -> str:
    """Our issuer, the victim's tenant, every scope: signed with a key the server never saw."""
    wrong_key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(claims(server.settings.jwt_issuer, tenant_id), wrong_key, algorithm="ES256")


def unsigned_jwt(server: Harness, tenant_id: str) -> str:
    return jwt.encode(claims(server.settings.jwt_issuer, tenant_id), "", algorithm="none")


@REFUSED_BEFORE_ANY_ROW
@pytest.mark.parametrize(
    ("case", "token"),
    [(EXPIRED_JWT, expired_jwt), (FORGED_JWT, forged_jwt), (UNSIGNED_JWT, unsigned_jwt)],
    ids=["expired", "forged", "alg-none"],
)
async def test_a_bad_jwt_for_the_tenant_is_refused_everywhere(
    server: Harness, backend: str, shared_world: World, case: str, token: Callable[[Harness, str], str]
) -> None:
    # given: a token naming the victim's tenant
    world = shared_world
    before = await world.snapshot()
    headers = bearer(token(server, world.operator.tenant_id), world.operator.tenant_id)
    # when
    cells = await attack_with_headers(server, world, headers)
    # then
    finish(backend, case, cells)
    await world.assert_untouched(before)


async def test_a_runtime_certificate_cannot_reach_another_runtimes_objects(
    server: Harness, backend: str
) -> None:
    # given: the holder's certificate, every argument naming the other runtime or the tenant's other objects
    world = await build_world(server)
    before = await world.snapshot()
    client = server.mtls(world.holder.credentials)
    cells: dict[str, Cell] = {}
    # when
    for operation in OPERATIONS:
        if not operation.arguments():
            response = await call(
                client, operation, world.references, document=operation.revealing_document()
            )
            cells[operation.name] = own_only(response, world)
        else:
            references = world.outside if operation.name in RUNTIME_IN_FORMATION else world.references
            response = await call(client, operation, references)
            cells[operation.name] = refusal(response, also=frozenset({"CSR_SUBJECT_MISMATCH"}))
    # then
    finish(backend, OTHER_RUNTIME, cells)
    # revokeCertificate (no argument, last) revoked the holder's own certificate and nothing else
    assert (await server.director(server.mtls(world.holder.credentials), VIEWER)).codes == [
        "CERTIFICATE_REVOKED"
    ]
    await world.assert_untouched(before)


async def test_a_runtime_certificate_reaches_its_formations_bundles_and_its_own_instance_auths(
    server: Harness, backend: str
) -> None:
    # given: an instance auth the holder asked for; its formation's application and bundle are the victim's
    world = await build_world(server)
    client = server.mtls(world.holder.credentials)
    own = await server.director(client, REQUEST_INSTANCE_AUTH, {"bundle": world.references["bundle"]})
    references = world.references.with_(instance_auth=own.result["id"])
    by_name = {operation.name: operation for operation in OPERATIONS}
    # when: each in order, the deletion of its own instance auth last
    answers = {name: await call(client, by_name[name], references) for name in RUNTIME_IN_FORMATION}
    # then
    for name, response in answers.items():
        assert isinstance(response, httpx.Response)
        body = response.json()
        allowed = response.status_code == 200 and not codes_of(body) and body["data"]["result"] is not None
        record(
            backend,
            name,
            IN_FORMATION,
            Cell(False, f"{response.status_code} allowed") if allowed else refusal(response),
        )
        assert allowed, (name, body)


async def test_a_revoked_certificate_is_refused_everywhere(server: Harness, backend: str) -> None:
    # given: the holder's certificates revoked by the operator; the holder names its own objects
    world = await build_world(server)
    await world.operator.query(REVOKE_RUNTIME_CERTIFICATES, {"id": world.holder.object_id})
    before = await world.snapshot()
    client = server.mtls(world.holder.credentials)
    # when
    cells = {
        operation.name: refusal(await call(client, operation, world.own_references()))
        for operation in OPERATIONS
    }
    # then
    finish(backend, REVOKED, cells)
    await world.assert_untouched(before)


async def test_the_tenants_jwt_without_scopes_is_refused_everywhere(
    server: Harness, backend: str, shared_world: World
) -> None:
    """Scopes are checked where the arguments decide them too (invalidateSystemAuthOneTimeToken); `viewer`, which
    needs none, shows the caller only."""
    # given
    world = shared_world
    before = await world.snapshot()
    token = issue_token(server.settings, tenant_id=world.operator.tenant_id, scopes=[], ttl_seconds=600)
    headers = bearer(token, world.operator.tenant_id)
    # when
    cells = {}
    for operation in OPERATIONS:
        response = await call(server.http, operation, world.references, headers)
        cells[operation.name] = (
            own_only(response, world) if operation.field == "viewer" else refusal(response)
        )
    # then
    finish(backend, SCOPELESS_JWT, cells)
    await world.assert_untouched(before)


def foreign_credentials(server: Harness, subject: str) -> Credentials:
    """A certificate for a real client's subject, signed by a CA the server never heard of."""
    key = ec_key()
    csr = x509.CertificateSigningRequestBuilder().subject_name(name_of(subject)).sign(key, hashes.SHA256())
    issued = CertificateAuthority.generate().sign(
        csr,
        CertificateSubject.from_compass_string(subject),
        validity=timedelta(days=1),
        now=datetime.now(UTC),
    )
    return Credentials.write(server.directory, issued.chain_pem.encode(), key)


@REFUSED_BEFORE_ANY_ROW
async def test_a_certificate_of_a_foreign_ca_fails_the_handshake_everywhere(
    server: Harness, backend: str, shared_world: World
) -> None:
    # given
    world = shared_world
    before = await world.snapshot()
    foreign = client_ssl_context(server.ca.ca_pem, foreign_credentials(server, world.holder.subject))
    # when: a new connection for every call
    cells = {
        operation.name: refusal(await call(server.mtls(context=foreign), operation, world.own_references()))
        for operation in OPERATIONS
    }
    # then
    finish(backend, FOREIGN_CA, cells)
    await world.assert_untouched(before)


@REFUSED_BEFORE_ANY_ROW
async def test_a_client_certificate_header_from_an_untrusted_address_is_ignored(
    server: Harness, backend: str, shared_world: World
) -> None:
    # given: the holder's real certificate in the header; from the trusted proxy it authenticates
    world = shared_world
    before = await world.snapshot()
    header = {"X-Forwarded-Client-Cert": xfcc(world.holder.credentials.certificate)}
    trusted = await server.http.post(DIRECTOR, json={"query": VIEWER}, headers=header)
    assert trusted.json()["data"]["result"]["id"] == world.holder.object_id
    spoofing = server.plain_from(UNTRUSTED_ADDRESS)
    # when
    cells = {
        operation.name: refusal(await call(spoofing, operation, world.own_references(), header))
        for operation in OPERATIONS
    }
    # then
    finish(backend, SPOOFED_HEADER, cells)
    await world.assert_untouched(before)
