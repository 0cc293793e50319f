"""Wire details Compass clients rely on: how they post, what every answer carries, codes instead of traces."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support import DIRECTOR, Operator, TenantFactory

VIEWER = "{ viewer { id type } }"
REGISTER_INLINE = """
mutation {
  result: registerApplication(in: {name: "inline-app", description: "written \\"inline\\"", labels: {tier: ["gold"]}}) {
    id
    name
    description
  }
}
"""
APPLICATION_INLINE = '{ result: application(id: "%s") { name description labels } }'
VIEWER_AND_APPLICATION = '{ viewer { id } result: application(id: "%s") { id } }'
APPLICATIONS_FIRST = "{ result: applications(first: %d) { totalCount } }"
UNTERMINATED = "{ viewer { id "
UNKNOWN_FIELD = "{ viewer { id } noSuchField }"


def _stack_trace_free(body: str) -> bool:
    return "Traceback" not in body and 'File "' not in body


async def test_json_with_charset_and_null_variables_is_answered(
    client: httpx.AsyncClient, operator: Operator
) -> None:
    # given
    payload = json.dumps({"query": VIEWER, "variables": None}).encode()
    headers = {**operator.headers, "Content-Type": "application/json; charset=utf-8"}

    # when
    response = await client.post(DIRECTOR, content=payload, headers=headers)

    # then
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"id": "operator", "type": "USER"}}}


async def test_values_written_inline_under_a_result_alias_are_answered(operator: Operator) -> None:
    registered = (await operator.query(REGISTER_INLINE))["result"]

    found = (await operator.query(APPLICATION_INLINE % registered["id"]))["result"]

    assert registered["name"] == "inline-app"
    assert found == {"name": "inline-app", "description": 'written "inline"', "labels": {"tier": ["gold"]}}


async def test_nullable_field_that_fails_is_null_while_its_siblings_are_answered(
    tenants: TenantFactory,
) -> None:
    # given an operator who may not read applications
    operator = await tenants.operator(scopes=["runtime:read"])

    # when
    body = await operator.execute(VIEWER_AND_APPLICATION % "00000000-0000-0000-0000-000000000000")

    # then
    assert body["data"] == {"viewer": {"id": "operator"}, "result": None}
    assert [(error["path"], error["extensions"]["code"]) for error in body["errors"]] == [(["result"], "FORBIDDEN")]


@pytest.mark.parametrize("first", [0, -1, 201])
async def test_first_outside_1_to_200_is_invalid_input(operator: Operator, first: int) -> None:
    body = await operator.execute(APPLICATIONS_FIRST % first)

    assert [error["extensions"]["code"] for error in body["errors"]] == ["INVALID_INPUT"]
    assert "first" in body["errors"][0]["message"]


@pytest.mark.parametrize("first", [1, 200])
async def test_first_at_the_bounds_is_answered(operator: Operator, first: int) -> None:
    data = await operator.query(APPLICATIONS_FIRST % first)

    assert data == {"result": {"totalCount": 0}}


async def test_parse_error_answers_parse_failed_with_data_and_no_stack_trace(operator: Operator) -> None:
    response = await operator.post(UNTERMINATED)

    body: dict[str, Any] = response.json()
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["GRAPHQL_PARSE_FAILED"]
    assert _stack_trace_free(response.text), response.text


async def test_validation_error_answers_validation_failed_with_data_and_no_stack_trace(operator: Operator) -> None:
    response = await operator.post(UNKNOWN_FIELD)

    body: dict[str, Any] = response.json()
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert _stack_trace_free(response.text), response.text


async def test_graphiql_page_is_served_without_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get(DIRECTOR, headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_graphiql_page_loads_nothing_from_unpkg(client: httpx.AsyncClient) -> None:
    response = await client.get(DIRECTOR, headers={"Accept": "text/html"})

    assert "unpkg.com" not in response.text


async def test_query_sent_by_get_still_needs_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get(DIRECTOR, params={"query": VIEWER}, headers={"Accept": "text/html"})

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_request_id_sent_is_echoed_back(client: httpx.AsyncClient, operator: Operator) -> None:
    response = await client.post(
        DIRECTOR, json={"query": VIEWER, "variables": None}, headers={**operator.headers, "x-request-id": "agent-42.a_b"}
    )

    assert response.headers["x-request-id"] == "agent-42.a_b"
