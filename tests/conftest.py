"""Fixtures: real SQLite and real PostgreSQL databases, migrated for real, and the app over ASGI."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from compass.app import create_app
from kernel.db import Database
from kernel.settings import Settings
from testing.databases import BACKENDS, POSTGRES_URL, create_postgres_database, migrate, sqlite_url
from testing.tls import share_httpx_default_tls_context
from tests.support import Operator, TenantFactory

# Fixture modules that tests of more than one directory use (pytest allows pytest_plugins here only).
pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.servers",
    "tests.fixtures.agent",
    "tests.fixtures.kube",
    "tests.fixtures.upstream",
    "tests.fixtures.gateway",
    "tests.fixtures.nats",
    "tests.fixtures.events",
    "tests.fixtures.events_served",
    "tests.fixtures.events_e2e",
    "tests.fixtures.proxied",
    "tests.fixtures.subscriptions",
]


def pytest_configure(config: pytest.Config) -> None:
    share_httpx_default_tls_context()
    config.addinivalue_line(
        "markers",
        "backend_independent(why): what the test proves does not depend on the database (say why); it runs on"
        " SQLite only, sparing the suite a second run that would prove the same",
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection made (every module, schema and model imported) is left out of the garbage collector's
    passes, and a young generation is collected every 10,000 allocations rather than 700: on four director test
    files, the collector's share of the worker's CPU fell from 9 % to 4 %. Only the test process changes; a
    `compass serve` the tests start keeps its own settings (``compass.server.COLLECTOR_THRESHOLDS``)."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL cases of ``backend_independent`` tests are skipped, naming why; without
    COMPASS_TEST_POSTGRES_URL (make test always sets it) every PostgreSQL case is."""
    no_postgres = pytest.mark.skip(
        reason="COMPASS_TEST_POSTGRES_URL is not set; `make test` starts PostgreSQL"
    )
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("backend") != "postgresql":
            continue
        if not POSTGRES_URL:
            item.add_marker(no_postgres)
        elif (independent := item.get_closest_marker("backend_independent")) is not None:
            item.add_marker(pytest.mark.skip(reason=f"backend-independent: {independent.args[0]}"))


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compass-data")


@pytest.fixture(scope="session")
async def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend == "sqlite":
        return await migrate(sqlite_url(tmp_path_factory.mktemp("sqlite")))
    return await create_postgres_database(migrated=True)


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
        notification_sweep_seconds=3600,
        kept_revalidate_seconds=3600,
        # Specs are fetched from loopback stand-ins (testing/upstream.py).
        spec_fetch_allowed_networks=["127.0.0.0/8", "::1/128"],
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
def anyio_backend() -> str:
    return "asyncio"
