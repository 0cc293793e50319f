"""Abuse limits: token calls per second and address, certificates per client and window, request body size."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx

from tests.connector.support import (
    CONFIGURATION,
    CONNECTOR,
    JSON_HEADERS,
    REVOKE,
    Answer,
    Harness,
    HarnessFactory,
    csr_b64,
    ec_key,
    post_graphql,
    sign_document,
)


async def token_call(client: httpx.AsyncClient, token: str) -> Answer:
    return await post_graphql(client, CONNECTOR, CONFIGURATION, headers={"Connector-Token": token})


async def test_token_calls_beyond_the_rate_from_one_address_are_refused(
    connector_with: HarnessFactory,
) -> None:
    # given: the default limit of 5 token calls per second and address; a client of its own address
    connector = await connector_with(redemptions_per_second=5)
    client = connector.plain_from("127.0.0.3")

    # when: 10 calls at once
    answers = await asyncio.gather(*(token_call(client, f"t{n}") for n in range(10)))

    # then
    codes = sorted(code for answer in answers for code in answer.codes)
    assert codes == ["INVALID_TOKEN"] * 5 + ["RATE_LIMITED"] * 5
    limited = [answer for answer in answers if answer.codes == ["RATE_LIMITED"]]
    assert {answer.status for answer in limited} == {429}
    assert all(answer.body["data"] is None for answer in limited)
    assert "more than 5 token calls per second" in limited[0].messages[0]


async def test_rate_limit_is_per_address(connector_with: HarnessFactory) -> None:
    # given: one address used up its calls
    connector = await connector_with(redemptions_per_second=5)
    flooding = connector.plain_from("127.0.0.4")
    await asyncio.gather(*(token_call(flooding, "t") for _ in range(6)))

    # when
    answer = await token_call(connector.plain_from("127.0.0.5"), "t")

    # then
    assert answer.codes == ["INVALID_TOKEN"]


async def test_renewals_beyond_the_limit_per_client_are_refused(connector: Harness) -> None:
    # given: the first certificate and four renewals: five, the default limit
    runtime = await connector.connect_runtime(await connector.operator())
    for _ in range(4):
        assert (await connector.renew(runtime.credentials)).result["clientCertificate"]

    # when
    refused = await connector.renew(runtime.credentials)

    # then
    assert refused.codes == ["CERTIFICATE_LIMIT_REACHED"]
    assert refused.messages == [
        (
            f"client {runtime.client_id} already holds 5 certificates issued within the renewal window; "
            "revoke one or wait"
        )
    ]
    [event] = await connector.audit("certificate_refused", client_id=runtime.client_id)
    assert event.reason is not None and event.reason.startswith("CERTIFICATE_LIMIT_REACHED: ")


async def test_revoking_a_certificate_frees_its_place(connector: Harness) -> None:
    # given: a client at its limit, one of its renewed certificates at hand
    runtime = await connector.connect_runtime(await connector.operator())
    key = ec_key()
    renewed = connector.credentials((await connector.renew(runtime.credentials, key)).result, key)
    for _ in range(3):
        await connector.renew(runtime.credentials)
    assert (await connector.renew(renewed)).codes == ["CERTIFICATE_LIMIT_REACHED"]

    # when
    await connector.connector(REVOKE, client=connector.mtls(runtime.credentials))

    # then
    assert (await connector.renew(renewed)).result["clientCertificate"]


async def test_limit_counts_only_certificates_issued_within_the_window(connector: Harness) -> None:
    # given: a client at its limit
    runtime = await connector.connect_runtime(await connector.operator())
    for _ in range(4):
        await connector.renew(runtime.credentials)

    # when: the renewal window (a day) has passed
    connector.clock.advance(timedelta(days=1, seconds=1))
    answer = await connector.renew(runtime.credentials)

    # then
    assert answer.result["clientCertificate"]


async def test_concurrent_renewals_do_not_exceed_the_limit(connector: Harness) -> None:
    # given: a client with one certificate and ten mTLS connections, their handshakes done
    runtime = await connector.connect_runtime(await connector.operator())
    clients = [connector.mtls(runtime.credentials) for _ in range(10)]
    await asyncio.gather(*(client.get("/healthz") for client in clients))

    # when: ten renewals at once
    csr = sign_document(csr_b64(ec_key(), runtime.subject))
    answers = await asyncio.gather(*(connector.connector(csr, client=client) for client in clients))

    # then: four more certificates, never a sixth
    assert len([answer for answer in answers if not answer.codes]) == 4
    assert sorted(code for answer in answers for code in answer.codes) == ["CERTIFICATE_LIMIT_REACHED"] * 6


async def test_request_body_over_the_cap_is_refused(connector: Harness) -> None:
    # given
    body = b'{"query": "' + b" " * connector.settings.max_body_bytes + b'"}'

    # when
    response = await connector.http.post(CONNECTOR, content=body, headers=JSON_HEADERS)

    # then
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_streamed_request_body_over_the_cap_is_refused(connector: Harness) -> None:
    # given: no Content-Length, the body arrives in chunks
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "'
        for _ in range(connector.settings.max_body_bytes // 65_536 + 1):
            yield b" " * 65_536
        yield b'"}'

    # when
    response = await connector.http.post(CONNECTOR, content=chunks(), headers=JSON_HEADERS)

    # then
    assert response.status_code == 413
    assert "content-length" not in response.request.headers


async def test_oversize_request_over_tls_is_refused(connector: Harness) -> None:
    # given
    runtime = await connector.connect_runtime(await connector.operator())
    body = b'{"query": "' + b" " * connector.settings.max_body_bytes + b'"}'

    # when
    response = await connector.mtls(runtime.credentials).post(CONNECTOR, content=body, headers=JSON_HEADERS)

    # then
    assert response.status_code == 413
