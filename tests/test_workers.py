"""`compass serve --workers 2` on one PostgreSQL: both processes serve; what one spends or changes holds.

Each test talks to a real `compass serve --workers 2` subprocess. Which worker answered a request is read from
/proc, without adding anything to the server: the test keeps its connections open, looks up the server side of
each one in /proc/net/tcp (local port = the listener, remote port = the client's) and finds the worker whose
open files hold that socket. So a test knows, connection by connection, which process answered.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from director.polling.last_seen import LastSeenRecorder
from kernel.db import Database
from kernel.models import utcnow
from testing.databases import POSTGRES_URL, create_postgres_database
from testing.served import ServedCompass
from testing.waiting import wait_until
from tests.connector.support import (
    CONFIGURATION,
    REVOKE,
    Credentials,
    client_ssl_context,
    csr_b64,
    ec_key,
    post_graphql,
    sign_document,
    unb64,
)
from tests.support import Operator, TenantFactory, registered_runtimes

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="COMPASS_TEST_POSTGRES_URL is not set; `make test` starts PostgreSQL"
)

WORKERS = 2
CONNECTIONS = 40
CONNECTOR = "/connector/graphql"
DIRECTOR = "/director/graphql"

REGISTER_RUNTIME = 'mutation { result: registerRuntime(in: {name: "%s"}) { id } }'
REGISTER_APPLICATION = (
    'mutation { result: registerApplication(in: {name: "%s", description: "first"}) { id } }'
)
UPDATE_APPLICATION = 'mutation { result: updateApplication(id: "%s", in: {description: "%s"}) { id } }'
ASSIGN = (
    'mutation { result: assignFormation(objectID: "%s", objectType: %s, formation: {name: "DEFAULT"}) '
    "{ name } }"
)
REQUEST_TOKEN = 'mutation { result: requestOneTimeTokenForRuntime(id: "%s") { token } }'
SYNC = '{ result: applicationsForRuntime(runtimeID: "%s") { data { id name description } totalCount } }'


# --- which process holds a connection (/proc) -------------------------------------------------------------


def _server_socket_inodes(listener_port: int) -> dict[int, int]:
    """Client port -> inode of the server's end, for established loopback connections to ``listener_port``."""
    inodes: dict[int, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if local_port == listener_port and fields[3] == "01":  # 01 = ESTABLISHED
            inodes[remote_port] = int(fields[9])
    return inodes


def _socket_inodes_of(pid: int) -> set[int]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def owners(workers: set[int], listener_port: int, client_ports: list[int]) -> list[int | None]:
    """The worker holding each (still open) connection, by the client's port; None if none of them does."""
    inodes = _server_socket_inodes(listener_port)
    held = {pid: _socket_inodes_of(pid) for pid in workers}
    found: list[int | None] = []
    for port in client_ports:
        inode = inodes.get(port)
        found.append(next((pid for pid, sockets in held.items() if inode in sockets), None))
    return found


def client_port(response: httpx.Response) -> int:
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


# --- the server -------------------------------------------------------------------------------------------


def workers_server(directory: Path, database_url: str) -> ServedCompass:
    """`compass serve --workers 2`; every call of a test comes from 127.0.0.1, and there are 30 at once."""
    env = {"COMPASS_REDEMPTIONS_PER_SECOND": "10000", "COMPASS_LOG_LEVEL": "warning"}
    return ServedCompass(directory / "data", database_url, workers=WORKERS, env=env)


@pytest.fixture(scope="module")
async def database_url() -> str:
    return await create_postgres_database("compass_workers", migrated=True)


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedCompass]:
    with workers_server(tmp_path_factory.mktemp("workers"), database_url) as server:
        yield server


@pytest.fixture
def own_server(database_url: str, tmp_path: Path) -> Iterator[ServedCompass]:
    """A server of the test's own, for tests that stop or kill its processes."""
    with workers_server(tmp_path, database_url) as server:
        yield server


@pytest.fixture(scope="module")
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def operator(served: ServedCompass, database: Database) -> AsyncIterator[Operator]:
    """An operator of a fresh tenant, on a plain HTTP connection of its own."""
    async with httpx.AsyncClient(base_url=served.http_url, timeout=30) as client:
        yield await TenantFactory(served.settings, database, client).operator()


@dataclass(frozen=True)
class ConnectedRuntime:
    runtime_id: str
    application_id: str
    credentials: Credentials


