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
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from director.graphql.inputs import RuntimeRegisterInput
from director.polling.last_seen import LastSeenRecorder
from director.runtime.service import runtime as runtime_service
from director.tenant.service import tenant as tenant_service
from kernel.db import Database
from kernel.models import utcnow
from kernel.settings import Settings
from tests.connector.support import (
    CONFIGURATION,
    Credentials,
    client_ssl_context,
    csr_b64,
    ec_key,
    post_graphql,
    sign_document,
    unb64,
)
from tests.support import Operator, TenantFactory

POSTGRES_URL = os.environ.get("COMPASS_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="COMPASS_TEST_POSTGRES_URL is not set; `make test` starts PostgreSQL"
)

COMPASS = Path(sys.executable).with_name("compass")
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


def children_of(parent: int) -> set[int]:
    children = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            children.add(int(entry))
    return children


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _create_database() -> str:
    assert POSTGRES_URL
    url = make_url(POSTGRES_URL)
    name = f"compass_workers_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=url.database
    )
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.set(database=name).render_as_string(hide_password=False)


@dataclass
class Served:
    """A running `compass serve --workers 2` and what a test needs to reach it."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    database_url: str
    http_port: int
    https_port: int
    log: Path

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def ca_pem(self) -> str:
        """The CA chain `compass serve` writes for the HTTPS listener; clients verify the server with it."""
        return (self.data_dir / "tls" / "client-ca.pem").read_text()

    @property
    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir, database_url=self.database_url)

    def workers(self) -> set[int]:
        return children_of(self.process.pid)

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"compass serve exited:\n{self.log_tail()}"
            if len(self.workers()) == WORKERS and self._ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"compass serve --workers {WORKERS} was not ready in 30 s:\n{self.log_tail()}")

    def _ready(self) -> bool:
        try:
            plain = httpx.get(f"{self.http_url}/readyz", timeout=2)
            verify = client_ssl_context(self.ca_pem, None)
            secure = httpx.get(f"{self.https_url}/readyz", timeout=2, verify=verify)
        except (httpx.HTTPError, OSError):
            return False
        return plain.status_code == secure.status_code == 200

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def serve(data_dir: Path, database_url: str) -> Served:
    env = {name: value for name, value in os.environ.items() if not name.startswith("COMPASS_")}
    http_port, https_port = _free_port(), _free_port()
    env.update(
        {
            "COMPASS_DATA_DIR": str(data_dir),
            "COMPASS_DATABASE_URL": database_url,
            "COMPASS_HTTP_PORT": str(http_port),
            "COMPASS_HTTPS_PORT": str(https_port),
            # Every call of a test comes from 127.0.0.1, and there are 30 at once.
            "COMPASS_REDEMPTIONS_PER_SECOND": "10000",
            "COMPASS_LOG_LEVEL": "warning",
        }
    )
    log = data_dir / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own entry point, fixed arguments
            [str(COMPASS), "serve", "--workers", str(WORKERS)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    served = Served(process, data_dir, database_url, http_port, https_port, log)
    try:
        served.wait_ready()
    except BaseException:
        served.stop()
        raise
    return served


@pytest.fixture(scope="module")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = await _create_database()
    data_dir = tmp_path_factory.mktemp("migrate")
    env = {**os.environ, "COMPASS_DATABASE_URL": url, "COMPASS_DATA_DIR": str(data_dir)}
    migrated = subprocess.run(  # noqa: S603 - our own entry point, fixed arguments
        [str(COMPASS), "migrate"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    return url


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = serve(tmp_path_factory.mktemp("workers"), database_url)
    yield server
    server.stop()


@pytest.fixture
def own_server(database_url: str, tmp_path: Path) -> Iterator[Served]:
    """A server of the test's own, for tests that stop or kill its processes."""
    server = serve(tmp_path, database_url)
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def operator(served: Served, database: Database) -> AsyncIterator[Operator]:
    """An operator of a fresh tenant, on a plain HTTP connection of its own."""
    async with httpx.AsyncClient(base_url=served.http_url, timeout=30) as client:
        yield await TenantFactory(served.settings, database, client).operator()


@dataclass(frozen=True)
class ConnectedRuntime:
    runtime_id: str
    application_id: str
    credentials: Credentials


async def connected_runtime(served: Served, operator: Operator, directory: Path) -> ConnectedRuntime:
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


async def eventually(condition: Callable[[], bool], attempts: int = 200) -> bool:
    """True as soon as ``condition`` holds, checked every 0.1 s; False if it never did."""
    for _ in range(attempts):
        if condition():
            return True
        await asyncio.sleep(0.1)
    return False


# --- the tests --------------------------------------------------------------------------------------------


async def test_both_workers_answer_requests_on_both_listeners(served: Served) -> None:
    # given: connections opened at once on each listener, each kept open after its answer
    workers = served.workers()
    verify = client_ssl_context(served.ca_pem, None)
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


def _healthz_requests_counted(served: Served) -> float:
    """What /metrics says of GET /healthz answered 200, from whichever worker answers the scrape."""
    scraped = httpx.get(f"{served.http_url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
        if sample.name == "compass_http_requests_total"
        and sample.labels == {"method": "GET", "path": "/healthz", "status": "200"}
    )


