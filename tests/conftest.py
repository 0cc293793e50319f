"""Fixtures: real SQLite and real PostgreSQL databases, migrated for real, and the app over ASGI."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

from compass import migrate
from compass.app import create_app
from kernel.db import Database
from kernel.settings import Settings
from tests.support import Operator, TenantFactory

POSTGRES_URL = os.environ.get("COMPASS_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without COMPASS_TEST_POSTGRES_URL (make test always sets it) the PostgreSQL cases are skipped."""
    if POSTGRES_URL:
        return
    skip = pytest.mark.skip(reason="COMPASS_TEST_POSTGRES_URL is not set; `make test` starts PostgreSQL")
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgresql":
            item.add_marker(skip)


async def _create_postgres_database() -> str:
    assert POSTGRES_URL
    url = make_url(POSTGRES_URL)
    name = f"compass_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=url.database
    )
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compass-data")


@pytest.fixture(scope="session")
async def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'compass.db'}"
    else:
        url = await _create_postgres_database()
    await asyncio.to_thread(migrate.upgrade, url)
    return url


@pytest.fixture(scope="session")
def settings(data_dir: Path, database_url: str) -> Settings:
    # Background upkeep and last-seen flushes would run statements inside other tests' counting windows:
    # tests that need them call them directly.
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        log_json=False,
        maintenance_interval_seconds=3600,
        last_seen_flush_seconds=3600,
    )


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def app(settings: Settings, database: Database) -> AsyncIterator[object]:
    application = create_app(settings, database)
    async with LifespanManager(application) as manager:
        yield manager.app


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def tenants(settings: Settings, database: Database, client: httpx.AsyncClient) -> TenantFactory:
    return TenantFactory(settings, database, client)


@pytest.fixture
async def operator(tenants: TenantFactory) -> Operator:
    """An operator with every scope in a fresh tenant of its own."""
    return await tenants.operator()


@pytest.fixture
def anyio_backend() -> Iterator[str]:
    yield "asyncio"
