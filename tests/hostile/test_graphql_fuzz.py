"""GraphQL fuzzing of both APIs: whatever document arrives, the answer is well-formed and never a crash.

Documents come from the schemas themselves (Director: director/schema.graphql, Connector: its live schema)
through hypothesis-graphql: root fields, nested selections and arguments of the right type
(``Mode.POSITIVE``), or with exactly one violation of the schema (``Mode.NEGATIVE``: a value of a wrong
type, a missing required argument, null where null is not allowed, an unknown enum value, an Int out of
range). ``Dressing`` then rewrites each one the way clients write documents, which hypothesis-graphql does
not: arguments moved into variables, aliases, @include/@skip, named fragments, operation names (and, at the
Connector, empty argument lists). Broken documents (token soup, truncations, mutations of valid ones, random
text, variables of wrong types, odd operation names) and random request envelopes and content types go below
the schema. Each case is one HTTP request to the in-process app; `assert_well_formed` says what every answer
must look like. The full run is on SQLite; PostgreSQL gets a sample. The number of cases run is printed at the
end of the session.

Every test has an explicit example budget (``fuzz_settings(n)``) that keeps it to a few seconds on a 2-core
machine; ``derandomize=True`` makes each run send the same cases, and COMPASS_FUZZ_SCALE=k sends k times as
many.
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    NameNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    build_schema,
    get_named_type,
    parse,
    parse_type,
    print_ast,
    validate,
    value_from_ast_untyped,
)
from graphql.execution.values import get_variable_values
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes
from hypothesis_graphql._strategies.strategy import GraphQLStrategy, instance_cache

import director
from connector.graphql.schema import build_schema as build_connector_schema
from tests.hostile.support import CONNECTOR, DIRECTOR, JSON_CONTENT, assert_well_formed, count_case
from tests.support import Operator

DIRECTOR_SCHEMA = build_schema((Path(director.__file__).parent / "schema.graphql").read_text())
CONNECTOR_SCHEMA = build_schema(build_connector_schema().as_str())
CONNECTOR_VIOLABLE = ("signCertificateSigningRequest",)
"""The Connector's root fields with an argument: hypothesis-graphql refuses NEGATIVE mode on a root type
that has none to violate (the Connector's Query), so its violations are drawn from these alone."""


FUZZ_SCALE = int(os.environ.get("COMPASS_FUZZ_SCALE", "1"))
"""Multiplies every budget in this module: ``COMPASS_FUZZ_SCALE=20`` sends twenty times as many cases (the
budgets keep ``make test`` to a few seconds a test; a deeper run finds what a few seconds cannot)."""


def fuzz_settings(max_examples: int) -> Any:
    return settings(
        max_examples=max_examples * FUZZ_SCALE,
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
)


SCALAR_NODES: dict[type, Callable[[Any], ValueNode]] = {
    type(None): lambda _: nodes.Null,
    bool: nodes.Boolean,
    int: nodes.Int,
    float: nodes.Float,
    str: nodes.String,
}


def value_node(value: Any) -> ValueNode:
    """A JSON value as a GraphQL literal."""
    if isinstance(value, list):
        return nodes.List([value_node(item) for item in value])
    if isinstance(value, dict):
        return nodes.Object(
            [ObjectFieldNode(name=_name(key), value=value_node(item)) for key, item in value.items()]
        )
    return SCALAR_NODES[type(value)](value)


def scalar_values(ids: tuple[str, ...]) -> dict[str, st.SearchStrategy[ValueNode]]:
    """Literals of pycompass's custom scalars, which hypothesis-graphql cannot know; IDs are now and then
    those of real objects, Ints mostly the size of a page."""
    known = [st.sampled_from(ids)] if ids else []
    values: dict[str, st.SearchStrategy[Any]] = {
        "ID": st.one_of(*known, st.uuids().map(str), TEXTS),
        "Int": st.one_of(
            st.integers(min_value=-3, max_value=250), st.integers(min_value=-(2**31), max_value=2**31 - 1)
        ),
        # hypothesis-graphql writes null itself where the type allows it
        "Any": JSON_VALUES.filter(lambda value: value is not None),
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
    return {name: strategy.map(value_node) for name, strategy in values.items()}


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


def _as_node(document: DocumentNode) -> DocumentNode:
    return document


@cache
def generated(
    schema: GraphQLSchema, ids: tuple[str, ...], mode: Mode, fields: tuple[str, ...] | None = None
) -> st.SearchStrategy[DocumentNode]:
    """hypothesis-graphql's documents as syntax trees; built once per schema, ids and mode (building walks the
    whole schema)."""
    return from_schema(
        schema, fields=fields, custom_scalars=scalar_values(ids), print_ast=_as_node, mode=mode
    )


# hypothesis-graphql (pinned 0.13.5) caches its value strategies per schema but builds a new strategy for a
# field's arguments at every draw, and hypothesis reads a new composite's source (inspect, ast) each time: a
# large share of this module's CPU went there. The strategy depends only on the arguments, which the schema
# owns (so their ids are stable), and draws the same choices: what each example sends is unchanged.
GraphQLStrategy.list_of_arguments = instance_cache(  # type: ignore[method-assign,assignment]
    lambda arguments: tuple((name, id(argument)) for name, argument in arguments.items())
)(GraphQLStrategy.list_of_arguments)


def _name(value: str) -> NameNode:
    return NameNode(value=value)


@dataclass
class Dressing:
    """Rewrites a generated document the way clients write them, drawing every choice from hypothesis. The
    rewrite keeps a valid document valid and an invalid one invalid (``test_dressing_keeps_...``)."""

    draw: st.DrawFn
    schema: GraphQLSchema
    use_variables: bool
    empty_parentheses: bool = False
    aliases: int = 0
    variables: dict[str, Any] = field(default_factory=dict)
    definitions: list[VariableDefinitionNode] = field(default_factory=list)
    fragments: list[FragmentDefinitionNode] = field(default_factory=list)

    def chance(self, odds: int) -> bool:
        """True about once in ``odds`` draws (hypothesis favours the bounds of a range, so not at a bound)."""
        return bool(self.draw(st.integers(min_value=0, max_value=2 * odds - 1)) == odds)

    def case(self, document: DocumentNode) -> Case:
        (operation,) = document.definitions
        assert isinstance(operation, OperationDefinitionNode)
        root = self.schema.get_root_type(operation.operation)
        assert root is not None
        selection_set = self.selections(operation.selection_set, root)
        name = self.draw(st.one_of(st.none(), NAMES))
        dressed = replace(
            operation,
            name=_name(name) if name else None,
            variable_definitions=tuple(self.definitions),
            selection_set=selection_set,
        )
        text = print_ast(DocumentNode(definitions=(dressed, *self.fragments)))
        return Case(text, self.variables or None, name if name and self.chance(3) else None)

    def selections(self, selection_set: SelectionSetNode, parent: GraphQLNamedType) -> SelectionSetNode:
        dressed: list[FieldNode | InlineFragmentNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                assert isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
                dressed.append(self.field(selection, parent.fields[selection.name.value]))
            else:  # the fields of a union's or an interface's types, in an inline fragment per type
                assert isinstance(selection, InlineFragmentNode)
                assert selection.type_condition is not None
                condition = self.schema.get_type(selection.type_condition.name.value)
                assert condition is not None
                dressed.append(
                    replace(selection, selection_set=self.selections(selection.selection_set, condition))
                )
        return SelectionSetNode(selections=tuple(dressed))

    def field(self, node: FieldNode, definition: GraphQLField) -> FieldNode:
        arguments = tuple(
            self.argument(argument, definition.args[argument.name.value].type)
            for argument in node.arguments or ()
        )
        selection_set = node.selection_set
        if selection_set is not None:
            named = get_named_type(definition.type)
            selection_set = self.fragment(self.selections(selection_set, named), named)
        name = node.name
        if not arguments and self.empty_parentheses and self.chance(2):
            name = _name(f"{name.value}()")  # printed as written: `field()`, which the Connector accepts
        alias = node.alias
        if alias is None and self.chance(5):
            self.aliases += 1
            alias = _name(f"alias{self.aliases}")
        return replace(
            node,
            alias=alias,
            name=name,
            arguments=arguments,
            directives=self.directives(),
            selection_set=selection_set,
        )

    def argument(self, node: ArgumentNode, type_: GraphQLInputType) -> ArgumentNode:
        if not (self.use_variables and self.draw(st.booleans())):
            return node
        variable = VariableNode(name=_name(f"v{len(self.variables)}"))
        self.variables[variable.name.value] = value_from_ast_untyped(node.value)
        self.definitions.append(VariableDefinitionNode(variable=variable, type=parse_type(str(type_))))
        return replace(node, value=variable)

    def directives(self) -> tuple[DirectiveNode, ...]:
        if not self.chance(12):
            return ()
        condition = ArgumentNode(name=_name("if"), value=BooleanValueNode(value=self.draw(st.booleans())))
        return (
            DirectiveNode(
                name=_name(self.draw(st.sampled_from(["include", "skip"]))), arguments=(condition,)
            ),
        )

    def fragment(self, selection_set: SelectionSetNode, on: GraphQLNamedType) -> SelectionSetNode:
        if not self.chance(8):
            return selection_set
        name = _name(f"F{len(self.fragments)}")
        condition = NamedTypeNode(name=_name(on.name))
        self.fragments.append(
            FragmentDefinitionNode(name=name, type_condition=condition, selection_set=selection_set)
        )
        return SelectionSetNode(selections=(FragmentSpreadNode(name=name),))


@st.composite
def documents(
    draw: st.DrawFn,
    schema: GraphQLSchema,
    ids: tuple[str, ...] = (),
    *,
    mode: Mode = Mode.POSITIVE,
    fields: tuple[str, ...] | None = None,
    empty_parentheses: bool = False,
) -> Case:
    """A document from the schema, valid (``Mode.POSITIVE``) or with one violation of it (``Mode.NEGATIVE``),
    dressed as clients write them."""
    document = draw(generated(schema, ids, mode, fields))
    return Dressing(draw, schema, draw(st.booleans()), empty_parentheses).case(document)


def _vocabulary(schema: GraphQLSchema) -> list[str]:
    names = sorted({name for type_ in schema.type_map.values() for name in getattr(type_, "fields", {})})
    punctuation = [*"{}()[]:$@!=|&,", "...", '"', '"""', "#", "0", "-1", "1.5e3", "\\u0000", "\n"]
    keywords = [
        "query",
        "mutation",
        "subscription",
        "fragment",
        "on",
        "null",
        "true",
        "false",
        "__schema",
        "__type",
    ]
    return [*punctuation, *keywords, *names, *sorted(schema.type_map)]


@st.composite
def broken_documents(draw: st.DrawFn, schema: GraphQLSchema, violable: tuple[str, ...] | None = None) -> Case:
    """A document with a violation of the schema (in ``violable`` root fields; None: any), token soup, a
    truncated or mutated valid document, random text, or variables of the wrong types."""
    kind = draw(
        st.sampled_from(["violation", "soup", "truncated", "mutated", "text", "variables", "operation"])
    )
    if kind == "violation":
        return draw(documents(schema, mode=Mode.NEGATIVE, fields=violable))
    if kind == "soup":
        tokens = st.one_of(st.sampled_from(_vocabulary(schema)), NAMES, st.text(max_size=3))
        variables = draw(st.none() | st.dictionaries(NAMES, JSON_VALUES))
        return Case(" ".join(draw(st.lists(tokens, max_size=60))), variables)
    if kind == "text":
        return Case(draw(st.text(max_size=200)))
    return draw(spoiled(draw(documents(schema)), schema, kind))


@st.composite
def spoiled(draw: st.DrawFn, valid: Case, schema: GraphQLSchema, kind: str) -> Case:
    """A valid document cut short, with text put in or cut out, with variables of the wrong types, or under an
    odd operation name."""
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
        return await client.get(
            path, params=request.params, headers={**headers, "Accept": "application/json"}
        )
    headers = {**headers, "Content-Type": request.content_type}
    return await client.post(path, content=request.content, headers=headers)


SEED_APPLICATION = """
    mutation ($in: ApplicationRegisterInput!) {
      result: registerApplication(in: $in) {
        id
        bundles {
          data {
            id apiDefinitions { data { id } } eventDefinitions { data { id } } documents { data { id } }
          }
        }
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
    """Ids of real objects in the attacker's tenant, so that generated arguments find something now and
    then."""
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


def refusals(schema: GraphQLSchema, case: Case) -> list[GraphQLError]:
    """Why graphql-core refuses a case before any resolver runs: the document's validation errors, else those
    of its variables' values."""
    document = parse(case.document)
    if errors := validate(schema, document):
        return errors
    operation = next(node for node in document.definitions if isinstance(node, OperationDefinitionNode))
    coerced = get_variable_values(schema, operation.variable_definitions or (), case.variables or {})
    return coerced if isinstance(coerced, list) else []


def _integral_float(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_integral_float(item) for item in value.values())
    if isinstance(value, list):
        return any(_integral_float(item) for item in value)
    return isinstance(value, float) and value.is_integer()


@pytest.mark.parametrize("schema", [DIRECTOR_SCHEMA, CONNECTOR_SCHEMA], ids=["director", "connector"])
def test_dressing_keeps_valid_documents_valid(schema: GraphQLSchema) -> None:
    """Guards the fuzzer: a valid document, once dressed, still reaches the resolvers."""

    # 40: each dressing (variables, aliases, directives, fragments, names) is drawn with a chance of 1/12 or more per
    # node, and a document has several nodes: each shows up in many of the 40 cases.
    @fuzz_settings(40)
    @given(case=documents(schema))
    def check(case: Case) -> None:
        assert refusals(schema, case) == [], case

    check()


@pytest.mark.parametrize(
    ("schema", "violable"),
    [(DIRECTOR_SCHEMA, None), (CONNECTOR_SCHEMA, CONNECTOR_VIOLABLE)],
    ids=["director", "connector"],
)
def test_dressing_keeps_documents_with_a_violation_refused(
    schema: GraphQLSchema, violable: tuple[str, ...] | None
) -> None:
    """Guards the fuzzer: a document with a violation, once dressed, is still refused before any resolver."""

    # 40, as above: every dressing recurs; the five kinds of violation get eight cases each on average.
    @fuzz_settings(40)
    @given(case=documents(schema, mode=Mode.NEGATIVE, fields=violable))
    def check(case: Case) -> None:
        # JSON has one kind of number: the literal 0.0 is no ID or Int, the variable value 0.0 is 0.
        assert refusals(schema, case) or _integral_float(case.variables), case

    check()


# --- the Director ---------------------------------------------------------------------------------------


# 60 documents for the Director's 145 root fields: no budget of `make test` reaches every field, which is what
# COMPASS_FUZZ_SCALE is for; 60 still has queries and mutations, arguments and dressings each in many cases.
@fuzz_settings(60)
@given(data=st.data())
async def test_director_answers_generated_documents_well_formed(
    sqlite_only: str, attacker: Operator, known_ids: tuple[str, ...], data: st.DataObject
) -> None:
    case = data.draw(documents(DIRECTOR_SCHEMA, known_ids), label="case")
    count_case("director: generated documents", sqlite_only)

    assert_well_formed(await send_to_director(attacker, case))


# 70: ten cases for each of broken_documents' seven kinds.
@fuzz_settings(70)
@given(case=broken_documents(DIRECTOR_SCHEMA))
async def test_director_answers_broken_documents_well_formed(
    sqlite_only: str, attacker: Operator, case: Case
) -> None:
    count_case("director: broken documents", sqlite_only)

    assert_well_formed(await send_to_director(attacker, case))


# --- the Connector --------------------------------------------------------------------------------------


# 150: the Connector has three root fields; three credentials and eight kinds of document (generated, seven
# broken) are 24 combinations, each with about six cases.
@fuzz_settings(150)
@given(
    case=documents(CONNECTOR_SCHEMA, empty_parentheses=True)
    | broken_documents(CONNECTOR_SCHEMA, CONNECTOR_VIOLABLE),
    credential=st.sampled_from(CONNECTOR_CREDENTIALS),
    token=GARBAGE_TOKENS,
)
async def test_connector_answers_documents_with_no_or_garbage_tokens_well_formed(
    sqlite_only: str,
    hostile_client: httpx.AsyncClient,
    case: Case,
    credential: ConnectorCredential,
    token: str,
) -> None:
    count_case("connector: generated and broken documents", sqlite_only)

    assert_well_formed(await send_to_connector(hostile_client, case, credential, token))


# --- below GraphQL: envelopes, content types, methods ---------------------------------------------------


# 200: three shapes of envelope (a JSON body, random bytes under any of eight content types, a GET with a query
# string) on two paths are six combinations of over thirty cases each; every content type comes about eight times.
@fuzz_settings(200)
@given(request=RAW_REQUESTS, path=st.sampled_from([DIRECTOR, CONNECTOR]))
async def test_both_apis_answer_any_request_envelope_well_formed(
    sqlite_only: str, attacker: Operator, request: RawRequest, path: str
) -> None:
    count_case("both: request envelopes", sqlite_only)
    headers = attacker.headers if path == DIRECTOR else {"Connector-Token": "garbage"}

    assert_well_formed(await send_raw(attacker.client, path, request, headers))


# --- PostgreSQL: a sample -------------------------------------------------------------------------------


# 30: a sample (the full run is on SQLite): what PostgreSQL adds is how its errors surface, which any case that
# reaches a resolver shows.
@fuzz_settings(30)
@given(data=st.data())
async def test_fuzz_sample_on_postgresql_is_answered_well_formed(
    postgresql_only: str, attacker: Operator, known_ids: tuple[str, ...], data: st.DataObject
) -> None:
    case = data.draw(documents(DIRECTOR_SCHEMA, known_ids) | broken_documents(DIRECTOR_SCHEMA), label="case")
    count_case("director: generated and broken documents (sample)", postgresql_only)

    assert_well_formed(await send_to_director(attacker, case))
