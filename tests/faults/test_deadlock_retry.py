"""A mutation that PostgreSQL picks as a deadlock victim runs again; when its attempts run out it answers
TRANSACTION_CONFLICT, never INTERNAL.

The deadlock is real: another connection locks the label the mutation is about to update, waits until the
mutation waits for it, then asks for the runtime row the mutation holds. That connection checks for deadlocks only
after a minute, so the mutation's backend (after PostgreSQL's default second) is the one that finds the cycle and
is aborted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

from compass.app import create_app
from kernel.db import Database
from kernel.observability.metrics import REGISTRY
from kernel.settings import Settings
from testing.waiting import wait_until
from tests.director.test_applications_for_runtime import register_runtime
from tests.support import ASSIGN_FORMATION, Operator

SET_RUNTIME_LABEL = """
mutation ($id: ID!, $value: Any!) { result: setRuntimeLabel(runtimeID: $id, key: "zone", value: $value) { value } }
"""
RUNTIME_LABELS = "query ($id: ID!) { result: runtime(id: $id) { labels } }"
REGISTER_APPLICATION = "mutation ($name: String!) { result: registerApplication(in: {name: $name}) { id } }"
APPLICATION_EVENTING = "query ($id: ID!) { result: application(id: $id) { eventingConfiguration { defaultURL } } }"
# pg_locks, not pg_stat_activity: within a transaction the latter is a snapshot taken at its first use.
WAITING_FOR_ME = "SELECT count(*) FROM pg_locks WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"


@pytest.fixture
async def rival(backend: str, database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own that never runs the deadlock check first."""
    if backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time: deadlocks are PostgreSQL's")
    url = make_url(database_url)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=url.database
    )
    await connection.execute("SET deadlock_timeout = '60s'")
    yield connection
    await connection.close()


@pytest.fixture
async def one_attempt(settings: Settings, database: Database, operator: Operator) -> AsyncIterator[Operator]:
    """The operator, on a server that runs each mutation once."""
    application = create_app(settings.model_copy(update={"transaction_attempts": 1}), database)
    async with LifespanManager(application) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Operator(client, operator.tenant_id, operator.token)


def deadlock_retries() -> float:
    return REGISTRY.get_sample_value("compass_transaction_retries_total", {"reason": "deadlock"}) or 0.0


async def register_application(operator: Operator, name: str) -> str:
    return str((await operator.query(REGISTER_APPLICATION, {"name": name}))["result"]["id"])


async def set_label_in_a_deadlock(operator: Operator, rival: asyncpg.Connection, runtime_id: str) -> dict[str, Any]:
    """setRuntimeLabel while ``rival`` makes its first attempt a deadlock; the whole answer."""
    async with rival.transaction():
        await rival.execute("SELECT 1 FROM labels WHERE runtime_id = $1 AND key = 'zone' FOR UPDATE", runtime_id)
        pending = asyncio.ensure_future(operator.execute(SET_RUNTIME_LABEL, {"id": runtime_id, "value": "after"}))

        async def waiting_or_done() -> bool:
            return pending.done() or await rival.fetchval(WAITING_FOR_ME) > 0

        await wait_until(waiting_or_done, seconds=30, what="the mutation waiting for the rival's lock", every=0.01)
        # the mutation holds the runtime row and waits for the label: close the cycle
        await rival.execute("UPDATE runtimes SET name = name WHERE id = $1", runtime_id, timeout=30)
    return await pending


async def test_a_deadlocked_mutation_is_run_again_and_succeeds(
    operator: Operator, rival: asyncpg.Connection
) -> None:
    # given
    runtime_id = await register_runtime(operator, labels={"zone": "before"})
    retries_before = deadlock_retries()

    # when
    answer = await set_label_in_a_deadlock(operator, rival, runtime_id)

    # then
    assert answer.get("errors") is None, answer
    assert answer["data"]["result"]["value"] == "after"
    assert deadlock_retries() - retries_before == 1
    labels = (await operator.query(RUNTIME_LABELS, {"id": runtime_id}))["result"]["labels"]
    assert labels["zone"] == "after"


async def test_a_deadlocked_mutation_out_of_attempts_answers_transaction_conflict(
    one_attempt: Operator, rival: asyncpg.Connection
) -> None:
    # given
    runtime_id = await register_runtime(one_attempt, labels={"zone": "before"})

    # when
    answer = await set_label_in_a_deadlock(one_attempt, rival, runtime_id)

    # then
    assert answer["data"] is None
    assert [error["extensions"]["code"] for error in answer["errors"]] == ["TRANSACTION_CONFLICT"]
    assert "send it again" in answer["errors"][0]["message"]
    labels = (await one_attempt.query(RUNTIME_LABELS, {"id": runtime_id}))["result"]["labels"]
    assert labels["zone"] == "before"


async def test_a_read_whose_eventing_write_is_deadlocked_writes_again_and_answers(
    operator: Operator, rival: asyncpg.Connection
) -> None:
    """Reading ``eventingConfiguration`` first labels the default runtime (Compass does so too); that write runs
    again like a mutation when PostgreSQL picks it as a deadlock victim."""
    # given: the rival adds the same default label first, then wants the runtime row the read's write holds
    runtime_id = await register_runtime(operator, labels={"runtime_eventServiceUrl": "https://gateway.example"})
    await operator.query(ASSIGN_FORMATION, {"id": runtime_id, "type": "RUNTIME", "name": "DEFAULT"})
    application_id = await register_application(operator, "shop")
    await operator.query(ASSIGN_FORMATION, {"id": application_id, "type": "APPLICATION", "name": "DEFAULT"})
    retries_before = deadlock_retries()

    # when
    async with rival.transaction():
        await rival.execute(
            "INSERT INTO labels (id, tenant_id, runtime_id, key, value) VALUES ($1, $2, $3, $4, 'true'::json)",
            str(uuid.uuid4()), operator.tenant_id, runtime_id, f"{application_id}_defaultEventing",
        )
        pending = asyncio.ensure_future(operator.execute(APPLICATION_EVENTING, {"id": application_id}))

        async def waiting_or_done() -> bool:
            return pending.done() or await rival.fetchval(WAITING_FOR_ME) > 0

        await wait_until(waiting_or_done, seconds=30, what="the read's write waiting for the rival's label", every=0.01)
        await rival.execute("UPDATE runtimes SET name = name WHERE id = $1", runtime_id, timeout=30)
    answer = await pending

    # then
    assert answer.get("errors") is None, answer
    assert answer["data"]["result"]["eventingConfiguration"]["defaultURL"] == "https://gateway.example/mp-shop/v1/events"
    assert deadlock_retries() - retries_before == 1
