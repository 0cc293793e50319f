"""kill -9 of `compass serve` while runtimes redeem one-time tokens: each token ends redeemed with its
certificate recorded, or still usable.

A first connection is two single-use steps, each one transaction: ``configuration`` spends the runtime's
token and creates the signing token it answers with; ``signCertificateSigningRequest`` spends the signing
token and records the certificate it answers with. "All or nothing" is therefore, per client id of a token:

- the one-time token is used  <=>  a signing token exists        (the redemption is one transaction)
- a signing token is used     <=>  its certificate is recorded   (the signing is one transaction)
- an answer the client received was committed: its token is used, its signing token or certificate is there.

A token is "still usable" exactly when its step was not committed, and the server must show it: after the
restart ``configuration`` with an unused token, or signing with an unused signing token the client holds,
succeeds; with a used one it answers TOKEN_ALREADY_USED. One state is neither a certificate nor a usable
token from the client's side: ``configuration`` committed but its answer died with the server. Its signing
token is unused, bought nothing, and expires after ``signing_token_ttl_seconds``; the runtime asks the
Director for a new one-time token. That is the committed whole of the first step, not a half-done one.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography import x509
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from credentials.models import IssuedCertificate
from credentials.tokens import TokenType, hash_token
from director.models import OneTimeToken
from testing.served import ServedCompass
from testing.waiting import wait_until
from tests.connector.support import CONFIGURATION, csr_b64, ec_key, sign_document
from tests.faults.support import create_tenant, write_transaction_probe

TOKENS_PER_ROUND = 24
WORKERS = 8
# A round per kill point, each after this many certificates, while a redemption is being written: the first as
# soon as one runtime got through, on the server as it started; the second after a quarter of them, on the server
# restarted after the first kill, so that leftovers of a kill meet the next one. More tokens or rounds only repeat
# these points: where in which step the kill lands is up to how the operating system schedules the server. With
# at most WORKERS connections in flight at the kill, some tokens are still untouched in every round.
KILLS_AFTER = (1, TOKENS_PER_ROUND // 4)

REGISTER_RUNTIME = "mutation ($in: RuntimeRegisterInput!) { result: registerRuntime(in: $in) { id } }"
REQUEST_RUNTIME_TOKEN = "mutation ($id: ID!) { result: requestOneTimeTokenForRuntime(id: $id) { token } }"


@dataclass
class Flow:
    """One runtime's first connection as its client saw it."""

    token: str
    signing_token: str | None = None
    subject: str | None = None
    serial: str | None = None


@dataclass(frozen=True)
class Stored:
    """The rows of one token's client id."""

    token_used: bool
    signing_tokens: dict[str, bool]  # hash -> used
    serials: set[str]


@dataclass
class Connector:
    client: httpx.AsyncClient

    async def call(self, document: str, token: str) -> dict[str, Any]:
        response = await self.client.post(
            "/connector/graphql", json={"query": document}, headers={"Connector-Token": token}
        )
        body: dict[str, Any] = response.json()
        return body

    async def configure(self, flow: Flow) -> dict[str, Any]:
        body = await self.call(CONFIGURATION, flow.token)
        if not body.get("errors"):
            result = body["data"]["result"]
            flow.signing_token = result["token"]["token"]
            flow.subject = result["certificateSigningRequestInfo"]["subject"]
        return body

    async def sign(self, flow: Flow) -> dict[str, Any]:
        assert flow.signing_token is not None and flow.subject is not None
        body = await self.call(sign_document(csr_b64(ec_key(), flow.subject)), flow.signing_token)
        if not body.get("errors"):
            flow.serial = serial_of(body["data"]["result"]["clientCertificate"])
        return body


def serial_of(certificate_b64: str) -> str:
    certificate = x509.load_pem_x509_certificate(base64.b64decode(certificate_b64))
    return f"{certificate.serial_number:032x}"


def codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors") or []]


async def issue_tokens(server: ServedCompass, tenant_id: str, count: int) -> list[Flow]:
    """A new runtime and its one-time token, ``count`` times."""
    headers = server.operator_headers(tenant_id)
    async with httpx.AsyncClient(base_url=server.http_url, headers=headers, timeout=60) as client:

        async def query(document: str, variables: dict[str, Any]) -> Any:
            answer = await client.post("/director/graphql", json={"query": document, "variables": variables})
            body = answer.json()
            assert not body.get("errors"), body
            return body["data"]["result"]

        async def one() -> Flow:
            runtime = await query(REGISTER_RUNTIME, {"in": {"name": f"runtime-{uuid.uuid4().hex[:10]}"}})
            return Flow((await query(REQUEST_RUNTIME_TOKEN, {"id": runtime["id"]}))["token"])

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def connect_until_killed(
    server: ServedCompass, queue: asyncio.Queue[Flow], killed: asyncio.Event
) -> None:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=60) as client:
        connector = Connector(client)
        while not killed.is_set() and not queue.empty():
            flow = queue.get_nowait()
            try:
                body = await connector.configure(flow)
                assert not body.get("errors"), body
                body = await connector.sign(flow)
                assert not body.get("errors"), body
            except httpx.TransportError:
                if killed.is_set():
                    return
                raise


