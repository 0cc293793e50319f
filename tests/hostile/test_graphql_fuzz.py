"""GraphQL fuzzing of both APIs: whatever document arrives, the answer is well-formed and never a crash.

The strategies walk the schemas themselves (Director: director/schema.graphql, Connector: its live schema):
root fields with arguments of the right type (and now and then of a wrong one), inline or as variables, nested
selections with aliases, inline and named fragments and directives; and broken documents: token soup,
truncations, mutations of valid ones, random text, random request envelopes and content types. Each case is one
HTTP request to the in-process app; `assert_well_formed` says what every answer must look like. The full run is
on SQLite; PostgreSQL gets a sample. The number of cases run is printed at the end of the session.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    build_schema,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import director
from connector.graphql.schema import build_schema as build_connector_schema
from tests.hostile.conftest import CONNECTOR, DIRECTOR, JSON_CONTENT, assert_well_formed, count_case
from tests.support import Operator

DIRECTOR_SCHEMA = build_schema((Path(director.__file__).parent / "schema.graphql").read_text())
CONNECTOR_SCHEMA = build_schema(build_connector_schema().as_str())

MAX_SELECTION_DEPTH = 5
WRONG_VALUE_ODDS = 20  # one argument in this many gets a value of a wrong type


def fuzz_settings(max_examples: int) -> Any:
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        # No explain phase: it traces every line the server runs and makes a failing run take minutes longer.
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        # The client and the tenant are shared by the examples on purpose: each example is one request.
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


# --- values -----------------------------------------------------------------------------------------------


class EnumValue(str):
    """An enum value: bare in a document, a string in variables."""


NAMES = st.from_regex(r"[_A-Za-z][_0-9A-Za-z]{0,8}", fullmatch=True)
TEXTS = st.text(max_size=30)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXTS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(NAMES, children, max_size=3),
    max_leaves=8,
)
OPERATION_NAMES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXTS, st.lists(TEXTS, max_size=2)
)
JSON_TEXTS = st.one_of(JSON_VALUES.map(json.dumps), TEXTS, st.just('{"type": "string"}'))
WRONG_VALUES = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXTS,
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(NAMES, st.integers(), max_size=2),
    NAMES.map(EnumValue),
)


def scalar_values(name: str, ids: tuple[str, ...]) -> st.SearchStrategy[Any]:
    known = [st.sampled_from(ids)] if ids else []
    strategies: dict[str, st.SearchStrategy[Any]] = {
        "ID": st.one_of(*known, st.uuids().map(str), TEXTS),
        "String": TEXTS,
        "Int": st.one_of(st.integers(min_value=-3, max_value=250), st.integers(min_value=-(2**31), max_value=2**31)),
        "Float": st.floats(allow_nan=False, allow_infinity=False),
        "Boolean": st.booleans(),
        "Any": JSON_VALUES,
        "Labels": st.dictionaries(NAMES, JSON_VALUES, max_size=3),
        "HttpHeaders": st.dictionaries(NAMES, st.lists(TEXTS, max_size=2), max_size=2),
        "QueryParams": st.dictionaries(NAMES, st.lists(TEXTS, max_size=2), max_size=2),
        "JSON": JSON_TEXTS,
        "JSONSchema": JSON_TEXTS,
        "HttpHeadersSerialized": JSON_TEXTS,
        "QueryParamsSerialized": JSON_TEXTS,
        "CLOB": TEXTS,
        "Timestamp": st.one_of(st.datetimes().map(lambda moment: moment.isoformat() + "Z"), TEXTS),
        "PageCursor": st.one_of(TEXTS, st.binary(max_size=12).map(lambda raw: raw.hex())),
    }
    return strategies.get(name, JSON_VALUES)


def input_values(type_: GraphQLInputType, ids: tuple[str, ...], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of the right type; null now and then where the type allows it."""
    if isinstance(type_, GraphQLNonNull):
        return _non_null_values(type_.of_type, ids, depth)
    inner = _non_null_values(type_, ids, depth)
    # Not at a bound of the range: hypothesis favours those, and null would come far more often than one in ten.
    return st.integers(min_value=0, max_value=9).flatmap(lambda roll: st.none() if roll == 5 else inner)


