"""One migration history builds exactly the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url

from compass import migrate
from compass.app import DatabaseBehindError, check_migrations
from compass.models import metadata
from kernel.db import Database

POSTGRES_URL = os.environ.get("COMPASS_TEST_POSTGRES_URL")


async def _create_postgres_database() -> str:
    assert POSTGRES_URL
    url = make_url(POSTGRES_URL)
    name = f"compass_migrations_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=url.database
    )
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(POSTGRES_URL is None, reason="COMPASS_TEST_POSTGRES_URL is not set"),
        ),
    ]
)
async def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database that nothing has migrated yet."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    return await _create_postgres_database()


@pytest.fixture
async def fresh_database(fresh_url: str) -> AsyncIterator[Database]:
    database = Database(fresh_url)
    yield database
    await database.dispose()


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrated_database_matches_the_models(fresh_url: str, fresh_database: Database) -> None:
    # given
    await asyncio.to_thread(migrate.upgrade, fresh_url)

    # when
    async with fresh_database.engine.connect() as connection:
        differences = await connection.run_sync(_differences)

    # then
    assert differences == []


async def test_migrated_database_is_at_the_head_revision(fresh_url: str, fresh_database: Database) -> None:
    await asyncio.to_thread(migrate.upgrade, fresh_url)

    await check_migrations(fresh_database)

    assert await migrate.current_revision(fresh_database.engine) == migrate.head_revision()


async def test_unmigrated_database_is_refused_naming_compass_migrate(fresh_database: Database) -> None:
    with pytest.raises(DatabaseBehindError, match="compass migrate"):
        await check_migrations(fresh_database)


async def test_downgrade_to_base_removes_every_table(fresh_url: str, fresh_database: Database) -> None:
    # given
    await asyncio.to_thread(migrate.upgrade, fresh_url)

    # when
    await asyncio.to_thread(command.downgrade, migrate.alembic_config(fresh_url), "base")

    # then
    async with fresh_database.engine.connect() as connection:
        remaining = await connection.run_sync(_tables)
    assert remaining <= {"alembic_version"}
    assert await migrate.current_revision(fresh_database.engine) is None
