"""Limits are on from day one: too deep, too many aliases, too many tokens, too large a body."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from compass.app import create_app
from kernel.db import Database
from kernel.settings import Settings
from tests.support import DIRECTOR, Operator, TenantFactory

VIEWER = "{ viewer { id } }"
# Depth 4: applications > data > bundles > data (leaves do not count).
DEPTH_FOUR = "{ applications { data { bundles { data { id } } } } }"
DEPTH_THREE = "{ applications { data { bundles { totalCount } } } }"
SHALLOW_DEPTH = 3


def _aliases(count: int) -> str:
    return "{ " + " ".join(f"a{index}: viewer {{ id }}" for index in range(count)) + " }"


def _tokens_over(limit: int) -> str:
    # "{" + n × "viewer { id }" (4 tokens each) + "}" is 4n + 2 tokens.
    return "{ " + "viewer { id } " * (limit // 4 + 1) + "}"


@pytest.fixture
async def shallow_client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with a small depth limit: no valid Director document reaches the default of 12."""
    shallow = settings.model_copy(update={"max_query_depth": SHALLOW_DEPTH})
    transport = httpx.ASGITransport(app=create_app(shallow, database))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_query_deeper_than_the_depth_limit_is_too_complex(
    shallow_client: httpx.AsyncClient, tenants: TenantFactory
) -> None:
    operator = await tenants.operator()

    response = await shallow_client.post(DIRECTOR, json={"query": DEPTH_FOUR}, headers=operator.headers)

    body = response.json()
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["QUERY_TOO_COMPLEX"]


async def test_query_at_the_depth_limit_is_answered(shallow_client: httpx.AsyncClient, tenants: TenantFactory) -> None:
    operator = await tenants.operator()

    response = await shallow_client.post(DIRECTOR, json={"query": DEPTH_THREE}, headers=operator.headers)

    assert response.json() == {"data": {"applications": {"data": []}}}


async def test_more_aliases_than_allowed_is_too_complex(operator: Operator, settings: Settings) -> None:
    codes = await operator.error_codes(_aliases(settings.max_query_aliases + 1))

    assert codes == ["QUERY_TOO_COMPLEX"]


async def test_aliases_up_to_the_limit_are_answered(operator: Operator, settings: Settings) -> None:
    data = await operator.query(_aliases(settings.max_query_aliases))

    assert len(data) == settings.max_query_aliases


async def test_more_tokens_than_allowed_is_too_complex(operator: Operator, settings: Settings) -> None:
    codes = await operator.error_codes(_tokens_over(settings.max_query_tokens))

    assert codes == ["QUERY_TOO_COMPLEX"]


async def test_body_announced_larger_than_the_limit_is_refused_with_413(
    client: httpx.AsyncClient, operator: Operator, settings: Settings
) -> None:
    # given a valid document padded with whitespace past the limit
    body = ('{"query": "{ viewer { id } }' + " " * settings.max_body_bytes + '"}').encode()

    # when
    response = await client.post(
        DIRECTOR, content=body, headers={**operator.headers, "Content-Type": "application/json"}
    )

    # then
    assert response.status_code == 413
    assert response.json()["data"] is None
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_streamed_body_larger_than_the_limit_is_refused_with_413(
    client: httpx.AsyncClient, operator: Operator, settings: Settings
) -> None:
    # given a chunked body with no Content-Length
    chunk = b" " * 65_536

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ viewer { id } }'
        for _ in range(settings.max_body_bytes // len(chunk) + 1):
            yield chunk
        yield b'"}'

    # when
    response = await client.post(
        DIRECTOR, content=chunks(), headers={**operator.headers, "Content-Type": "application/json"}
    )

    # then
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_server_keeps_answering_after_refusing_a_large_body(
    client: httpx.AsyncClient, operator: Operator, settings: Settings
) -> None:
    oversized = b" " * (settings.max_body_bytes + 1)
    refused = await client.post(DIRECTOR, content=oversized, headers=operator.headers)

    data = await operator.query(VIEWER)

    assert refused.status_code == 413
    assert data == {"viewer": {"id": "operator"}}