@cache
def _non_null_values(type_: GraphQLInputType, ids: tuple[str, ...], depth: int) -> st.SearchStrategy[Any]:
    if isinstance(type_, GraphQLList):
        item = input_values(type_.of_type, ids, depth)
        return st.one_of(st.lists(item, max_size=3), item)  # a single value coerces into a list
    if isinstance(type_, GraphQLEnumType):
        return st.sampled_from(sorted(type_.values)).map(EnumValue)
    if isinstance(type_, GraphQLInputObjectType):
        required, optional = {}, {}
        for name, input_field in type_.fields.items():
            strategy = input_values(input_field.type, ids, depth + 1)
            if isinstance(input_field.type, GraphQLNonNull) and input_field.default_value is Undefined:
                required[name] = strategy
            elif depth < 3:
                optional[name] = strategy
        return st.fixed_dictionaries(required, optional=optional)
    assert isinstance(type_, GraphQLScalarType)
    return scalar_values(type_.name, ids)


def literal(value: Any) -> str:
    """A Python value written as a GraphQL literal."""
    if isinstance(value, EnumValue):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{key}: {literal(item)}" for key, item in value.items()) + "}"


# --- documents --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One request: the document, its variables and operation name as sent."""

    document: str
    variables: dict[str, Any] | None = None
    operation_name: Any = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"query": self.document, "variables": self.variables}
        if self.operation_name is not None:
            body["operationName"] = self.operation_name
        return body


@dataclass
class DocumentBuilder:
    """Builds one document from a schema, drawing every choice from hypothesis."""

    draw: Any
    schema: GraphQLSchema
    ids: tuple[str, ...]
    use_variables: bool
    empty_parentheses: bool = False
    variables: dict[str, Any] = field(default_factory=dict)
    definitions: list[str] = field(default_factory=list)
    fragments: list[str] = field(default_factory=list)

    def chance(self, odds: int) -> bool:
        """True about once in ``odds`` draws (hypothesis favours the bounds of a range, so not at a bound)."""
        return bool(self.draw(st.integers(min_value=0, max_value=2 * odds - 1)) == odds)

    def argument_value(self, type_: GraphQLInputType) -> str:
        wrong = self.chance(WRONG_VALUE_ODDS)
        value = self.draw(WRONG_VALUES if wrong else input_values(type_, self.ids))
        if self.use_variables and self.draw(st.booleans()):
            name = f"v{len(self.variables)}"
            self.variables[name] = value
            self.definitions.append(f"${name}: {type_}")
            return f"${name}"
        return literal(value)

    def arguments(self, definition: GraphQLField) -> str:
        written = []
        for name, argument in definition.args.items():
            required = isinstance(argument.type, GraphQLNonNull) and argument.default_value is Undefined
            if (required and not self.chance(40)) or (not required and self.chance(3)):
                written.append(f"{name}: {self.argument_value(argument.type)}")
        if written:
            return "(" + ", ".join(written) + ")"
        return "()" if self.empty_parentheses and self.chance(2) else ""

    def directive(self) -> str:
        if not self.chance(12):
            return ""
        return f" @{self.draw(st.sampled_from(['include', 'skip']))}(if: {literal(self.draw(st.booleans()))})"

    def field(self, name: str, definition: GraphQLField, depth: int) -> str:
        alias = f"{self.draw(NAMES)}: " if self.chance(5) else ""
        selection = self.selection(definition.type, depth + 1)
        return f"{alias}{name}{self.arguments(definition)}{self.directive()}{selection}"

    def selection(self, type_: GraphQLOutputType, depth: int) -> str:
        named = get_named_type(type_)
        if is_leaf_type(named):
            return ""
        if isinstance(named, GraphQLUnionType):
            members = self.draw(st.lists(st.sampled_from(named.types), max_size=2, unique_by=lambda t: t.name))
            parts = ["__typename", *(f"... on {member.name} {self.fields(member, depth)}" for member in members)]
            return " { " + " ".join(parts) + " }"
        assert isinstance(named, (GraphQLObjectType, GraphQLInterfaceType))
        return " " + self.fields(named, depth)

    def fields(self, named: GraphQLObjectType | GraphQLInterfaceType, depth: int) -> str:
        names = sorted(named.fields)
        if depth >= MAX_SELECTION_DEPTH:
            names = [name for name in names if is_leaf_type(get_named_type(named.fields[name].type))]
        chosen = self.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)) if names else []
        parts = [self.field(name, named.fields[name], depth) for name in chosen]
        if not parts or self.chance(6):
            parts.append("__typename")
        if isinstance(named, GraphQLInterfaceType) and self.chance(2):
            implementation = self.draw(st.sampled_from(self.schema.get_possible_types(named)))
            parts.append(f"... on {implementation.name} {self.fields(implementation, depth)}")
        selection = "{ " + " ".join(parts) + " }"
        if self.chance(8):
            name = f"F{len(self.fragments)}"
            self.fragments.append(f"fragment {name} on {named.name} {selection}")
            return "{ ..." + name + " }"
        return selection

    def operation(self, root: GraphQLObjectType, keyword: Literal["query", "mutation"]) -> Case:
        chosen = self.draw(st.lists(st.sampled_from(sorted(root.fields)), min_size=1, max_size=3, unique=True))
        body = "{ " + " ".join(self.field(name, root.fields[name], 1) for name in chosen) + " }"
        name = self.draw(st.one_of(st.none(), NAMES))
        declared = f"({', '.join(self.definitions)})" if self.definitions else ""
        if keyword == "query" and name is None and not declared and self.chance(2):
            head = ""  # the shorthand form
        else:
            head = f"{keyword}{' ' + name if name else ''}{declared} "
        document = " ".join([head + body, *self.fragments])
        return Case(document, self.variables or None, name if name and self.chance(3) else None)


