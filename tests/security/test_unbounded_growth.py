"""Unbounded growth: a certificate holder cannot fill the token table, and upkeep prunes what has served its time.

A runtime's certificate once bought a new signing-token row with every `configuration` call (2,464 rows in 16 s
from one runtime). Now certificate calls at the Connector are limited per client id, a client holds at most one
unspent signing token, and `maintain()` deletes spent or expired tokens and audit events past their retention.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from connector.ca import CertificateAuthority
from connector.service import ConnectorService
from credentials.models import AuditEvent
from credentials.tokens import TokenType, hash_token
from director.models import OneTimeToken
from kernel.db import Database
from kernel.models import utcnow
from kernel.settings import Settings
from tests.connector.support import (
    CONFIGURATION,
    REVOKE,
    Connected,
    Harness,
    MutableClock,
    RunningServer,
    harness,
)
from tests.security.support import SERVER_SETTINGS

CALLS_PER_MINUTE = 3


@pytest.fixture(scope="module")
def limited_server(
    settings: Settings, compass_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    server = RunningServer.start(
        settings,
        tmp_path_factory.mktemp("limited-server"),
        compass_ca,
        **{**SERVER_SETTINGS, "certificate_calls_per_minute": CALLS_PER_MINUTE},
    )
    yield server
    server.stop()


@pytest.fixture
async def limited(limited_server: RunningServer, database: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(limited_server, database, tmp_path) as subject:
        yield subject


async def signing_tokens(database: Database, client_id: str) -> set[tuple[str, bool]]:
    """The client's signing-token rows: (id, spent)."""
    statement = select(OneTimeToken).where(
        OneTimeToken.system_auth_id == client_id, OneTimeToken.type == TokenType.CSR.value
    )
    async with database.read_sessions() as session:
        return {(row.id, row.used_at is not None) for row in (await session.execute(statement)).scalars()}


async def test_a_runtime_certificate_flooding_configuration_is_refused_beyond_the_limit(limited: Harness) -> None:
    # given: a connected runtime that used up its certificate calls of this minute
    runtime = await limited.connect_runtime(await limited.operator())
    client = limited.mtls(runtime.credentials)
    for _ in range(CALLS_PER_MINUTE):
        assert (await limited.connector(CONFIGURATION, client=client)).result["token"]["token"]
    rows = await signing_tokens(limited.database, runtime.client_id)

    # when: it keeps calling
    answers = await asyncio.gather(*(limited.connector(CONFIGURATION, client=client) for _ in range(20)))

    # then: every call is refused, and not one token row was written
    assert {tuple(answer.codes) for answer in answers} == {("RATE_LIMITED",)}
    assert all(answer.body["data"] is None for answer in answers)
    assert f"more than {CALLS_PER_MINUTE} certificate calls per minute" in answers[0].messages[0]
    assert await signing_tokens(limited.database, runtime.client_id) == rows


async def test_the_certificate_limit_is_per_client(limited: Harness) -> None:
    # given: one runtime used up its certificate calls
    operator = await limited.operator()
    flooding, other = await limited.connect_runtime(operator), await limited.connect_runtime(operator)
    flooding_client = limited.mtls(flooding.credentials)
    for _ in range(CALLS_PER_MINUTE + 1):
        await limited.connector(CONFIGURATION, client=flooding_client)

    # when
    answer = await limited.connector(CONFIGURATION, client=limited.mtls(other.credentials))

    # then
    assert answer.result["certificateSigningRequestInfo"]["subject"] == other.subject


async def test_repeated_configuration_with_a_certificate_keeps_one_unspent_signing_token(server: Harness) -> None:
    # given: a connected runtime: its first signing token is spent
    runtime = await server.connect_runtime(await server.operator())
    client = server.mtls(runtime.credentials)

    # when: it asks for a signing token again and again
    tokens = [(await server.connector(CONFIGURATION, client=client)).result["token"]["token"] for _ in range(5)]

    # then: one spent row and one unspent row, and only the newest token signs
    rows = await signing_tokens(server.database, runtime.client_id)
    assert sorted(spent for _, spent in rows) == [False, True]
    assert len(set(tokens)) == 5
    stale = await server.connector(CONFIGURATION, token=tokens[0])
    assert stale.codes == ["INVALID_TOKEN"]


async def test_a_revoked_certificate_flooding_the_connector_is_audited_only_within_the_limit(limited: Harness) -> None:
    # given: a runtime whose certificate its holder revoked
    runtime = await limited.connect_runtime(await limited.operator())
    await limited.connector(REVOKE, client=limited.mtls(runtime.credentials))

    # when: it keeps calling with the revoked certificate
    client = limited.mtls(runtime.credentials)
    answers = [await limited.connector(CONFIGURATION, client=client) for _ in range(10)]

    # then: refused as revoked while within the limit, then rate limited; audited only within the limit
    codes = [answer.codes for answer in answers]
    within = CALLS_PER_MINUTE - 1  # the revocation was one of them
    assert codes == [["CERTIFICATE_REVOKED"]] * within + [["RATE_LIMITED"]] * (10 - within)
    assert len(await limited.audit("certificate_refused", client_id=runtime.client_id)) == within


