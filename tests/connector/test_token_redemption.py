"""One-time tokens at the Connector: single use (also when 50 redeem at once), lifetimes, kinds, audit."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from tests.connector.support import (
    CONFIGURATION,
    CONNECTOR,
    Announcement,
    Harness,
    csr_b64,
    ec_key,
    post_graphql,
    sign_document,
)

UNREGISTER_RUNTIME = "mutation ($id: ID!) { result: unregisterRuntime(id: $id) { id } }"
RUNTIME_AUTHS = "query ($id: ID!) { result: runtime(id: $id) { auths { id } } }"


async def new_runtime_token(connector: Harness) -> tuple[str, str]:
    """(tenant id, token) of a fresh runtime in a fresh tenant."""
    operator = await connector.operator()
    runtime_id = await connector.register_runtime(operator)
    return operator.tenant_id, await connector.runtime_token(operator, runtime_id)


async def test_token_is_single_use(connector: Harness) -> None:
    # given
    _, token = await new_runtime_token(connector)
    first = await connector.connector(CONFIGURATION, token=token)

    # when
    second = await connector.connector(CONFIGURATION, token=token)

    # then
    assert first.result["token"]["token"]
    assert second.codes == ["TOKEN_ALREADY_USED"]
    assert "already used" in second.messages[0]
    assert second.body["data"] is None


async def test_signing_token_is_single_use(connector: Harness) -> None:
    # given: a signing token already spent on a certificate
    _, token = await new_runtime_token(connector)
    announcement = await connector.announce(token)
    await connector.sign(announcement, csr_b64(ec_key(), announcement.subject))

    # when
    again = await connector.sign(announcement, csr_b64(ec_key(), announcement.subject))

    # then
    assert again.codes == ["TOKEN_ALREADY_USED"]


@pytest.mark.parametrize(
    ("kind", "lifetime"), [("runtime", timedelta(minutes=60)), ("application", timedelta(minutes=5))]
)
async def test_token_is_valid_for_its_lifetime_only(
    connector: Harness, kind: str, lifetime: timedelta
) -> None:
    # given: two tokens of the same age, one redeemed just before its lifetime ends, one just after
    operator = await connector.operator()
    if kind == "runtime":
        object_id = await connector.register_runtime(operator)
        tokens = [await connector.runtime_token(operator, object_id) for _ in range(2)]
    else:
        object_id = await connector.register_application(operator)
        tokens = [await connector.application_token(operator, object_id) for _ in range(2)]

    # when
    connector.clock.advance(lifetime - timedelta(seconds=30))
    before = await connector.connector(CONFIGURATION, token=tokens[0])
    connector.clock.advance(timedelta(seconds=60))
    after = await connector.connector(CONFIGURATION, token=tokens[1])

    # then
    assert before.result["token"]["token"]
    assert after.codes == ["TOKEN_EXPIRED"]
    assert "expired" in after.messages[0]


async def test_signing_token_expires_after_five_minutes(connector: Harness) -> None:
    # given
    _, token = await new_runtime_token(connector)
    announcement = await connector.announce(token)

    # when
    connector.clock.advance(timedelta(minutes=5, seconds=1))
    answer = await connector.sign(announcement, csr_b64(ec_key(), announcement.subject))

    # then
    assert answer.codes == ["TOKEN_EXPIRED"]


async def test_unknown_token_is_invalid(connector: Harness) -> None:
    answer = await connector.connector(CONFIGURATION, token="not-a-token-we-issued")

    assert answer.codes == ["INVALID_TOKEN"]
    assert "request a new one-time token" in answer.messages[0]


async def test_call_without_token_or_certificate_is_unauthenticated(connector: Harness) -> None:
    answer = await connector.connector(CONFIGURATION)

    assert answer.codes == ["UNAUTHENTICATED"]
    assert "Connector-Token" in answer.messages[0]


async def test_token_dies_with_its_runtime(connector: Harness) -> None:
    # given
    operator = await connector.operator()
    runtime_id = await connector.register_runtime(operator)
    token = await connector.runtime_token(operator, runtime_id)
    await operator.query(UNREGISTER_RUNTIME, {"id": runtime_id})

    # when
    answer = await connector.connector(CONFIGURATION, token=token)

    # then
    assert answer.codes == ["INVALID_TOKEN"]


async def test_signing_token_is_not_a_connection_token(connector: Harness) -> None:
    # given
    _, token = await new_runtime_token(connector)
    announcement = await connector.announce(token)

    # when
    misused = await connector.connector(CONFIGURATION, token=announcement.signing_token)

    # then: refused, and not spent: it still buys the certificate
    assert misused.codes == ["INVALID_TOKEN"]
    signed = await connector.sign(announcement, csr_b64(ec_key(), announcement.subject))
    assert signed.result["clientCertificate"]


async def test_connection_token_is_not_a_signing_token(connector: Harness) -> None:
    # given
    operator = await connector.operator()
    runtime_id = await connector.register_runtime(operator)
    token = await connector.runtime_token(operator, runtime_id)
    [auth] = (await operator.query(RUNTIME_AUTHS, {"id": runtime_id}))["result"]["auths"]
    subject = f"O=Org,OU=OrgUnit,L=Locality,ST=State,C=PL,CN={auth['id']}"

    # when
    misused = await connector.connector(sign_document(csr_b64(ec_key(), subject)), token=token)

    # then: refused, and not spent: it still redeems
    assert misused.codes == ["INVALID_TOKEN"]
    assert (await connector.connector(CONFIGURATION, token=token)).result["token"]["token"]


async def test_token_may_come_as_a_query_parameter(connector: Harness) -> None:
    # given
    _, token = await new_runtime_token(connector)

    # when
    answer = await post_graphql(connector.http, CONNECTOR, CONFIGURATION, params={"token": token})

    # then
    assert answer.result["token"]["token"]


async def test_token_in_the_query_string_stays_out_of_the_logs(
    connector: Harness, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # given
    caplog.set_level(logging.DEBUG)
    _, token = await new_runtime_token(connector)

    # when
    await post_graphql(connector.http, CONNECTOR, CONFIGURATION, params={"token": token})

    # then: nothing the server logged carries it (httpx, the client here, logs its own URL)
    server_records = [record for record in caplog.records if not record.name.startswith(("httpx", "httpcore"))]
    captured = capsys.readouterr()
    assert server_records
    assert [record.name for record in server_records if token in record.getMessage()] == []
    assert token not in captured.out + captured.err


async def test_of_fifty_concurrent_redemptions_exactly_one_wins(connector: Harness) -> None:
    # given
    _, token = await new_runtime_token(connector)

    # when: 50 requests on 50 connections at once
    answers = await asyncio.gather(*(connector.connector(CONFIGURATION, token=token) for _ in range(50)))

    # then
    winners = [answer for answer in answers if not answer.codes]
    assert len(winners) == 1
    assert sorted(code for answer in answers for code in answer.codes) == ["TOKEN_ALREADY_USED"] * 49
    client_id = Announcement.of(winners[0].result).client_id
    assert len(await connector.audit("token_redeemed", client_id=client_id)) == 1
    assert len(await connector.audit("token_refused", client_id=client_id)) == 49


async def test_redemption_is_audited(connector: Harness) -> None:
    # given
    tenant_id, token = await new_runtime_token(connector)

    # when
    announcement = await connector.announce(token)

    # then
    [event] = await connector.audit("token_redeemed", client_id=announcement.client_id)
    assert (event.tenant_id, event.remote_addr, event.detail) == (tenant_id, "127.0.0.1", {"type": "Runtime"})


async def test_refusal_of_a_known_token_is_audited_with_its_reason_and_client(connector: Harness) -> None:
    # given: a used token
    tenant_id, token = await new_runtime_token(connector)
    announcement = await connector.announce(token)

    # when
    await connector.connector(CONFIGURATION, token=token)

    # then
    [event] = await connector.audit("token_refused", client_id=announcement.client_id)
    assert event.tenant_id == tenant_id
    assert event.remote_addr == "127.0.0.1"
    assert event.reason is not None and event.reason.startswith("TOKEN_ALREADY_USED: ")


async def test_refusal_of_an_unknown_token_is_audited_with_its_reason(connector: Harness) -> None:
    # given
    before = await connector.count_audit("token_refused", "INVALID_TOKEN: ")

    # when
    await connector.connector(CONFIGURATION, token="unknown-token")

    # then
    assert await connector.count_audit("token_refused", "INVALID_TOKEN: ") == before + 1


async def test_expired_token_refusal_is_audited(connector: Harness) -> None:
    # given
    _, token = await new_runtime_token(connector)
    before = await connector.count_audit("token_refused", "TOKEN_EXPIRED: ")
    connector.clock.advance(timedelta(hours=2))

    # when
    await connector.connector(CONFIGURATION, token=token)

    # then
    assert await connector.count_audit("token_refused", "TOKEN_EXPIRED: ") == before + 1


async def test_refused_csr_does_not_spend_the_signing_token(connector: Harness) -> None:
    # given
    _, token = await new_runtime_token(connector)
    announcement = await connector.announce(token)
    someone_else = announcement.subject.replace(announcement.client_id, "someone-else")

    # when: a CSR for someone else, then the right one with the same token
    wrong = await connector.sign(announcement, csr_b64(ec_key(), someone_else))
    right = await connector.sign(announcement, csr_b64(ec_key(), announcement.subject))

    # then
    assert wrong.codes == ["CSR_SUBJECT_MISMATCH"]
    assert right.result["clientCertificate"]
    [refused] = await connector.audit("certificate_refused", client_id=announcement.client_id)
    assert refused.reason is not None and refused.reason.startswith("CSR_SUBJECT_MISMATCH: ")
