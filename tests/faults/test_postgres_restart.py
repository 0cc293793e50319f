"""PostgreSQL goes away under load: the server answers clear errors meanwhile and recovers by itself.

Each test runs a PostgreSQL cluster of its own (stopping the shared one would break other tests) and a
`compass serve` on it. Operators list applications and a runtime polls ``applicationsForRuntime`` over mTLS,
in a loop, while the database goes away and comes back: PostgreSQL stopped (``pg_ctl stop -m fast``: its
connections cut, new ones refused) and started, or the network to it partitioned (nothing answers, nothing
is refused) and healed. Every request must end within REQUEST_BOUND seconds; while the database is away
every answer is a clear refusal (503, or 200 with GraphQL errors, each with an ``extensions.code``; never a
bare 500 or a dropped connection); ``/readyz`` says 503; once the database is back the same server process
answers again and ``/readyz`` says 200.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from director.graphql.context import DirectorContext
from kernel.db import Database, is_database_unavailable
from testing.databases import migrate
from testing.served import ServedCompass
from testing.waiting import wait_until
from tests.connector.support import CONFIGURATION, csr_b64, ec_key, key_pem, sign_document
from tests.faults.support import PostgresCluster, create_tenant
from tests.support import Operator

# compass.db bounds each wait: a statement 10 s, then closing its stalled connection 2 s (SQLAlchemy), then
# opening a new one 5 s; the rest is slack for a loaded machine.
REQUEST_BOUND = 20.0
OUTAGE_ANSWERS = 3  # refusals of each kind of client seen while the database is away
CLIENTS_OF_EACH_KIND = 3

REGISTER_APPLICATION = (
    "mutation ($in: ApplicationRegisterInput!) { result: registerApplication(in: $in) { id } }"
)
REGISTER_RUNTIME = "mutation ($in: RuntimeRegisterInput!) { result: registerRuntime(in: $in) { id } }"
REQUEST_RUNTIME_TOKEN = "mutation ($id: ID!) { result: requestOneTimeTokenForRuntime(id: $id) { token } }"
APPLICATIONS = "{ result: applications(first: 50) { totalCount data { id name } } }"
APPLICATIONS_FOR_RUNTIME = (
    "query ($id: ID!) { result: applicationsForRuntime(runtimeID: $id) { totalCount data { id name } } }"
)


@dataclass(frozen=True)
class Answer:
    client: str
    phase: str
    outcome: str  # ok | refused | uncoded | unclear | hung | unreachable
    detail: str


def judge(response: httpx.Response) -> tuple[str, str]:
    """ok: data, no errors; refused: 200 or 503 with GraphQL errors that all carry a code; uncoded: 200 with
    GraphQL errors without one (see test_a_session_that_fails_to_close_leaves_the_answer_alone); else
    unclear."""
    try:
        body = response.json()
    except ValueError:
        return "unclear", f"HTTP {response.status_code}: {response.text[:200]!r}"
    errors = body.get("errors") if isinstance(body, dict) else None
    if response.status_code == 200 and not errors and body.get("data"):
        return "ok", "200"
    codes = [error.get("extensions", {}).get("code") for error in errors or [] if isinstance(error, dict)]
    if response.status_code in (200, 503) and codes and all(codes):
        return "refused", f"HTTP {response.status_code} {codes}"
    if response.status_code == 200 and errors:
        return "uncoded", f"HTTP 200: {str(body)[:200]}"
    return "unclear", f"HTTP {response.status_code}: {str(body)[:200]}"


@dataclass
class Load:
    phase: str = "before"
    answers: list[Answer] = field(default_factory=list)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, client: str, phase: str, outcome: str | None = None) -> int:
        return sum(
            1
            for answer in self.answers
            if (answer.client, answer.phase) == (client, phase) and outcome in (None, answer.outcome)
        )

    async def run(self, name: str, client: httpx.AsyncClient, body: dict[str, Any]) -> None:
        while not self.stopped.is_set():
            phase = self.phase
            try:
                response = await asyncio.wait_for(client.post("/director/graphql", json=body), REQUEST_BOUND)
            except TimeoutError:
                self.answers.append(Answer(name, phase, "hung", f"no answer within {REQUEST_BOUND} s"))
                continue
            except httpx.TransportError as error:
                self.answers.append(Answer(name, phase, "unreachable", repr(error)))
            else:
                self.answers.append(Answer(name, phase, *judge(response)))
            await asyncio.sleep(0.02)  # a client's pace between requests, not a wait for anything


async def connected_runtime(
    server: ServedCompass, tenant_id: str, directory: Path
) -> tuple[str, ssl.SSLContext]:
    """A runtime in the DEFAULT formation with an application, and an SSL context with its certificate."""
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:

        async def query(document: str, variables: dict[str, Any] | None = None, **headers: str) -> Any:
            answer = await client.post(
                path := ("/connector/graphql" if "Connector-Token" in headers else "/director/graphql"),
                json={"query": document, "variables": variables},
                headers=headers or server.operator_headers(tenant_id),
            )
            body = answer.json()
            assert not body.get("errors"), (path, body)
            return body["data"]["result"]

        scenarios = {"scenarios": ["DEFAULT"]}
        await query(REGISTER_APPLICATION, {"in": {"name": "billing", "labels": scenarios}})
        runtime_id = (await query(REGISTER_RUNTIME, {"in": {"name": "cluster-1", "labels": scenarios}}))["id"]
        token = (await query(REQUEST_RUNTIME_TOKEN, {"id": runtime_id}))["token"]
        configuration = await query(CONFIGURATION, **{"Connector-Token": token})
        key = ec_key()
        csr = csr_b64(key, configuration["certificateSigningRequestInfo"]["subject"])
        signed = await query(sign_document(csr), **{"Connector-Token": configuration["token"]["token"]})
    chain, key_file = directory / "runtime.crt", directory / "runtime.key"
    chain.write_bytes(base64.b64decode(signed["certificateChain"]))
    key_file.write_bytes(key_pem(key))
    context = ssl.create_default_context(cafile=str(server.ca_file))
    context.load_cert_chain(chain, key_file)
    return runtime_id, context


async def readyz(server: ServedCompass) -> int:
    async with httpx.AsyncClient(timeout=REQUEST_BOUND) as client:
        return (await client.get(f"{server.http_url}/readyz")).status_code


def readyz_is(server: ServedCompass, expected: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await readyz(server) == expected

    return check


class PartitionProxy:
    """A TCP proxy in front of PostgreSQL that can stop carrying bytes, as a network partition does.

    Partitioned, it neither forwards nor closes anything: established connections stall mid-statement and new
    ones are accepted but never reach PostgreSQL, so that only the client's own timeouts can end a wait.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    def partition(self) -> None:
        self.flowing.clear()

    def heal(self) -> None:
        self.flowing.set()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.writers.append(client_writer)
        await self.flowing.wait()
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.close()
            return
        self.writers.append(upstream_writer)
        for reader, writer in ((client_reader, upstream_writer), (upstream_reader, client_writer)):
            task = asyncio.create_task(self._pipe(reader, writer))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65_536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()


