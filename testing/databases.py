"""Throwaway databases: a SQLite file, or a database of its own on the PostgreSQL server that
scripts/with-postgres.sh starts and names in COMPASS_TEST_POSTGRES_URL (its ``compass`` database is the admin
connection: new databases are created and dropped from there).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from compass import migrate as migrations

POSTGRES_URL_VARIABLE = "COMPASS_TEST_POSTGRES_URL"
POSTGRES_URL = os.environ.get(POSTGRES_URL_VARIABLE)
BACKENDS = ("sqlite", "postgresql")


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'compass.db'}"


async def migrate(url: str) -> str:
    """The database at ``url`` migrated to the newest revision (alembic runs its own loop: in a thread)."""
    await asyncio.to_thread(migrations.upgrade, url)
    return url


def _admin_url() -> str:
    if not POSTGRES_URL:
        raise RuntimeError(f"{POSTGRES_URL_VARIABLE} is not set: scripts/with-postgres.sh starts PostgreSQL")
    return POSTGRES_URL


async def _administer(statement: str) -> None:
    admin = make_url(_admin_url())
    connection = await asyncpg.connect(
        host=admin.host,
        port=admin.port,
        user=admin.username,
        password=admin.password,
        database=admin.database,
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def create_postgres_database(prefix: str = "compass_test", *, migrated: bool = False) -> str:
    """The URL of a new, uniquely named PostgreSQL database: empty, or migrated when asked."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _administer(f'CREATE DATABASE "{name}"')
    url = make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)
    return await migrate(url) if migrated else url


async def drop_postgres_database(url: str) -> None:
    """Drops the database of ``url``, ending whatever connections it still has."""
    await _administer(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def temporary_database(
    backend: str, directory: Path, *, migrated: bool = False, prefix: str = "compass_test"
) -> AsyncIterator[str]:
    """A SQLite file in ``directory``, or a new PostgreSQL database dropped when the block ends."""
    if backend == "sqlite":
        url = sqlite_url(directory)
        yield await migrate(url) if migrated else url
        return
    url = await create_postgres_database(prefix, migrated=migrated)
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@contextlib.asynccontextmanager
async def temporary_workspace(backend: str, prefix: str) -> AsyncIterator[tuple[Path, str]]:
    """A new directory and a migrated database (a SQLite file in the directory, or a PostgreSQL database of
    its own), both gone when the block ends: what a bench runs a server on."""
    with tempfile.TemporaryDirectory(prefix=f"{prefix}-{backend}-") as directory:
        workdir = Path(directory)
        database_prefix = prefix.replace("-", "_")
        async with temporary_database(backend, workdir, migrated=True, prefix=database_prefix) as url:
            yield workdir, url