async def kill_mid_redemption(
    server: ServedCompass, flows: list[Flow], target: int, probe: Callable[[], Any]
) -> None:
    """Kills the server after ``target`` first connections, while a redemption is being written."""
    queue: asyncio.Queue[Flow] = asyncio.Queue()
    for flow in flows:
        queue.put_nowait(flow)
    killed = asyncio.Event()
    workers = [asyncio.create_task(connect_until_killed(server, queue, killed)) for _ in range(WORKERS)]

    def flows_left() -> bool:
        for worker in workers:
            if worker.done():
                worker.result()  # a worker that failed before the kill fails the test with its error
        return not queue.empty()

    try:
        await wait_until(
            lambda: flows_left() and sum(flow.serial is not None for flow in flows) >= target,
            seconds=30,
            what=f"{target} first connections under load",
        )
        await wait_until(
            lambda: flows_left() and probe(), seconds=20, what="an open redemption transaction", every=0.002
        )
    finally:
        killed.set()
        server.kill()
        await asyncio.gather(*workers)


async def stored_for(engine: AsyncEngine, token: str) -> Stored:
    async with engine.connect() as connection:
        statement = select(OneTimeToken).where(OneTimeToken.token_hash == hash_token(token))
        record = (await connection.execute(statement)).one()
        client_id = record.system_auth_id
        signing = await connection.execute(
            select(OneTimeToken.token_hash, OneTimeToken.used_at).where(
                OneTimeToken.system_auth_id == client_id, OneTimeToken.type == TokenType.CSR.value
            )
        )
        serials = await connection.scalars(
            select(IssuedCertificate.serial).where(IssuedCertificate.system_auth_id == client_id)
        )
        return Stored(
            token_used=record.used_at is not None,
            signing_tokens={row.token_hash: row.used_at is not None for row in signing},
            serials=set(serials),
        )


def broken_links(flow: Flow, stored: Stored) -> list[str]:
    """How the rows of one token break all-or-nothing or lose an answered step; empty when they don't."""
    problems = []
    if stored.token_used != bool(stored.signing_tokens):
        problems.append("the token's use and the signing token it buys are not one transaction")
    if len(stored.signing_tokens) > 1:
        problems.append("more than one signing token for one redemption")
    if sum(stored.signing_tokens.values()) != len(stored.serials):
        problems.append("a used signing token without its certificate, or a certificate without one")
    if flow.signing_token is not None and hash_token(flow.signing_token) not in stored.signing_tokens:
        problems.append("an answered configuration was lost")
    if flow.serial is not None and flow.serial not in stored.serials:
        problems.append("an answered certificate was lost")
    return problems


async def usable_exactly_when_unused(connector: Connector, flow: Flow, stored: Stored) -> list[str]:
    """Replays the step each unused token allows and reuses each used one; what the server did wrong."""
    problems = []
    if not stored.token_used:
        body = await connector.configure(flow)
        if body.get("errors"):
            problems.append(f"an unused token is refused: {codes(body)}")
            return problems
        stored_signing = {hash_token(flow.signing_token or ""): False}
    else:
        if (answered := codes(await connector.call(CONFIGURATION, flow.token))) != ["TOKEN_ALREADY_USED"]:
            problems.append(f"a used token answers {answered}")
        stored_signing = stored.signing_tokens
    if flow.signing_token is None:
        return problems  # the signing token's answer died with the server: it expires unused
    if not stored_signing[hash_token(flow.signing_token)]:
        body = await connector.sign(flow)
        if body.get("errors"):
            problems.append(f"an unused signing token is refused: {codes(body)}")
    elif (answered := codes(await connector.sign(flow))) != ["TOKEN_ALREADY_USED"]:
        problems.append(f"a used signing token answers {answered}")
    return problems


async def test_tokens_cut_by_kill_9_are_redeemed_with_their_certificate_or_still_usable(
    fresh_database_url: str,
    compass_server: Callable[..., ServedCompass],
    engine_of: Callable[[str], AsyncEngine],
) -> None:
    # given: a server that lets one address redeem many tokens a second, and a tenant
    tenant_id = await create_tenant(fresh_database_url)
    server = compass_server(fresh_database_url, COMPASS_REDEMPTIONS_PER_SECOND="100000")
    engine = engine_of(fresh_database_url)
    probe = write_transaction_probe(fresh_database_url)
    await server.restart()

    for target in KILLS_AFTER:
        flows = await issue_tokens(server, tenant_id, TOKENS_PER_ROUND)

        # when: the server is killed while runtimes are connecting, and started again
        await kill_mid_redemption(server, flows, target, probe)
        await server.restart()

        # then: each token's rows are whole, and the server lets exactly the unused tokens be used
        stored = {flow.token: await stored_for(engine, flow.token) for flow in flows}
        print(  # the round's figures, shown with -s or on failure
            f"round: {sum(bool(item.serials) for item in stored.values())} certified, "
            f"{sum(item.token_used and not item.serials for item in stored.values())} configured only "
            f"({sum(flow.signing_token is None and stored[flow.token].token_used for flow in flows)} of them "
            f"with the answer lost), {sum(not item.token_used for item in stored.values())} untouched"
        )
        broken = {flow.token[:8]: broken_links(flow, stored[flow.token]) for flow in flows}
        assert {token: problems for token, problems in broken.items() if problems} == {}
        async with httpx.AsyncClient(base_url=server.http_url, timeout=60) as client:
            connector = Connector(client)
            replayed = {
                flow.token[:8]: await usable_exactly_when_unused(connector, flow, stored[flow.token])
                for flow in flows
            }
        assert {token: problems for token, problems in replayed.items() if problems} == {}
        # and the kill came mid-way: some runtimes had a certificate, some had not yet spent their token
        assert any(item.serials for item in stored.values())
        assert not all(item.token_used for item in stored.values())