async def outage_under_load(
    server: ServedCompass,
    tenant_id: str,
    directory: Path,
    *,
    break_database: Callable[[], Awaitable[None]],
    mend_database: Callable[[], Awaitable[None]],
) -> Load:
    """Operators and a runtime in a loop while the database breaks and mends; their answers, by phase."""
    runtime_id, runtime_tls = await connected_runtime(server, tenant_id, directory)
    load = Load()
    # The clients' own timeout lies beyond the bound: a request that hangs is seen as one, not as an error.
    timeout = REQUEST_BOUND + 5
    headers = server.operator_headers(tenant_id)
    clients = {
        "operator": httpx.AsyncClient(base_url=server.http_url, headers=headers, timeout=timeout),
        "runtime": httpx.AsyncClient(base_url=server.https_url, verify=runtime_tls, timeout=timeout),
    }
    bodies: dict[str, dict[str, Any]] = {
        "operator": {"query": APPLICATIONS},
        "runtime": {"query": APPLICATIONS_FOR_RUNTIME, "variables": {"id": runtime_id}},
    }
    workers = [
        asyncio.create_task(load.run(name, client, bodies[name]))
        for name, client in clients.items()
        for _ in range(CLIENTS_OF_EACH_KIND)
    ]

    def answered(phase: str, at_least: int, outcome: str) -> Callable[[], bool]:
        def check() -> bool:
            for worker in workers:
                if worker.done():
                    worker.result()
            return all(load.count(name, phase, outcome) >= at_least for name in clients)

        return check

    try:
        await wait_until(answered("before", 5, "ok"), seconds=30, what="answers before the outage")
        load.phase = "down"
        await break_database()
        await wait_until(readyz_is(server, 503), seconds=REQUEST_BOUND, what="/readyz answering 503")
        await wait_until(
            answered("down", OUTAGE_ANSWERS, "refused"),
            seconds=3 * REQUEST_BOUND,
            what="refusals during the outage",
        )
        load.phase = "after"
        await mend_database()
        await wait_until(readyz_is(server, 200), seconds=30, what="/readyz answering 200 again")
        await wait_until(answered("after", 5, "ok"), seconds=30, what="answers after the outage")
    finally:
        load.stopped.set()
        await asyncio.gather(*workers, return_exceptions=True)
        for client in clients.values():
            await client.aclose()
        outcomes = Counter((item.client, item.phase, item.outcome, item.detail) for item in load.answers)
        print(dict(sorted(outcomes.items())))  # the run's figures, shown with -s or on failure
    return load


def unclear_or_hung(load: Load) -> list[Answer]:
    return [answer for answer in load.answers if answer.outcome in {"hung", "unclear", "unreachable"}]


def still_running(server: ServedCompass) -> bool:
    """The server that was started once is the one answering: it recovered without a restart."""
    return server.starts == 1 and server.process is not None and server.process.poll() is None


