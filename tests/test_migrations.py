"""One migration history builds exactly the models' schema, on SQLite and on PostgreSQL.

``fresh_url`` and ``fresh_database`` (an empty database of each backend) are in tests/fixtures/databases.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from compass import migrate
from compass.migrate import DatabaseBehindError, check_migrations
from compass.models import metadata
from kernel.db import Database


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


def test_head_revision_constant_is_the_newest_migration() -> None:
    """``HEAD_REVISION`` lets the commands skip alembic on a current database: a new migration must update it."""
    assert migrate.head_revision() == migrate.HEAD_REVISION


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


async def test_upgrading_a_database_keeps_every_row(fresh_url: str, fresh_database: Database) -> None:
    """SQLite's batch mode rebuilds a table to change it; with foreign keys on, dropping a parent table (tenants)
    would delete every row that references it."""
    # given: a tenant with an application and a runtime, at the first revision
    await asyncio.to_thread(migrate.upgrade, fresh_url, "0001")
    async with fresh_database.engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO tenants (id, name, type, created_at) VALUES ('t1', 'acme', 'account', '2026-01-01')")
        )
        await connection.execute(
            text(
                "INSERT INTO applications (id, tenant_id, name, status_condition, status_timestamp, created_at, "
                "updated_at) VALUES ('a1', 't1', 'shop', 'INITIAL', '2026-01-01', '2026-01-01', '2026-01-01')"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO runtimes (id, tenant_id, name, status_condition, status_timestamp, created_at) "
                "VALUES ('r1', 't1', 'kyma', 'INITIAL', '2026-01-01', '2026-01-01')"
            )
        )

    # when
    await asyncio.to_thread(migrate.upgrade, fresh_url)

    # then
    async with fresh_database.engine.connect() as connection:
        counts = (
            await connection.execute(
                text(
                    "SELECT (SELECT count(*) FROM tenants), (SELECT count(*) FROM applications), "
                    "(SELECT count(*) FROM runtimes)"
                )
            )
        ).one()
    assert tuple(counts) == (1, 1, 1)