async def connected_runtime(served: ServedCompass, operator: Operator, directory: Path) -> ConnectedRuntime:
    """A runtime that sees one application and holds a client certificate from the Connector (EC P-256)."""
    runtime_id = (await operator.query(REGISTER_RUNTIME % f"runtime-{uuid.uuid4().hex[:8]}"))["result"]["id"]
    application_id = (await operator.query(REGISTER_APPLICATION % "shop"))["result"]["id"]
    await operator.query(ASSIGN % (runtime_id, "RUNTIME"))
    await operator.query(ASSIGN % (application_id, "APPLICATION"))
    token = (await operator.query(REQUEST_TOKEN % runtime_id))["result"]["token"]
    key = ec_key()
    async with httpx.AsyncClient(base_url=served.http_url, timeout=30) as client:
        configuration = (
            await post_graphql(client, CONNECTOR, CONFIGURATION, headers={"Connector-Token": token})
        ).result
        subject = configuration["certificateSigningRequestInfo"]["subject"]
        signing = {"Connector-Token": configuration["token"]["token"]}
        document = sign_document(csr_b64(key, subject))
        signed = (await post_graphql(client, CONNECTOR, document, headers=signing)).result
    credentials = Credentials.write(directory, unb64(signed["certificateChain"]), key)
    return ConnectedRuntime(runtime_id, application_id, credentials)


# --- the tests --------------------------------------------------------------------------------------------


async def test_both_workers_answer_requests_on_both_listeners(served: ServedCompass) -> None:
    # given: connections opened at once on each listener, each kept open after its answer
    workers = served.children()
    verify = client_ssl_context(served.ca_file.read_text(), None)
    async with AsyncExitStack() as stack:
        plain = [await stack.enter_async_context(httpx.AsyncClient(timeout=30)) for _ in range(CONNECTIONS)]
        secure = [
            await stack.enter_async_context(httpx.AsyncClient(timeout=30, verify=verify))
            for _ in range(CONNECTIONS)
        ]

        # when
        answers = await asyncio.gather(
            *(client.get(f"{served.http_url}/healthz") for client in plain),
            *(client.get(f"{served.https_url}/healthz") for client in secure),
        )
        ports = [client_port(answer) for answer in answers]
        over_http = owners(workers, served.http_port, ports[:CONNECTIONS])
        over_https = owners(workers, served.https_port, ports[CONNECTIONS:])

    # then
    assert [answer.status_code for answer in answers] == [200] * 2 * CONNECTIONS
    assert len(workers) == WORKERS
    assert set(over_http) == workers
    assert set(over_https) == workers


def _healthz_requests_counted(served: ServedCompass) -> float:
    """What /metrics says of GET /healthz answered 200, from whichever worker answers the scrape."""
    scraped = httpx.get(f"{served.http_url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
        if sample.name == "compass_http_requests_total"
        and sample.labels == {"method": "GET", "path": "/healthz", "status": "200"}
    )


async def test_metrics_count_the_requests_of_every_worker(served: ServedCompass) -> None:
    # given
    workers = served.children()
    before = _healthz_requests_counted(served)

    # when: requests on connections opened at once, so both workers answer some
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(timeout=30)) for _ in range(CONNECTIONS)]
        answers = await asyncio.gather(*(client.get(f"{served.http_url}/healthz") for client in clients))
        answered_by = owners(workers, served.http_port, [client_port(answer) for answer in answers])

    # then: every scrape, whichever worker answers it, counts all of them
    assert set(answered_by) == workers, "the requests must reach both processes for this test to mean anything"
    assert [_healthz_requests_counted(served) - before for _ in range(4)] == [CONNECTIONS] * 4


async def test_a_runtime_token_is_redeemed_once_across_processes(
    served: ServedCompass, operator: Operator
) -> None:
    # given
    runtime_id = (await operator.query(REGISTER_RUNTIME % "redeemed-once"))["result"]["id"]
    token = (await operator.query(REQUEST_TOKEN % runtime_id))["result"]["token"]
    workers = served.children()
    calls = 30

    # when: 30 configuration calls with the token at once, each on a new connection
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=served.http_url, timeout=30))
            for _ in range(calls)
        ]

        async def configuration(client: httpx.AsyncClient) -> tuple[tuple[str, ...], int]:
            headers = {"Connector-Token": token}
            response = await client.post(CONNECTOR, json={"query": CONFIGURATION}, headers=headers)
            errors = response.json().get("errors") or []
            return tuple(error["extensions"]["code"] for error in errors), client_port(response)

        results = await asyncio.gather(*(configuration(client) for client in clients))
        answered_by = owners(workers, served.http_port, [port for _, port in results])

    # then
    assert set(answered_by) == workers, "the calls must reach both processes for this test to mean anything"
    assert sorted(codes for codes, _ in results) == [()] + [("TOKEN_ALREADY_USED",)] * (calls - 1)


