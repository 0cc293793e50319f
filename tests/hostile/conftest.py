"""Fixtures of the hostile-input suites: the real app in-process, and a real server (checks: support.py).

The app under attack is ``create_app`` over ASGI with the token-call rate raised (the fuzzers send thousands of
garbage ``Connector-Token`` calls from one address) and ``raise_app_exceptions=False``, so that a crash shows up as
the 500 a client would get instead of an exception inside the test. Every answer, however hostile the request,
must be a well-formed GraphQL response or a 4xx with a clear message: ``assert_well_formed``. What only a real
server shows (a stalled event loop, a client hanging up) runs against ``server``, the same settings in a
real server (tests/fixtures/servers.py).

The number of fuzz cases sent is counted per suite and backend and printed at the end of the run.

Memory is measured with Python's default collector thresholds: the suites' clients (httpx) leave cyclic garbage
of their own in this process. Where `compass serve`'s own thresholds matter (it collects far less often,
``compass.server.COLLECTOR_THRESHOLDS``), a test asks for them (``compass_serves_collector_thresholds``) and sends
its requests without httpx.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from compass.app import create_app
from compass.server import COLLECTOR_THRESHOLDS
from kernel.db import Database
from kernel.settings import Settings
from tests.connector.support import Harness, harness
from tests.fixtures.servers import StartServer
from tests.hostile.support import FUZZ_CASES, HOSTILE_SETTINGS
from tests.support import Operator, TenantFactory

PYTHONS_COLLECTOR_THRESHOLDS = (700, 10, 10)
"""Python's defaults, which the memory bounds of these suites were set against."""


@pytest.fixture(autouse=True)
def pythons_collector_thresholds() -> Iterator[None]:
    """The hostile suites bound the memory the app keeps for an input with Python's own collector thresholds, not
    with the test process's rarer collections (tests/conftest.py), which leave more cyclic garbage standing between
    passes and so a larger heap. (`compass serve` tunes its own, rarer still: see the module docstring.)"""
    with collector_thresholds(PYTHONS_COLLECTOR_THRESHOLDS):
        yield


@pytest.fixture
def compass_serves_collector_thresholds(pythons_collector_thresholds: None) -> Iterator[None]:
    """For the memory of what the app alone leaves behind, as `compass serve` collects it."""
    with collector_thresholds(COLLECTOR_THRESHOLDS):
        yield


@contextmanager
def collector_thresholds(thresholds: tuple[int, int, int]) -> Iterator[None]:
    kept = gc.get_threshold()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*kept)


# --- the app under attack ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hostile_settings(settings: Settings) -> Settings:
    return settings.model_copy(update=HOSTILE_SETTINGS)


@pytest.fixture(scope="session")
async def hostile_app(hostile_settings: Settings, database: Database) -> AsyncIterator[object]:
    application = create_app(hostile_settings, database)
    async with LifespanManager(application) as manager:
        yield manager.app


@pytest.fixture
async def hostile_client(hostile_app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=hostile_app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
        yield client


@pytest.fixture
async def attacker(hostile_settings: Settings, database: Database, hostile_client: httpx.AsyncClient) -> Operator:
    """An operator with every scope in a fresh tenant, talking to the app under attack."""
    return await TenantFactory(hostile_settings, database, hostile_client).operator()


@pytest.fixture
async def server(start_server: StartServer, database: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    """The app in a real server (its own thread and loop, real sockets, mTLS): for what only a server shows, such
    as a listener that stops answering or a client that hangs up mid-request."""
    async with harness(start_server(**HOSTILE_SETTINGS), database, tmp_path) as subject:
        yield subject


@pytest.fixture
def sqlite_only(backend: str) -> str:
    if backend != "sqlite":
        pytest.skip("the full fuzz run is on SQLite; PostgreSQL gets a sample (test_*_sample_on_postgresql)")
    return backend


@pytest.fixture
def postgresql_only(backend: str) -> str:
    if backend != "postgresql":
        pytest.skip("the PostgreSQL sample; SQLite runs the full fuzz suite")
    return backend


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FUZZ_CASES:
        return
    terminalreporter.section("hostile input: fuzz cases run")
    for suite, count in sorted(FUZZ_CASES.items()):
        terminalreporter.write_line(f"{count:7d}  {suite}")
    terminalreporter.write_line(f"{sum(FUZZ_CASES.values()):7d}  in all")
