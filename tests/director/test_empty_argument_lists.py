"""Empty argument lists, ``labelDefinitions()``: Compass's Go clients send them and its parser takes them.

The GraphQL grammar wants at least one argument between parentheses; both APIs read ``()`` as no arguments, and
a ``()`` inside a string stays as it was written.
"""

from __future__ import annotations

from tests.support import Operator

LABEL_DEFINITIONS = "query { result: labelDefinitions() { key } }"
RUNTIMES = "query { result: runtimes() { data { id } totalCount } }"
NO_VARIABLES = "query Runtimes() { result: runtimes { totalCount } }"
REGISTER_INLINE = """
mutation { result: registerRuntime(in: {name: "cron", description: "runs sync() hourly"}) { description } }
"""


async def test_label_definitions_with_an_empty_argument_list_answers_data(operator: Operator) -> None:
    data = await operator.query(LABEL_DEFINITIONS)

    assert [definition["key"] for definition in data["result"]] == ["scenarios"]


async def test_runtimes_with_an_empty_argument_list_answers_data(operator: Operator) -> None:
    data = await operator.query(RUNTIMES)

    assert data == {"result": {"data": [], "totalCount": 0}}


async def test_an_empty_variable_list_is_no_variables(operator: Operator) -> None:
    data = await operator.query(NO_VARIABLES)

    assert data == {"result": {"totalCount": 0}}


async def test_parentheses_inside_a_string_are_kept(operator: Operator) -> None:
    data = await operator.query(REGISTER_INLINE)

    assert data == {"result": {"description": "runs sync() hourly"}}


async def test_other_syntax_errors_keep_their_position(operator: Operator) -> None:
    body = await operator.execute("query { result: labelDefinitions() { key ")

    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert body["errors"][0]["locations"] == [{"line": 1, "column": 42}]