async def test_a_postgresql_restart_under_load_gets_quick_clear_errors_and_the_server_recovers_by_itself(
    postgres_cluster: PostgresCluster, compass_server: Callable[..., ServedCompass], tmp_path: Path
) -> None:
    # given: a server on a PostgreSQL of this test
    url = await migrate(postgres_cluster.url)
    tenant_id = await create_tenant(url)
    server = compass_server(url, COMPASS_REDEMPTIONS_PER_SECOND="1000")
    await server.restart()

    # when: PostgreSQL stops (its connections cut) and starts again, under load
    load = await outage_under_load(
        server,
        tenant_id,
        tmp_path,
        break_database=lambda: asyncio.to_thread(postgres_cluster.stop, "fast"),
        mend_database=lambda: asyncio.to_thread(postgres_cluster.start),
    )

    # then: every request ended within the bound, answered or clearly refused, and the same process recovered
    assert unclear_or_hung(load) == []
    assert still_running(server)


async def test_a_database_that_stops_answering_gets_refusals_within_the_timeout_not_hangs(
    postgres_cluster: PostgresCluster, compass_server: Callable[..., ServedCompass], tmp_path: Path
) -> None:
    # given: a server that reaches its PostgreSQL through a proxy that can partition them
    url = await migrate(postgres_cluster.url)
    tenant_id = await create_tenant(url)
    proxy = PartitionProxy(postgres_cluster.port)
    await proxy.start()
    try:
        behind_proxy = url.replace(f":{postgres_cluster.port}/", f":{proxy.port}/")
        server = compass_server(behind_proxy, COMPASS_REDEMPTIONS_PER_SECOND="1000")
        await server.restart()

        # when: the network between them stops carrying bytes, under load, and then carries them again
        async def partition() -> None:
            proxy.partition()

        async def heal() -> None:
            proxy.heal()

        load = await outage_under_load(
            server, tenant_id, tmp_path, break_database=partition, mend_database=heal
        )
    finally:
        await proxy.close()

    # then: no request waited past the bound, each was answered or clearly refused, and the process recovered
    assert unclear_or_hung(load) == []
    assert still_running(server)


async def _first_read(database: Database) -> BaseException | None:
    try:
        async with database.read_sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - the refusal is what the test looks at
        return error
    return None


async def test_a_pooled_connection_cut_off_by_a_partition_is_given_up_by_its_own_short_check(
    postgres_cluster: PostgresCluster,
) -> None:
    """The check before a pooled connection is used has a timeout of its own. It waited as long as a statement
    may: through a partition that wait, the close and a reconnect added up past the 20 s a request may take."""
    # given: a connection in the pool, reaching PostgreSQL through a proxy, with a statement timeout far above the
    # bound below
    url = await migrate(postgres_cluster.url)
    proxy = PartitionProxy(postgres_cluster.port)
    await proxy.start()
    database = Database(url.replace(f":{postgres_cluster.port}/", f":{proxy.port}/"), statement_timeout=600)
    try:
        assert await _first_read(database) is None

        # when: the network stops carrying bytes
        proxy.partition()
        refusal = await asyncio.wait_for(_first_read(database), timeout=REQUEST_BOUND)
    finally:
        proxy.heal()
        await database.dispose()
        await proxy.close()

    # then: refused as unavailable, long before the statement timeout
    assert refusal is not None and is_database_unavailable(refusal), repr(refusal)


async def test_operators_are_told_the_database_is_unavailable_not_an_internal_error(
    postgres_cluster: PostgresCluster, compass_server: Callable[..., ServedCompass]
) -> None:
    # given: an operator the server has already seen, so that only the query itself needs the database
    url = await migrate(postgres_cluster.url)
    tenant_id = await create_tenant(url)
    server = compass_server(url)
    await server.restart()
    headers = server.operator_headers(tenant_id)
    async with httpx.AsyncClient(base_url=server.http_url, headers=headers, timeout=REQUEST_BOUND) as client:
        assert judge(await client.post("/director/graphql", json={"query": APPLICATIONS}))[0] == "ok"

        # when
        await asyncio.to_thread(postgres_cluster.stop, "fast")
        answer = (await client.post("/director/graphql", json={"query": APPLICATIONS})).json()

    # then
    assert [error["extensions"]["code"] for error in answer["errors"]] == ["DATABASE_UNAVAILABLE"]


async def test_a_session_that_fails_to_close_leaves_the_answer_alone(
    operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the request's connection is lost by the time its session closes, as when PostgreSQL restarts
    close = DirectorContext.close

    async def close_on_a_lost_connection(self: DirectorContext) -> None:
        await close(self)  # the connection goes back to the pool; what fails is the answer to that
        lost = ConnectionResetError("connection was closed in the middle of operation")
        raise sa_exc.OperationalError("ROLLBACK", {}, lost)

    monkeypatch.setattr(DirectorContext, "close", close_on_a_lost_connection)

    # when
    body = await operator.execute(APPLICATIONS)

    # then: the answer is the one the query produced, or an error with a code that hides the driver's words
    errors = body.get("errors") or []
    assert all(error.get("extensions", {}).get("code") for error in errors), errors
    assert "connection was closed" not in str(body)
