"""Agents and operators writing at once on PostgreSQL: no request fails because two transactions deadlocked.

Eight clients over real HTTP to a real server: four agents updating their runtimes (labels and status, over
their runtime's mTLS certificate, as agents do) and four operators labelling the application those runtimes share
a formation with, labelling the runtimes themselves, and moving the application in and out of a second formation
(which changes which runtimes share one with it). The server flushes the runtimes' last-seen times every 20 ms,
so the flush takes its runtime row locks in the middle of it all. Every write must succeed, each label must end
with the last value its one writer wrote, and the revisions must have moved. And no transaction may have been
retried for a deadlock: the lock order of ``director.polling.revision`` prevents them, the retry is only a net.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connector.ca import CertificateAuthority
from director.models import Runtime
from kernel.db import Database
from kernel.observability.metrics import REGISTRY
from kernel.settings import Settings
from tests.connector.support import DIRECTOR, Answer, Connected, Harness, RunningServer, harness, post_graphql

WRITES_PER_CLIENT = 40
AGENTS = 4
EXTRA = "EXTRA"

UPDATE_RUNTIME = """
mutation ($id: ID!, $name: String!, $labels: Labels) {
  result: updateRuntime(id: $id, in: {name: $name, statusCondition: CONNECTED, labels: $labels}) { id }
}
"""
SET_APPLICATION_LABEL = """
mutation ($id: ID!, $key: String!, $value: Any!) {
  result: setApplicationLabel(applicationID: $id, key: $key, value: $value) { key }
}
"""
SET_RUNTIME_LABEL = """
mutation ($id: ID!, $key: String!, $value: Any!) {
  result: setRuntimeLabel(runtimeID: $id, key: $key, value: $value) { key }
}
"""
MOVE_APPLICATION = """
mutation ($id: ID!, $formation: String!) {
  result: %s(objectID: $id, objectType: APPLICATION, formation: {name: $formation}) { name }
}
"""
CREATE_FORMATION = 'mutation { result: createFormation(formation: {name: "%s"}) { name } }'
RUNTIME = "query ($id: ID!) { result: runtime(id: $id) { name labels } }"
APPLICATION = "query ($id: ID!) { result: application(id: $id) { labels } }"


@pytest.fixture(scope="module")
def busy_server(
    backend: str,
    settings: Settings,
    compass_ca: CertificateAuthority,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningServer]:
    if backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time: deadlocks are PostgreSQL's")
    server = RunningServer.start(
        settings,
        tmp_path_factory.mktemp("concurrency-server"),
        compass_ca,
        redemptions_per_second=10_000,
        last_seen_flush_seconds=0.02,
    )
    yield server
    server.stop()


@pytest.fixture
async def server(busy_server: RunningServer, database: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(busy_server, database, tmp_path) as subject:
        yield subject


@dataclass
class Tally:
    """Every answer of the run; the failed ones with what they said."""

    answers: int = 0
    failures: list[tuple[str, list[str], list[str]]] = field(default_factory=list)

    def record(self, what: str, answer: Answer) -> None:
        self.answers += 1
        if answer.status != 200 or answer.body.get("errors"):
            self.failures.append((what, answer.codes, answer.messages))


def retries(reason: str) -> float:
    return REGISTRY.get_sample_value("compass_transaction_retries_total", {"reason": reason}) or 0.0


async def revisions(database: Database, runtime_ids: list[str]) -> dict[str, int]:
    async with database.read_sessions() as session:
        rows = await session.execute(select(Runtime.id, Runtime.revision).where(Runtime.id.in_(runtime_ids)))
        return {row[0]: int(row[1]) for row in rows}


async def last_seen(database: Database, runtime_ids: list[str]) -> list[Any]:
    async with database.read_sessions() as session:
        rows = await session.execute(select(Runtime.last_seen_at).where(Runtime.id.in_(runtime_ids)))
        return list(rows.scalars())


async def test_agents_and_operators_writing_at_once_never_fail_on_a_deadlock(server: Harness) -> None:
    # given: four connected runtimes, two in DEFAULT and two in EXTRA alone, and an application in DEFAULT
    operator = await server.operator()
    await operator.query(CREATE_FORMATION % EXTRA)
    runtimes: list[Connected] = [
        await server.connect_runtime(operator, scenarios=["DEFAULT"] if index < 2 else [EXTRA])
        for index in range(AGENTS)
    ]
    runtime_ids = [runtime.object_id for runtime in runtimes]
    application_id = await server.register_application(operator, scenarios=["DEFAULT"])
    names = {item: (await operator.query(RUNTIME, {"id": item}))["result"]["name"] for item in runtime_ids}
    revisions_before = await revisions(server.database, runtime_ids)
    deadlocks_before = retries("deadlock")
    tally = Tally()

    async def agent(runtime: Connected) -> None:
        client = server.mtls(runtime.credentials)
        for value in range(WRITES_PER_CLIENT):
            variables = {
                "id": runtime.object_id,
                "name": names[runtime.object_id],
                "labels": {"agent-a": value, "agent-b": value},
            }
            tally.record("updateRuntime", await server.director(client, UPDATE_RUNTIME, variables))

    async def operator_writes(what: str, write: Callable[[int], tuple[str, dict[str, Any]]]) -> None:
        for value in range(WRITES_PER_CLIENT):
            document, variables = write(value)
            answer = await post_graphql(operator.client, DIRECTOR, document, variables=variables, headers=operator.headers)
            tally.record(what, answer)

    def application_label(key: str) -> Callable[[int], tuple[str, dict[str, Any]]]:
        return lambda value: (SET_APPLICATION_LABEL, {"id": application_id, "key": key, "value": value})

    def runtime_label(value: int) -> tuple[str, dict[str, Any]]:
        return SET_RUNTIME_LABEL, {"id": runtime_ids[value % AGENTS], "key": "operator", "value": value}

    def move_application(value: int) -> tuple[str, dict[str, Any]]:
        mutation = "assignFormation" if value % 2 == 0 else "unassignFormation"
        return MOVE_APPLICATION % mutation, {"id": application_id, "formation": EXTRA}

    clients: list[Awaitable[None]] = [
        *(agent(runtime) for runtime in runtimes),
        operator_writes("setApplicationLabel", application_label("operator-0")),
        operator_writes("setApplicationLabel", application_label("operator-1")),
        operator_writes("setRuntimeLabel", runtime_label),
        operator_writes("assign/unassignFormation", move_application),
    ]

    # when
    await asyncio.gather(*clients)

    # then: every write succeeded
    assert tally.answers == 8 * WRITES_PER_CLIENT
    assert tally.failures == [], f"{len(tally.failures)} of {tally.answers} failed, the first: {tally.failures[:5]}"
    # each label holds the last value its writer wrote
    last = WRITES_PER_CLIENT - 1
    for index, runtime_id in enumerate(runtime_ids):
        labels = (await operator.query(RUNTIME, {"id": runtime_id}))["result"]["labels"]
        last_by_operator = max(value for value in range(WRITES_PER_CLIENT) if value % AGENTS == index)
        assert (labels["agent-a"], labels["agent-b"], labels["operator"]) == (last, last, last_by_operator)
    application_labels = (await operator.query(APPLICATION, {"id": application_id}))["result"]["labels"]
    assert (application_labels["operator-0"], application_labels["operator-1"]) == (last, last)
    assert application_labels["scenarios"] == ["DEFAULT"]  # the last move was an unassignment
    # every write concerning a runtime moved its revision; the flush wrote every runtime's last-seen time
    revisions_after = await revisions(server.database, runtime_ids)
    own_writes = WRITES_PER_CLIENT + WRITES_PER_CLIENT // AGENTS
    assert all(revisions_after[item] - revisions_before[item] >= own_writes for item in runtime_ids)
    assert None not in await last_seen(server.database, runtime_ids)
    # and none of that needed the retry
    deadlocks = retries("deadlock") - deadlocks_before
    assert deadlocks == 0, f"{deadlocks:.0f} transactions were deadlock victims (and retried)"