@st.composite
def documents(
    draw: Any, schema: GraphQLSchema, ids: tuple[str, ...] = (), empty_parentheses: bool = False
) -> Case:
    """A document built from the schema: mostly valid, now and then with a value of a wrong type."""
    builder = DocumentBuilder(draw, schema, ids, draw(st.booleans()), empty_parentheses)
    mutation = schema.mutation_type is not None and draw(st.integers(min_value=0, max_value=4)) < 2
    root = schema.mutation_type if mutation else schema.query_type
    assert root is not None
    return builder.operation(root, "mutation" if mutation else "query")


def _vocabulary(schema: GraphQLSchema) -> list[str]:
    names = sorted({name for type_ in schema.type_map.values() for name in getattr(type_, "fields", {})})
    punctuation = list("{}()[]:$@!=|&,") + ["...", '"', '"""', "#", "0", "-1", "1.5e3", "\\u0000", "\n"]
    keywords = ["query", "mutation", "subscription", "fragment", "on", "null", "true", "false", "__schema", "__type"]
    return punctuation + keywords + names + sorted(schema.type_map)


@st.composite
def broken_documents(draw: Any, schema: GraphQLSchema) -> Case:
    """Token soup, a truncated or mutated valid document, random text, or variables of the wrong types."""
    kind = draw(st.sampled_from(["soup", "truncated", "mutated", "text", "variables", "operation"]))
    if kind == "soup":
        tokens = st.one_of(st.sampled_from(_vocabulary(schema)), NAMES, st.text(max_size=3))
        variables = draw(st.none() | st.dictionaries(NAMES, JSON_VALUES))
        return Case(" ".join(draw(st.lists(tokens, max_size=60))), variables)
    if kind == "text":
        return Case(draw(st.text(max_size=200)))
    valid = draw(documents(schema))
    text = valid.document
    if kind == "truncated":
        return Case(text[: draw(st.integers(min_value=0, max_value=max(len(text) - 1, 0)))], valid.variables)
    if kind == "mutated":
        at = draw(st.integers(min_value=0, max_value=len(text)))
        cut = draw(st.integers(min_value=0, max_value=3))
        inserted = draw(st.one_of(st.sampled_from(_vocabulary(schema)), st.text(max_size=3)))
        return Case(text[:at] + inserted + text[at + cut :], valid.variables)
    if kind == "variables":
        names = list(valid.variables or {}) or draw(st.lists(NAMES, min_size=1, max_size=3))
        return Case(text, {name: draw(WRONG_VALUES | JSON_VALUES) for name in names})
    return Case(text, valid.variables, draw(OPERATION_NAMES))