async def test_metrics_count_the_requests_of_every_worker(served: Served) -> None:
    # given
    workers = served.workers()
    before = _healthz_requests_counted(served)

    # when: requests on connections opened at once, so both workers answer some
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(timeout=30)) for _ in range(CONNECTIONS)]
        answers = await asyncio.gather(*(client.get(f"{served.http_url}/healthz") for client in clients))
        answered_by = owners(workers, served.http_port, [client_port(answer) for answer in answers])

    # then: every scrape, whichever worker answers it, counts all of them
    assert set(answered_by) == workers, "the requests must reach both processes for this test to mean anything"
    assert [_healthz_requests_counted(served) - before for _ in range(4)] == [CONNECTIONS] * 4


async def test_a_runtime_token_is_redeemed_once_across_processes(served: Served, operator: Operator) -> None:
    # given
    runtime_id = (await operator.query(REGISTER_RUNTIME % "redeemed-once"))["result"]["id"]
    token = (await operator.query(REQUEST_TOKEN % runtime_id))["result"]["token"]
    workers = served.workers()
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


async def test_a_change_made_through_one_process_is_never_answered_304_by_another(
    served: Served, operator: Operator, tmp_path: Path
) -> None:
    # given: a runtime whose view both processes have answered (and kept), with its ETag
    runtime = await connected_runtime(served, operator, tmp_path)
    verify = client_ssl_context(served.ca_pem, runtime.credentials)
    workers = served.workers()

    async def polls(etag: str | None) -> list[tuple[httpx.Response, int | None]]:
        """CONNECTIONS polls at once over mTLS, each on a new connection; each answer with its worker."""
        headers = {"If-None-Match": etag} if etag else {}
        body = {"query": SYNC % runtime.runtime_id, "variables": None}
        async with AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=served.https_url, verify=verify, timeout=30)
                )
                for _ in range(CONNECTIONS)
            ]
            polled = (client.post(DIRECTOR, json=body, headers=headers) for client in clients)
            answers = await asyncio.gather(*polled)
            answered_by = owners(workers, served.https_port, [client_port(answer) for answer in answers])
        return list(zip(answers, answered_by, strict=True))

    before = await polls(None)
    old_etags = {answer.headers["etag"] for answer, _ in before}
    assert {worker for _, worker in before} == workers
    assert [answer.status_code for answer, _ in before] == [200] * CONNECTIONS
    assert len(old_etags) == 1
    old_etag = old_etags.pop()
    assert {answer.status_code for answer, _ in await polls(old_etag)} == {304}

    # when: an operator changes the application through another connection
    await operator.query(UPDATE_APPLICATION % (runtime.application_id, "second"))
    after = await polls(old_etag)

    # then: whichever process answers, the new view with a new ETag
    assert {worker for _, worker in after} == workers
    assert [answer.status_code for answer, _ in after] == [200] * CONNECTIONS
    assert {answer.headers["etag"] for answer, _ in after} != {old_etag}
    assert len({answer.headers["etag"] for answer, _ in after}) == 1
    assert {answer.json()["data"]["result"]["data"][0]["description"] for answer, _ in after} == {"second"}


async def test_a_worker_that_dies_is_replaced_and_the_server_keeps_serving(own_server: Served) -> None:
    # given
    workers = own_server.workers()
    killed = min(workers)

    # when
    os.kill(killed, signal.SIGKILL)
    replaced = await eventually(lambda: len(own_server.workers() - {killed}) == WORKERS)

    # then
    assert replaced, own_server.log_tail()
    assert own_server.process.poll() is None
    assert httpx.get(f"{own_server.http_url}/readyz", timeout=5).status_code == 200


def test_sigterm_to_the_parent_stops_every_worker(own_server: Served) -> None:
    # given
    workers = own_server.workers()

    # when
    own_server.process.send_signal(signal.SIGTERM)
    status = own_server.process.wait(timeout=30)

    # then
    assert status == 0, own_server.log_tail()
    assert len(workers) == WORKERS
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []


async def test_two_processes_flushing_last_seen_of_the_same_runtimes_do_not_deadlock(database_url: str) -> None:
    # given: the recorders of two processes (a pool each) that saw the same runtimes in opposite orders
    databases = [Database(database_url), Database(database_url)]
    try:
        async with databases[0].transaction() as session:
            tenant = await tenant_service.create(session, f"last-seen-{uuid.uuid4().hex[:8]}")
            runtimes = [
                await runtime_service.register(session, tenant.id, RuntimeRegisterInput(name=f"seen-{index}"))
                for index in range(100)
            ]
        recorders = [LastSeenRecorder(database, utcnow) for database in databases]
        for runtime in runtimes:
            recorders[0].seen(runtime.id)
        for runtime in reversed(runtimes):
            recorders[1].seen(runtime.id)

        # when
        flushed = await asyncio.gather(*(recorder.flush() for recorder in recorders), return_exceptions=True)
    finally:
        for database in databases:
            await database.dispose()

    # then
    assert flushed == [len(runtimes), len(runtimes)]