# --- upkeep -----------------------------------------------------------------------------------------------


def upkeep(server: Harness, clock: MutableClock, **retention: int) -> ConnectorService:
    """The server's upkeep, run here on the test's database and clock."""
    return ConnectorService(server.database, server.ca, server.settings.model_copy(update=retention), clock)


async def aged_tokens(database: Database, runtime: Connected) -> dict[str, str]:
    """Token rows of the runtime's client, each aged as its name says: name -> id."""
    now, day = utcnow(), timedelta(days=1)
    ages = {  # (created, expires, used)
        "spent 8 days ago": (now - 9 * day, now + day, now - 8 * day),
        "expired 8 days ago": (now - 9 * day, now - 8 * day, None),
        "spent 6 days ago": (now - 7 * day, now + day, now - 6 * day),
        "expired 6 days ago": (now - 7 * day, now - 6 * day, None),
        "valid, unspent": (now, now + day, None),
    }
    async with database.transaction() as session:
        statement = select(OneTimeToken.tenant_id).where(OneTimeToken.system_auth_id == runtime.client_id)
        tenant_id = (await session.execute(statement)).scalars().first()
        rows = {
            name: OneTimeToken(
                tenant_id=tenant_id,
                system_auth_id=runtime.client_id,
                token_hash=hash_token(f"{name} {runtime.client_id}"),
                type=TokenType.RUNTIME.value,
                created_at=created,
                expires_at=expires,
                used_at=used,
            )
            for name, (created, expires, used) in ages.items()
        }
        session.add_all(rows.values())
    return {name: row.id for name, row in rows.items()}


async def remaining(
    database: Database, model: type[OneTimeToken | AuditEvent], ids: dict[str, str]
) -> set[str]:
    """The names (of ``ids``: name -> id) whose rows are still there."""
    by_id = {row_id: name for name, row_id in ids.items()}
    async with database.read_sessions() as session:
        found = (await session.execute(select(model.id).where(model.id.in_(list(by_id))))).scalars()
        return {by_id[row_id] for row_id in found}


async def test_upkeep_prunes_spent_and_expired_tokens_past_the_retention(server: Harness) -> None:
    # given: token rows spent or expired 8 and 6 days ago, and a valid one
    runtime = await server.connect_runtime(await server.operator())
    ids = await aged_tokens(server.database, runtime)

    # when
    await upkeep(server, MutableClock(), token_retention_days=7).maintain()

    # then
    assert await remaining(server.database, OneTimeToken, ids) == {
        "spent 6 days ago", "expired 6 days ago", "valid, unspent",
    }  # fmt: skip


async def test_upkeep_prunes_audit_events_past_the_retention(server: Harness) -> None:
    # given: events 91 and 89 days old
    client_id = str(uuid.uuid4())
    now = utcnow()
    events = {
        name: AuditEvent(event="token_refused", client_id=client_id, at=now - timedelta(days=days))
        for name, days in (("91 days old", 91), ("89 days old", 89))
    }
    async with server.database.transaction() as session:
        session.add_all(events.values())
    ids = {name: event.id for name, event in events.items()}

    # when
    await upkeep(server, MutableClock(), audit_retention_days=90).maintain()

    # then
    assert await remaining(server.database, AuditEvent, ids) == {"89 days old"}


async def test_upkeep_follows_the_injected_clock(server: Harness) -> None:
    # given: a runtime connected now: its one-time token and its first signing token are spent
    runtime = await server.connect_runtime(await server.operator())
    clock = MutableClock()
    clock.advance(timedelta(days=8))

    # when: upkeep runs eight days later
    await upkeep(server, clock, token_retention_days=7).maintain()

    # then
    assert await signing_tokens(server.database, runtime.client_id) == set()


async def test_a_retention_of_zero_keeps_everything(server: Harness) -> None:
    # given
    runtime = await server.connect_runtime(await server.operator())
    ids = await aged_tokens(server.database, runtime)
    event = AuditEvent(event="token_refused", at=utcnow() - timedelta(days=3650))
    async with server.database.transaction() as session:
        session.add(event)

    # when
    await upkeep(server, MutableClock(), token_retention_days=0, audit_retention_days=0).maintain()

    # then
    assert await remaining(server.database, OneTimeToken, ids) == set(ids)
    assert await remaining(server.database, AuditEvent, {"old": event.id}) == {"old"}