REQUEST_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "query": st.one_of(TEXTS, JSON_VALUES, st.just("{ __typename }")),
        "variables": JSON_VALUES,
        "operationName": OPERATION_NAMES,
        "extensions": JSON_VALUES,
        "id": JSON_VALUES,
    },
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/graphql",
        "application/graphql-response+json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "",
    ]
)


@dataclass(frozen=True)
class RawRequest:
    """An HTTP request below the level of a GraphQL case: any method, content type, body or query string."""

    method: str
    content_type: str
    content: bytes
    params: dict[str, str]


JSON_BODIES = REQUEST_BODIES.map(lambda body: json.dumps(body).encode())
QUERY_STRINGS = st.dictionaries(st.sampled_from(["query", "variables", "operationName", "extensions"]), TEXTS)
RAW_REQUESTS = st.one_of(
    st.builds(RawRequest, st.just("POST"), st.just("application/json"), JSON_BODIES, st.just({})),
    st.builds(RawRequest, st.just("POST"), CONTENT_TYPES, st.binary(max_size=200), st.just({})),
    st.builds(RawRequest, st.just("GET"), st.just(""), st.just(b""), QUERY_STRINGS),
)


# --- sending ----------------------------------------------------------------------------------------------

ConnectorCredential = Literal["none", "garbage header", "garbage query parameter"]
CONNECTOR_CREDENTIALS: list[ConnectorCredential] = ["none", "garbage header", "garbage query parameter"]
GARBAGE_TOKENS = st.text(alphabet=string.ascii_letters + string.digits + "-_.=", min_size=1, max_size=80)


async def send(
    client: httpx.AsyncClient, path: str, case: Case, headers: dict[str, str], params: dict[str, str]
) -> httpx.Response:
    content = json.dumps(case.body()).encode()
    return await client.post(path, content=content, headers={**JSON_CONTENT, **headers}, params=params)


async def send_to_director(attacker: Operator, case: Case) -> httpx.Response:
    return await send(attacker.client, DIRECTOR, case, attacker.headers, {})


async def send_to_connector(
    client: httpx.AsyncClient, case: Case, credential: ConnectorCredential, token: str
) -> httpx.Response:
    if credential == "garbage header":
        return await send(client, CONNECTOR, case, {"Connector-Token": token}, {})
    if credential == "garbage query parameter":
        return await send(client, CONNECTOR, case, {}, {"token": token})
    return await send(client, CONNECTOR, case, {}, {})


async def send_raw(
    client: httpx.AsyncClient, path: str, request: RawRequest, headers: dict[str, str]
) -> httpx.Response:
    if request.method == "GET":
        return await client.get(path, params=request.params, headers={**headers, "Accept": "application/json"})
    headers = {**headers, "Content-Type": request.content_type}
    return await client.post(path, content=request.content, headers=headers)


SEED_APPLICATION = """
    mutation ($in: ApplicationRegisterInput!) {
      result: registerApplication(in: $in) {
        id bundles { data { id apiDefinitions { data { id } } eventDefinitions { data { id } } documents { data { id } } } }
        webhooks { id }
      }
    }"""
SEED_RUNTIME = 'mutation { result: registerRuntime(in: {name: "fuzz-runtime"}) { id } }'
SEED_INSTANCE_AUTH = (
    "mutation ($bundle: ID!) { result: requestBundleInstanceAuthCreation(bundleID: $bundle, in: {}) { id } }"
)
SEED_TREE = {
    "name": "fuzz-app",
    "labels": {"env": "fuzz"},
    "webhooks": [{"type": "CONFIGURATION_CHANGED", "url": "https://fuzz.example.com/hook"}],
    "bundles": [
        {
            "name": "fuzz-bundle",
            "apiDefinitions": [{"name": "api", "targetURL": "https://fuzz.example.com/api"}],
            "eventDefinitions": [{"name": "event"}],
            "documents": [{"title": "t", "displayName": "d", "description": "x", "format": "MARKDOWN"}],
        }
    ],
}


