"""Requests refused before GraphQL runs answer like every other refusal: a GraphQL error body with a stable code.

Both APIs: a body that is not JSON, JSON without a query, another content type, a GET without a query, a method
other than GET and POST, and an operation that GET may not carry.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from tests.support import Operator

DIRECTOR = "/director/graphql"
CONNECTOR = "/connector/graphql"
JSON = "application/json"


@dataclass(frozen=True)
class Refusal:
    method: str
    status: int
    code: str
    content: bytes = b""
    content_type: str = JSON


REFUSALS = {
    "body-not-json": Refusal("POST", 400, "BAD_REQUEST", content=b'{"query": "{ __typename }"'),
    "json-without-query": Refusal("POST", 400, "BAD_REQUEST", content=b'{"variables": {}}'),
    "unsupported-content-type": Refusal(
        "POST", 415, "UNSUPPORTED_MEDIA_TYPE", content=b"{ __typename }", content_type="application/graphql"
    ),
    "get-without-query": Refusal("GET", 400, "BAD_REQUEST"),
    "wrong-method": Refusal("PUT", 405, "METHOD_NOT_ALLOWED", content=b'{"query": "{ __typename }"}'),
}


def headers_for(api: str, operator: Operator, refusal: Refusal) -> dict[str, str]:
    credentials = operator.headers if api == DIRECTOR else {}
    return {**credentials, "Accept": JSON, "Content-Type": refusal.content_type}


@pytest.mark.parametrize("api", [DIRECTOR, CONNECTOR], ids=["director", "connector"])
@pytest.mark.parametrize("kind", list(REFUSALS))
async def test_a_request_refused_before_graphql_runs_answers_a_graphql_error_with_a_stable_code(
    client: httpx.AsyncClient, operator: Operator, api: str, kind: str
) -> None:
    refusal = REFUSALS[kind]

    response = await client.request(
        refusal.method, api, content=refusal.content, headers=headers_for(api, operator, refusal)
    )

    assert response.status_code == refusal.status
    assert response.headers["content-type"] == JSON
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": refusal.code}
    assert error["message"]


@pytest.mark.parametrize("api", [DIRECTOR, CONNECTOR], ids=["director", "connector"])
async def test_a_method_other_than_get_and_post_is_told_which_are_allowed(
    client: httpx.AsyncClient, operator: Operator, api: str
) -> None:
    refusal = REFUSALS["wrong-method"]

    response = await client.request("DELETE", api, headers=headers_for(api, operator, refusal))

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["errors"][0]["extensions"] == {"code": "METHOD_NOT_ALLOWED"}


@pytest.mark.parametrize(
    ("api", "document"),
    [(DIRECTOR, 'mutation { registerRuntime(in: {name: "from-get"}) { id } }'), (CONNECTOR, "{ __typename }")],
    ids=["a-director-mutation", "any-connector-operation"],
)
async def test_an_operation_that_get_may_not_carry_is_405_allowing_post(
    client: httpx.AsyncClient, operator: Operator, api: str, document: str
) -> None:
    refusal = Refusal("GET", 405, "METHOD_NOT_ALLOWED")

    response = await client.get(api, params={"query": document}, headers=headers_for(api, operator, refusal))

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"] == {"code": "METHOD_NOT_ALLOWED"}
