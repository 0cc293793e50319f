"""``compass_graphql_errors_total`` counts each error under the ``extensions.code`` its client saw, on both APIs.

Documents that fail before execution are counted too: a parse error (raised before any result exists), a
validation error, a variable value GraphQL refuses, a document over the depth limit.
"""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import Operator

DIRECTOR = "/director/graphql"
CONNECTOR = "/connector/graphql"
ERRORS = "compass_graphql_errors"


DEPTH = 60  # past the depth limit; the unknown field at the top is a second error, of another code

DOCUMENTS: dict[str, tuple[str, object]] = {
    "parse-error": ("{ __typename ", None),
    "unknown-field": ("{ noSuchField }", None),
    "variable-value": ("query ($n: String!) { __type(name: $n) { name } }", {"n": 5}),
    "too-deep": ("{ " + "a { " * DEPTH + "b" + " }" * DEPTH + " }", None),
}


async def errors_by_code(client: httpx.AsyncClient, api: str) -> Counter[str]:
    """The counter's samples of ``api``, read from /metrics as a scraper reads them."""
    text = (await client.get("/metrics")).text
    return Counter(
        {
            sample.labels["code"]: int(sample.value)
            for family in text_string_to_metric_families(text)
            if family.name == ERRORS
            for sample in family.samples
            if sample.name == f"{ERRORS}_total" and sample.labels["api"] == api.split("/")[1]
        }
    )


async def counted_and_seen(
    client: httpx.AsyncClient, operator: Operator, api: str, document: str, variables: object
) -> tuple[Counter[str], Counter[str]]:
    """What the counter gained for the request, and the codes its answer carried."""
    headers = operator.headers if api == DIRECTOR else {}
    before = await errors_by_code(client, api)
    response = await client.post(api, json={"query": document, "variables": variables}, headers=headers)
    after = await errors_by_code(client, api)
    seen = Counter(error["extensions"]["code"] for error in response.json()["errors"])
    return after - before, seen


@pytest.mark.parametrize("api", [DIRECTOR, CONNECTOR], ids=["director", "connector"])
@pytest.mark.parametrize("kind", list(DOCUMENTS))
async def test_an_error_before_execution_is_counted_under_the_code_the_client_saw(
    client: httpx.AsyncClient, operator: Operator, api: str, kind: str
) -> None:
    document, variables = DOCUMENTS[kind]

    counted, seen = await counted_and_seen(client, operator, api, document, variables)

    assert seen
    assert counted == seen


async def test_a_parse_error_is_counted_as_graphql_parse_failed(client: httpx.AsyncClient, operator: Operator) -> None:
    counted, _ = await counted_and_seen(client, operator, DIRECTOR, *DOCUMENTS["parse-error"])

    assert counted == Counter({"GRAPHQL_PARSE_FAILED": 1})


async def test_a_variable_value_refused_in_validation_is_counted_as_graphql_validation_failed(
    client: httpx.AsyncClient, operator: Operator
) -> None:
    counted, _ = await counted_and_seen(client, operator, DIRECTOR, *DOCUMENTS["variable-value"])

    assert counted == Counter({"GRAPHQL_VALIDATION_FAILED": 1})