@pytest.fixture
async def known_ids(attacker: Operator) -> tuple[str, ...]:
    """Ids of real objects in the attacker's tenant, so that generated arguments find something now and then."""
    application = (await attacker.query(SEED_APPLICATION, {"in": SEED_TREE}))["result"]
    bundle = application["bundles"]["data"][0]
    runtime = (await attacker.query(SEED_RUNTIME))["result"]
    instance_auth = (await attacker.query(SEED_INSTANCE_AUTH, {"bundle": bundle["id"]}))["result"]
    return (
        application["id"],
        bundle["id"],
        bundle["apiDefinitions"]["data"][0]["id"],
        bundle["eventDefinitions"]["data"][0]["id"],
        bundle["documents"]["data"][0]["id"],
        application["webhooks"][0]["id"],
        runtime["id"],
        instance_auth["id"],
    )


# --- the strategies themselves ----------------------------------------------------------------------------


@pytest.mark.parametrize("schema", [DIRECTOR_SCHEMA, CONNECTOR_SCHEMA], ids=["director", "connector"])
def test_generated_documents_parse_and_mostly_pass_validation(schema: GraphQLSchema) -> None:
    """Guards the fuzzer: documents it calls valid must parse, and most must reach the resolvers."""
    outcomes: list[bool] = []

    @fuzz_settings(300)
    @given(case=documents(schema))
    def generate(case: Case) -> None:
        outcomes.append(not validate(schema, parse(case.document)))

    generate()

    assert len(outcomes) == 300
    assert sum(outcomes) / len(outcomes) > 0.6


# --- the Director ---------------------------------------------------------------------------------------


@fuzz_settings(1200)
@given(data=st.data())
async def test_director_answers_generated_documents_well_formed(
    sqlite_only: str, attacker: Operator, known_ids: tuple[str, ...], data: st.DataObject
) -> None:
    case = data.draw(documents(DIRECTOR_SCHEMA, known_ids), label="case")
    count_case("director: generated documents", sqlite_only)

    assert_well_formed(await send_to_director(attacker, case))


@fuzz_settings(700)
@given(case=broken_documents(DIRECTOR_SCHEMA))
async def test_director_answers_broken_documents_well_formed(sqlite_only: str, attacker: Operator, case: Case) -> None:
    count_case("director: broken documents", sqlite_only)

    assert_well_formed(await send_to_director(attacker, case))


# --- the Connector --------------------------------------------------------------------------------------


@fuzz_settings(500)
@given(
    case=documents(CONNECTOR_SCHEMA, empty_parentheses=True) | broken_documents(CONNECTOR_SCHEMA),
    credential=st.sampled_from(CONNECTOR_CREDENTIALS),
    token=GARBAGE_TOKENS,
)
async def test_connector_answers_documents_with_no_or_garbage_tokens_well_formed(
    sqlite_only: str, hostile_client: httpx.AsyncClient, case: Case, credential: ConnectorCredential, token: str
) -> None:
    count_case("connector: generated and broken documents", sqlite_only)

    assert_well_formed(await send_to_connector(hostile_client, case, credential, token))


# --- below GraphQL: envelopes, content types, methods ---------------------------------------------------


@fuzz_settings(500)
@given(request=RAW_REQUESTS, path=st.sampled_from([DIRECTOR, CONNECTOR]))
async def test_both_apis_answer_any_request_envelope_well_formed(
    sqlite_only: str, attacker: Operator, request: RawRequest, path: str
) -> None:
    count_case("both: request envelopes", sqlite_only)
    headers = attacker.headers if path == DIRECTOR else {"Connector-Token": "garbage"}

    assert_well_formed(await send_raw(attacker.client, path, request, headers))


# --- PostgreSQL: a sample -------------------------------------------------------------------------------


@fuzz_settings(150)
@given(data=st.data())
async def test_fuzz_sample_on_postgresql_is_answered_well_formed(
    postgresql_only: str, attacker: Operator, known_ids: tuple[str, ...], data: st.DataObject
) -> None:
    case = data.draw(documents(DIRECTOR_SCHEMA, known_ids) | broken_documents(DIRECTOR_SCHEMA), label="case")
    count_case("director: generated and broken documents (sample)", postgresql_only)

    assert_well_formed(await send_to_director(attacker, case))
