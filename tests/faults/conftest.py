"""Fixtures of the fault tests: `compass serve` as a real process that a test may kill -9, on a database of
its own, and a PostgreSQL cluster of its own that a test may stop.

``compass_server`` makes ``testing.served.ServedCompass`` handles: the installed ``compass serve`` with only
the ``COMPASS_*`` variables given here, that a test starts with ``restart()`` (which waits for /readyz) and
kills with ``kill()`` (SIGKILL, never a gentler signal: the point is a process that gets no chance to finish
what it was doing). ``fresh_database_url`` is a new SQLite file or a new PostgreSQL database (on the server of
COMPASS_TEST_POSTGRES_URL), migrated, per test. ``postgres_cluster`` is a throwaway cluster as
scripts/with-postgres.sh makes one, so that stopping it disturbs no other test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from testing.databases import create_postgres_database, migrate, sqlite_url
from testing.served import ServedCompass
from tests.faults.support import PostgresCluster, postgres_bindir, user_exists


@pytest.fixture
async def fresh_database_url(backend: str, tmp_path: Path) -> str:
    """A database of this test alone: killing its server disturbs no other test's data."""
    if backend == "sqlite":
        return await migrate(sqlite_url(tmp_path))
    return await create_postgres_database(migrated=True)


@pytest.fixture
def compass_server(tmp_path: Path) -> Iterator[Callable[..., ServedCompass]]:
    """Makes (not starts) servers; every one is killed when the test ends, however it ends."""
    made: list[ServedCompass] = []

    def make(database_url: str, **env: str) -> ServedCompass:
        data_dir = tmp_path / f"data-{len(made)}"
        data_dir.mkdir(mode=0o700)
        server = ServedCompass(data_dir, database_url, env={"COMPASS_LOG_LEVEL": "warning", **env})
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.kill()


@pytest.fixture
async def engine_of() -> AsyncIterator[Callable[[str], AsyncEngine]]:
    """Plain SQLAlchemy engines on a test's database, to look at the rows directly; disposed at the end."""
    engines: list[AsyncEngine] = []

    def make(url: str) -> AsyncEngine:
        engine = create_async_engine(url)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.dispose()


@pytest.fixture
def postgres_cluster() -> Iterator[PostgresCluster]:
    bindir = postgres_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        pytest.skip("PostgreSQL is not installed; scripts/with-postgres.sh installs it")
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not user_exists("postgres")):
        pytest.skip("as root, PostgreSQL runs as the postgres user (scripts/with-postgres.sh creates it)")
    # Under /tmp, not the test's directory: the postgres user must reach it, and socket paths must stay short.
    cluster = PostgresCluster(bindir, Path(tempfile.mkdtemp(prefix="compass-faults-pg.")))
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(cluster.workdir, ignore_errors=True)
