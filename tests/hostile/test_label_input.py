"""Hostile label input: values and schemas that stalled the server, broke its JSON answers or crashed a write.

Every case runs on both backends. A refusal is INVALID_INPUT and stores nothing; an acceptance is checked by
reading the label back. Answer times are not asserted here: tests/hostile/test_responsive.py probes the server
while the heavy ones run (its HEAVY_INPUTS).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from director.json_schema import KEPT_PATTERN_CHARS, VALIDATION_STEPS, _kept_regex, violation
from kernel.json_values import MAX_DEPTH
from kernel.settings import Settings
from tests.hostile.support import DIRECTOR, JSON_CONTENT, assert_well_formed, error_codes
from tests.support import Operator

REGISTER_APPLICATION = "mutation($in: ApplicationRegisterInput!) { result: registerApplication(in: $in) { id } }"
SET_LABEL = """
mutation($id: ID!, $key: String!, $value: Any!) {
  result: setApplicationLabel(applicationID: $id, key: $key, value: $value) { key value }
}
"""
SET_LITERAL_LABEL = 'mutation($id: ID!) { setApplicationLabel(applicationID: $id, key: "v", value: %s) { key } }'
LABELS = "query($id: ID!) { result: application(id: $id) { labels } }"
APPLICATION_NAMES = "{ result: applications { data { name } } }"
CREATE_DEFINITION = "mutation($in: LabelDefinitionInput!) { result: createLabelDefinition(in: $in) { key } }"
DEFINITION = "query($key: String!) { result: labelDefinition(key: $key) { key } }"
ADD_BUNDLE = """
mutation($id: ID!, $in: BundleCreateInput!) { result: addBundle(applicationID: $id, in: $in) { name } }
"""
REGISTER_BUNDLE = """
mutation($in: ApplicationRegisterInput!) { result: registerApplication(in: $in) { bundles { data { id } } } }
"""
REQUEST_INSTANCE_AUTH = """
mutation($bundle: ID!, $params: JSON) {
  result: requestBundleInstanceAuthCreation(bundleID: $bundle, in: {inputParams: $params}) { id }
}
"""
BUNDLE_NAMES = "query($id: ID!) { result: application(id: $id) { bundles { data { name } } } }"
FILTERED = "query($filter: [LabelFilter!]) { result: applications(filter: $filter) { data { name } totalCount } }"

UNIQUE_ARRAY = {"type": "array", "uniqueItems": True}
MANY_ITEMS = 6_000
ALTERNATIVES = 1_000

# JSON texts that Python's decoder turns into numbers no JSON answer can carry: NaN, ±inf, and integers past a
# double (Go, browsers and jq read numbers as doubles).
NOT_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400]
# The same in a GraphQL document: there is no NaN literal there, and `NaN` would be an enum value.
NOT_FINITE_LITERALS = ["1e400", "-1e400", "1" + "0" * 400]
# A self reference that never descends into the value: validating anything through it recurses without end.
ENDLESS_SCHEMAS = {
    "root": {"$ref": "#"},
    "all-of": {"allOf": [{"$ref": "#"}]},
    "mutual": {
        "definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"not": {"$ref": "#/definitions/a"}}},
        "$ref": "#/definitions/a",
    },
    "behind-a-property": {
        "properties": {"child": {"$ref": "#/definitions/loop"}},
        "definitions": {"loop": {"anyOf": [{"$ref": "#/definitions/loop"}]}},
    },
}
TREE = {"type": "object", "properties": {"child": {"$ref": "#"}}, "additionalProperties": False}


async def register(operator: Operator, name: str = "shop", labels: dict[str, Any] | None = None) -> str:
    data = await operator.query(REGISTER_APPLICATION, {"in": {"name": name, "labels": labels}})
    return str(data["result"]["id"])


async def labels(operator: Operator, application_id: str) -> dict[str, Any]:
    data = await operator.query(LABELS, {"id": application_id})
    return dict(data["result"]["labels"] or {})


async def define(operator: Operator, key: str, schema: Any) -> None:
    await operator.query(CREATE_DEFINITION, {"in": {"key": key, "schema": json.dumps(schema)}})


async def post_text(operator: Operator, document: str, variables_json: str) -> httpx.Response:
    """Variables written as JSON text, so that NaN, Infinity and 1e400 reach the server as a client wrote them."""
    body = '{"query": %s, "variables": %s}' % (json.dumps(document), variables_json)
    headers = {**JSON_CONTENT, **operator.headers}
    response = await operator.client.post(DIRECTOR, content=body.encode(), headers=headers)
    assert_well_formed(response)
    return response


def distinct_objects(count: int) -> list[dict[str, Any]]:
    return [{"n": index} for index in range(count)]


def alternatives(values: list[Any]) -> str:
    return "$[*] ? (" + " || ".join(f"@ == {json.dumps(value)}" for value in values) + ")"


# --- uniqueItems --------------------------------------------------------------------------------------------


async def test_unique_items_over_thousands_of_distinct_objects_is_accepted(attacker: Operator) -> None:
    await define(attacker, "items", UNIQUE_ARRAY)
    application_id = await register(attacker)
    value = distinct_objects(MANY_ITEMS)

    await attacker.query(SET_LABEL, {"id": application_id, "key": "items", "value": value})

    assert (await labels(attacker, application_id))["items"] == value


async def test_unique_items_over_thousands_of_objects_with_one_repeat_is_invalid_input(attacker: Operator) -> None:
    await define(attacker, "items", UNIQUE_ARRAY)
    application_id = await register(attacker)
    value = [*distinct_objects(MANY_ITEMS), {"n": 7}]

    codes = await attacker.error_codes(SET_LABEL, {"id": application_id, "key": "items", "value": value})

    assert codes == ["INVALID_INPUT"]
    assert "items" not in await labels(attacker, application_id)


@pytest.mark.parametrize(
    ("value", "unique"),
    [
        ([1, 1.0], False),
        ([{"a": [1, 2]}, {"a": [1, 2.0]}], False),
        ([{"a": 1, "b": 2}, {"b": 2, "a": 1}], False),
        ([[1, 2], [2, 1]], True),
        ([1, True], True),
        ([0, False, None, "0", [], {}], True),
    ],
)
async def test_unique_items_compares_as_json_does(attacker: Operator, value: list[Any], unique: bool) -> None:
    await define(attacker, "items", UNIQUE_ARRAY)
    application_id = await register(attacker)

    codes = await attacker.error_codes(SET_LABEL, {"id": application_id, "key": "items", "value": value})

    assert codes == ([] if unique else ["INVALID_INPUT"])


async def test_a_label_whose_check_takes_more_than_the_step_budget_is_invalid_input(attacker: Operator) -> None:
    await define(attacker, "many", {"type": "array", "items": {"allOf": [{"minimum": 0}] * 50}})
    application_id = await register(attacker)
    value = [1] * (VALIDATION_STEPS // 50 + 1)

    codes = await attacker.error_codes(SET_LABEL, {"id": application_id, "key": "many", "value": value})

    assert codes == ["INVALID_INPUT"]
    assert "many" not in await labels(attacker, application_id)


# --- size ---------------------------------------------------------------------------------------------------


async def test_a_label_value_over_the_size_cap_is_invalid_input(
    attacker: Operator, hostile_settings: Settings
) -> None:
    application_id = await register(attacker)
    value = "x" * hostile_settings.max_label_value_bytes  # its JSON form has two quotes more

    codes = await attacker.error_codes(SET_LABEL, {"id": application_id, "key": "big", "value": value})

    assert codes == ["INVALID_INPUT"]
    assert "big" not in await labels(attacker, application_id)


async def test_a_label_value_at_the_size_cap_is_accepted(attacker: Operator, hostile_settings: Settings) -> None:
    application_id = await register(attacker)
    value = "x" * (hostile_settings.max_label_value_bytes - 2)

    await attacker.query(SET_LABEL, {"id": application_id, "key": "big", "value": value})

    assert (await labels(attacker, application_id))["big"] == value


async def test_a_registration_with_a_label_over_the_size_cap_registers_nothing(
    attacker: Operator, hostile_settings: Settings
) -> None:
    big = "x" * hostile_settings.max_label_value_bytes

    codes = await attacker.error_codes(REGISTER_APPLICATION, {"in": {"name": "shop", "labels": {"big": big}}})

    assert codes == ["INVALID_INPUT"]
    assert (await attacker.query(APPLICATION_NAMES))["result"]["data"] == []


# --- NaN, Infinity and numbers past a double ----------------------------------------------------------------


@pytest.mark.parametrize("number", NOT_FINITE)
async def test_a_non_finite_number_in_a_label_variable_is_invalid_input(attacker: Operator, number: str) -> None:
    application_id = await register(attacker)
    variables = '{"id": "%s", "key": "v", "value": {"v": [%s]}}' % (application_id, number)

    response = await post_text(attacker, SET_LABEL, variables)

    assert error_codes(response) == ["INVALID_INPUT"]
    assert await labels(attacker, application_id) == {}


@pytest.mark.parametrize("number", NOT_FINITE)
async def test_a_non_finite_number_in_registration_labels_registers_nothing(
    attacker: Operator, number: str
) -> None:
    variables = '{"in": {"name": "shop", "labels": {"v": %s}}}' % number

    response = await post_text(attacker, REGISTER_APPLICATION, variables)

    assert error_codes(response) == ["INVALID_INPUT"]
    assert (await attacker.query(APPLICATION_NAMES))["result"]["data"] == []


async def test_an_integer_of_more_digits_than_python_converts_is_a_400(attacker: Operator) -> None:
    body = '{"query": "{ __typename }", "variables": {"v": %s}}' % ("1" * 5_000)
    headers = {**JSON_CONTENT, **attacker.headers}

    response = await attacker.client.post(DIRECTOR, content=body.encode(), headers=headers)

    assert_well_formed(response)
    assert response.status_code == 400


@pytest.mark.parametrize("number", NOT_FINITE_LITERALS)
async def test_a_number_literal_past_a_double_is_invalid_input(attacker: Operator, number: str) -> None:
    application_id = await register(attacker)

    codes = await attacker.error_codes(SET_LITERAL_LABEL % f"{{v: {number}}}", {"id": application_id})

    assert codes == ["INVALID_INPUT"]
    assert await labels(attacker, application_id) == {}


@pytest.mark.parametrize("number", NOT_FINITE)
async def test_a_non_finite_number_inside_a_json_string_is_invalid_input(attacker: Operator, number: str) -> None:
    schema = '{"type": "number", "maximum": %s}' % number

    codes = await attacker.error_codes(CREATE_DEFINITION, {"in": {"key": "v", "schema": schema}})

    assert codes == ["INVALID_INPUT"]
    assert (await attacker.query(DEFINITION, {"key": "v"}))["result"] is None


# --- NUL ----------------------------------------------------------------------------------------------------


async def test_a_nul_in_an_application_name_is_invalid_input(attacker: Operator) -> None:
    codes = await attacker.error_codes(REGISTER_APPLICATION, {"in": {"name": "sh\x00op"}})

    assert codes == ["INVALID_INPUT"]
    assert (await attacker.query(APPLICATION_NAMES))["result"]["data"] == []


async def test_a_nul_in_a_description_is_invalid_input(attacker: Operator) -> None:
    codes = await attacker.error_codes(REGISTER_APPLICATION, {"in": {"name": "shop", "description": "a\x00b"}})

    assert codes == ["INVALID_INPUT"]
    assert (await attacker.query(APPLICATION_NAMES))["result"]["data"] == []


@pytest.mark.parametrize("value", ["a\x00b", {"text": "a\x00b"}, {"a\x00b": 1}, ["ok", ["a\x00b"]]])
async def test_a_nul_in_a_label_value_is_invalid_input(attacker: Operator, value: Any) -> None:
    application_id = await register(attacker)

    codes = await attacker.error_codes(SET_LABEL, {"id": application_id, "key": "v", "value": value})

    assert codes == ["INVALID_INPUT"]
    assert await labels(attacker, application_id) == {}


async def test_a_nul_in_a_password_is_invalid_input(attacker: Operator) -> None:
    application_id = await register(attacker)
    credential = {"basic": {"username": "u", "password": "p\x00w"}}
    bundle = {"name": "api", "defaultInstanceAuth": {"credential": credential}}

    codes = await attacker.error_codes(ADD_BUNDLE, {"id": application_id, "in": bundle})

    assert codes == ["INVALID_INPUT"]
    assert (await attacker.query(BUNDLE_NAMES, {"id": application_id}))["result"]["bundles"]["data"] == []


async def test_a_nul_escape_in_a_string_literal_is_invalid_input(attacker: Operator) -> None:
    codes = await attacker.error_codes('mutation { registerApplication(in: {name: "sh\\u0000op"}) { id } }')

    assert codes == ["INVALID_INPUT"]
    assert (await attacker.query(APPLICATION_NAMES))["result"]["data"] == []


async def test_a_nul_escape_inside_a_json_string_is_invalid_input(attacker: Operator) -> None:
    schema = '{"type": "string", "enum": ["a\\u0000b"]}'

    codes = await attacker.error_codes(CREATE_DEFINITION, {"in": {"key": "v", "schema": schema}})

    assert codes == ["INVALID_INPUT"]
    assert (await attacker.query(DEFINITION, {"key": "v"}))["result"] is None


@pytest.mark.parametrize("query", ['"a\\u0000b"', '$[*] ? (@ == "a\\u0000b")', '{"a\\u0000b": 1}'])
async def test_a_nul_escape_in_a_label_filter_is_invalid_input(attacker: Operator, query: str) -> None:
    await register(attacker, "shop", {"v": ["a"]})

    codes = await attacker.error_codes(FILTERED, {"filter": [{"key": "v", "query": query}]})

    assert codes == ["INVALID_INPUT"]


@pytest.mark.parametrize("value", ["\ud800", {"text": "a\udfffb"}])
async def test_a_lone_surrogate_in_a_label_value_is_invalid_input(attacker: Operator, value: Any) -> None:
    application_id = await register(attacker)

    response = await post_text(attacker, SET_LABEL, json.dumps({"id": application_id, "key": "v", "value": value}))

    assert error_codes(response) == ["INVALID_INPUT"]
    assert await labels(attacker, application_id) == {}


async def test_a_lone_surrogate_in_an_application_name_is_invalid_input(attacker: Operator) -> None:
    response = await post_text(attacker, REGISTER_APPLICATION, json.dumps({"in": {"name": "sh\ud800op"}}))

    assert error_codes(response) == ["INVALID_INPUT"]
    assert (await attacker.query(APPLICATION_NAMES))["result"]["data"] == []


# --- schemas that refer to themselves -----------------------------------------------------------------------


@pytest.mark.parametrize("schema", ENDLESS_SCHEMAS.values(), ids=ENDLESS_SCHEMAS.keys())
async def test_a_definition_that_refers_to_itself_without_end_is_invalid_input(
    attacker: Operator, schema: Any
) -> None:
    codes = await attacker.error_codes(CREATE_DEFINITION, {"in": {"key": "loop", "schema": json.dumps(schema)}})

    assert codes == ["INVALID_INPUT"]
    assert (await attacker.query(DEFINITION, {"key": "loop"}))["result"] is None


async def test_a_bundle_input_schema_that_refers_to_itself_without_end_makes_requests_invalid_input(
    attacker: Operator,
) -> None:
    # Bundles' schemas are only checked to be objects when written: checking a value through this one recursed.
    bundle = {"name": "api", "instanceAuthRequestInputSchema": json.dumps({"$ref": "#"})}
    data = await attacker.query(REGISTER_BUNDLE, {"in": {"name": "shop", "bundles": [bundle]}})
    bundle_id = data["result"]["bundles"]["data"][0]["id"]

    codes = await attacker.error_codes(REQUEST_INSTANCE_AUTH, {"bundle": bundle_id, "params": '{"plan": "S"}'})

    assert codes == ["INVALID_INPUT"]


async def test_a_recursive_definition_that_descends_validates_trees(attacker: Operator) -> None:
    await define(attacker, "tree", TREE)
    application_id = await register(attacker)
    tree: dict[str, Any] = {"child": {"child": {"child": {}}}}

    await attacker.query(SET_LABEL, {"id": application_id, "key": "tree", "value": tree})
    not_a_tree = {"child": {"leaf": 1}}
    codes = await attacker.error_codes(SET_LABEL, {"id": application_id, "key": "tree", "value": not_a_tree})

    assert codes == ["INVALID_INPUT"]
    assert (await labels(attacker, application_id))["tree"] == tree


async def test_a_label_value_nested_past_the_depth_cap_is_invalid_input(attacker: Operator) -> None:
    await define(attacker, "tree", TREE)
    application_id = await register(attacker)
    deep: dict[str, Any] = {}
    for _ in range(MAX_DEPTH):
        deep = {"child": deep}

    codes = await attacker.error_codes(SET_LABEL, {"id": application_id, "key": "tree", "value": deep})

    assert codes == ["INVALID_INPUT"]
    assert await labels(attacker, application_id) == {}


async def test_a_literal_nested_past_the_depth_cap_is_invalid_input(attacker: Operator) -> None:
    application_id = await register(attacker)
    deep = "{child: " * MAX_DEPTH + "{}" + " }" * MAX_DEPTH

    codes = await attacker.error_codes(SET_LITERAL_LABEL % deep, {"id": application_id})

    assert codes == ["INVALID_INPUT"]
    assert await labels(attacker, application_id) == {}


# --- filters with many alternatives -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wanted",
    [[f"region-{index}" for index in range(ALTERNATIVES)], [index + 0.5 for index in range(ALTERNATIVES)]],
    ids=["strings", "numbers"],
)
async def test_a_filter_with_a_thousand_alternatives_answers(attacker: Operator, wanted: list[Any]) -> None:
    await register(attacker, "hit", {"regions": ["elsewhere", wanted[-1]]})
    await register(attacker, "miss", {"regions": ["elsewhere"]})

    data = await attacker.query(FILTERED, {"filter": [{"key": "regions", "query": alternatives(wanted)}]})

    assert data["result"] == {"data": [{"name": "hit"}], "totalCount": 1}


async def test_a_filter_with_a_thousand_alternatives_of_every_kind_compares_json_values(
    attacker: Operator,
) -> None:
    wanted = [*(f"region-{index}" for index in range(ALTERNATIVES - 3)), True, None, 7]
    hits = {"string": ["region-5"], "true": [False, True], "null": [None], "seven": [7.0]}
    misses = {"false": [False], "one": [1], "string-of-7": ["7"], "not-an-array": "region-5"}
    for name, value in {**hits, **misses}.items():
        await register(attacker, name, {"regions": value})

    data = await attacker.query(FILTERED, {"filter": [{"key": "regions", "query": alternatives(wanted)}]})

    assert sorted(row["name"] for row in data["result"]["data"]) == sorted(hits)


async def test_forty_filters_of_a_thousand_alternatives_answer(attacker: Operator) -> None:
    # 40,000 values: more than SQLite's 32,766 parameters, and as many as a 1 MiB body holds
    await register(attacker, "hit", {"regions": ["region-999"]})
    query = alternatives([f"region-{index}" for index in range(ALTERNATIVES)])

    data = await attacker.query(FILTERED, {"filter": [{"key": "regions", "query": query}] * 40})

    assert data["result"] == {"data": [{"name": "hit"}], "totalCount": 1}




async def test_long_patterns_are_checked_without_being_kept_in_memory() -> None:
    # given: a pattern past what is kept, as any operator may write in a label definition
    _kept_regex.cache_clear()
    long_pattern = "^(" + "|".join(f"value-{index}" for index in range(2_000)) + ")$"
    assert len(long_pattern) > KEPT_PATTERN_CHARS

    # when
    matching = await violation({"type": "string", "pattern": long_pattern}, "value-1999", "the schema")
    failing = await violation({"type": "string", "pattern": long_pattern}, "value-2000", "the schema")

    # then: the pattern worked, and nothing of it stays behind
    assert matching is None and failing is not None
    assert _kept_regex.cache_info().currsize == 0