async def polls(
    served: ServedCompass, runtime: ConnectedRuntime, etag: str | None = None
) -> list[tuple[httpx.Response, int | None]]:
    """CONNECTIONS polls of ``runtime`` at once over mTLS, each on a new connection; each answer with its worker."""
    verify = client_ssl_context(served.ca_file.read_text(), runtime.credentials)
    headers = {"If-None-Match": etag} if etag else {}
    body = {"query": SYNC % runtime.runtime_id, "variables": None}
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=served.https_url, verify=verify, timeout=30))
            for _ in range(CONNECTIONS)
        ]
        polled = (client.post(DIRECTOR, json=body, headers=headers) for client in clients)
        answers = await asyncio.gather(*polled)
        answered_by = owners(served.children(), served.https_port, [client_port(answer) for answer in answers])
    return list(zip(answers, answered_by, strict=True))


async def test_a_change_made_through_one_process_is_never_answered_304_by_another(
    served: ServedCompass, operator: Operator, tmp_path: Path
) -> None:
    # given: a runtime whose view both processes have answered (and kept), with its ETag
    runtime = await connected_runtime(served, operator, tmp_path)
    workers = served.children()

    before = await polls(served, runtime)
    old_etags = {answer.headers["etag"] for answer, _ in before}
    assert {worker for _, worker in before} == workers
    assert [answer.status_code for answer, _ in before] == [200] * CONNECTIONS
    assert len(old_etags) == 1
    old_etag = old_etags.pop()
    assert {answer.status_code for answer, _ in await polls(served, runtime, old_etag)} == {304}

    # when: an operator changes the application through another connection
    await operator.query(UPDATE_APPLICATION % (runtime.application_id, "second"))
    after = await polls(served, runtime, old_etag)

    # then: whichever process answers, the new view with a new ETag
    assert {worker for _, worker in after} == workers
    assert [answer.status_code for answer, _ in after] == [200] * CONNECTIONS
    assert {answer.headers["etag"] for answer, _ in after} != {old_etag}
    assert len({answer.headers["etag"] for answer, _ in after}) == 1
    assert {answer.json()["data"]["result"]["data"][0]["description"] for answer, _ in after} == {"second"}


async def test_a_certificate_revoked_through_one_process_is_refused_by_every_process_at_the_next_call(
    served: ServedCompass, operator: Operator, tmp_path: Path
) -> None:
    # given: a runtime whose identity both processes have looked up (and kept)
    runtime = await connected_runtime(served, operator, tmp_path)
    workers = served.children()
    before = await polls(served, runtime)
    assert {worker for _, worker in before} == workers
    assert [answer.status_code for answer, _ in before] == [200] * CONNECTIONS

    # when: the runtime revokes its certificate at the Connector, through one of them
    verify = client_ssl_context(served.ca_file.read_text(), runtime.credentials)
    async with httpx.AsyncClient(base_url=served.https_url, verify=verify, timeout=30) as client:
        revoked = (await post_graphql(client, CONNECTOR, REVOKE)).result
    after = await polls(served, runtime)

    # then: whichever process answers the next calls refuses them
    assert revoked is True
    assert {worker for _, worker in after} == workers
    codes = {answer.json()["errors"][0]["extensions"]["code"] for answer, _ in after}
    assert codes == {"CERTIFICATE_REVOKED"}


async def test_a_worker_that_dies_is_replaced_and_the_server_keeps_serving(served: ServedCompass) -> None:
    """On the module's server: a replaced worker is what the server promises, no later test is disturbed."""
    # given
    workers = served.children()
    killed = min(workers)

    # when
    os.kill(killed, signal.SIGKILL)
    await wait_until(
        lambda: len(served.children() - {killed}) == WORKERS,
        what=f"a new worker in place of {killed}",
        every=0.1,
        detail=served.log_tail,
    )

    # then
    assert served.running
    async with httpx.AsyncClient(base_url=served.http_url, timeout=5) as client:
        assert (await client.get("/readyz")).status_code == 200


def test_sigterm_to_the_parent_stops_every_worker(own_server: ServedCompass) -> None:
    # given
    workers = own_server.children()
    process = own_server.process
    assert process is not None

    # when
    process.send_signal(signal.SIGTERM)
    status = process.wait(timeout=30)

    # then
    assert status == 0, own_server.log_tail()
    assert len(workers) == WORKERS
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []


async def test_two_processes_flushing_last_seen_of_the_same_runtimes_do_not_deadlock(database_url: str) -> None:
    # given: the recorders of two processes (a pool each) that saw the same runtimes in opposite orders
    databases = [Database(database_url), Database(database_url)]
    try:
        runtimes = await registered_runtimes(databases[0], 100, "seen")
        recorders = [LastSeenRecorder(database, utcnow) for database in databases]
        for runtime_id in runtimes:
            recorders[0].seen(runtime_id)
        for runtime_id in reversed(runtimes):
            recorders[1].seen(runtime_id)

        # when
        flushed = await asyncio.gather(*(recorder.flush() for recorder in recorders), return_exceptions=True)
    finally:
        for database in databases:
            await database.dispose()

    # then
    assert flushed == [len(runtimes), len(runtimes)]
