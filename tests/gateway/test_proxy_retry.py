"""The one retry after a target refused a call (401 or 403), through the served gateway: the refused token is
replaced and the body replayed whole; a second refusal is the answer; a body too big to keep is not retried."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from testing.applications import one_api, secret
from testing.gateway import ServedGateway
from testing.upstream import UpstreamStandIn
from tests.fixtures.gateway import StartGateway
from tests.gateway.support import publish_oauth

RETRY_BODY_LIMIT = 1024


@pytest.fixture(scope="module")
def small_retry_gateway(gateway_factory: StartGateway) -> Iterator[ServedGateway]:
    """A gateway that keeps request bodies of up to RETRY_BODY_LIMIT bytes for a retry."""
    served = gateway_factory(retry_body_limit=str(RETRY_BODY_LIMIT))
    yield served
    served.process.stop()


def post(gateway: ServedGateway, name: str, content: bytes) -> httpx.Response:
    return httpx.post(f"{gateway.standalone_url}/{name}/api/orders", content=content)


def refused_once(gateway: ServedGateway, stand_in: UpstreamStandIn, name: str) -> None:
    """``name``'s OAuth API, called once so that the gateway holds a token, which the target then revokes: the
    next call is refused once."""
    publish_oauth(gateway, stand_in, name)
    assert post(gateway, name, b"first").status_code == 200
    stand_in.revoke_tokens()


def retries(gateway: ServedGateway, application_name: str) -> float:
    """gateway_retries_total of the application's API, as the gateway's /metrics shows it."""
    exposition = httpx.get(f"{gateway.api_url}/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        if family.name == "gateway_retries"
        for sample in family.samples
        if sample.name == "gateway_retries_total" and sample.labels.get("application") == application_name
    )


def test_a_revoked_token_is_replaced_and_the_call_sent_again_with_its_whole_body(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    stand_in = upstream_stand_in
    refused_once(gateway, stand_in, "retry-revoked")
    body = secrets.token_bytes(256 * 1024)  # several reads of the caller's stream, below the default limit

    answer = post(gateway, "retry-revoked", body)

    assert answer.status_code == 200, answer.text
    assert len(stand_in.tokens) == 2
    refused, retried = stand_in.requests_to("/bearer/shop/orders")[1:]
    assert refused.body == retried.body == body
    assert retried.header("authorization") == f"Bearer {stand_in.tokens[1].token}"


def test_a_target_that_refuses_twice_gets_its_second_refusal_answered(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    name = "retry-refused-twice"
    credentials = {"type": "Basic", "secretName": name}
    gateway.manifests.put(
        one_api(name, f"{upstream_stand_in.http_url}/basic/shop", credentials),
        secret(name, username="nobody", password="wrong"),
    )

    answer = post(gateway, name, b"order")

    assert answer.status_code == 403
    assert answer.text == "forbidden"
    assert len(upstream_stand_in.requests_to("/basic/shop/orders")) == 2


def test_a_retry_is_counted_in_gateway_retries_total(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    refused_once(gateway, upstream_stand_in, "retry-counted")
    before = retries(gateway, "retry-counted")

    assert post(gateway, "retry-counted", b"second").status_code == 200

    assert retries(gateway, "retry-counted") == before + 1


def test_a_body_over_the_retry_limit_streams_through_and_is_not_retried(
    small_retry_gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    stand_in = upstream_stand_in
    refused_once(small_retry_gateway, stand_in, "retry-big-body")
    body = secrets.token_bytes(4 * RETRY_BODY_LIMIT)

    answer = post(small_retry_gateway, "retry-big-body", body)

    assert answer.status_code == 401
    [refused] = stand_in.requests_to("/bearer/shop/orders")[1:]
    assert refused.body == body
    assert retries(small_retry_gateway, "retry-big-body") == 0


def test_a_body_within_the_retry_limit_is_retried(
    small_retry_gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    stand_in = upstream_stand_in
    refused_once(small_retry_gateway, stand_in, "retry-small-body")
    body = secrets.token_bytes(RETRY_BODY_LIMIT)

    answer = post(small_retry_gateway, "retry-small-body", body)

    assert answer.status_code == 200, answer.text
    assert [request.body for request in stand_in.requests_to("/bearer/shop/orders")[1:]] == [body, body]
