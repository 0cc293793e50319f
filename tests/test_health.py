"""Probes and scrape target: liveness never touches the database, readiness does, metrics name operations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client.parser import text_string_to_metric_families

from compass.app import create_app
from connector.service import ConnectorService
from kernel.db import Database
from kernel.settings import Settings
from testing.ports import free_port
from tests.support import Operator

NAMED_QUERY = "query HealthProbeViewer { viewer { id } }"


@pytest.fixture(
    params=[
        pytest.param("postgresql+asyncpg://compass@127.0.0.1:{port}/compass", id="postgresql-closed-port"),
        pytest.param("sqlite+aiosqlite:///{tmp}/missing-directory/compass.db", id="sqlite-missing-directory"),
    ]
)
async def unreachable_client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    url = str(request.param).format(port=free_port(), tmp=tmp_path)
    database = Database(url)
    application = create_app(Settings(data_dir=tmp_path, database_url=url, log_json=False), database)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://test") as client:
            yield client
    finally:
        await database.dispose()


async def test_liveness_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_answers_ok_with_a_reachable_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_answers_503_when_the_database_is_unreachable(unreachable_client: httpx.AsyncClient) -> None:
    response = await unreachable_client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


async def test_liveness_answers_ok_when_the_database_is_unreachable(unreachable_client: httpx.AsyncClient) -> None:
    response = await unreachable_client.get("/healthz")

    assert response.status_code == 200


async def test_metrics_expose_the_duration_of_a_named_operation(
    client: httpx.AsyncClient, operator: Operator
) -> None:
    # given
    await operator.query(NAMED_QUERY)

    # when
    response = await client.get("/metrics")

    # then
    assert response.status_code == 200
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    samples = families["compass_graphql_operation_duration_seconds"].samples
    assert any(
        sample.name.endswith("_count")
        and sample.labels == {"api": "director", "operation": "HealthProbeViewer"}
        and sample.value >= 1
        for sample in samples
    )


async def test_shutting_down_ends_upkeep_that_is_writing_before_the_database_is_closed(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write transaction left open at shutdown would hold SQLite's one write lock for every later writer."""
    writing, ended = asyncio.Event(), asyncio.Event()
    database = Database(database_url)

    async def slow_upkeep(self: ConnectorService) -> None:
        try:
            async with database.transaction():
                writing.set()
                await asyncio.sleep(3600)  # upkeep still writing at shutdown: only the shutdown ends it
        finally:
            ended.set()

    upkeep_ended_at_dispose: list[bool] = []
    dispose = database.dispose

    async def recording_dispose() -> None:
        upkeep_ended_at_dispose.append(ended.is_set())
        await dispose()

    monkeypatch.setattr(ConnectorService, "maintain", slow_upkeep)
    monkeypatch.setattr(database, "dispose", recording_dispose)
    async with LifespanManager(create_app(settings, database)):
        await writing.wait()

    assert upkeep_ended_at_dispose == [True]
