"""Migration 0009: definitions existing in bundles take their bundle's application; a downgrade keeps them."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from compass import migrate
from kernel.db import Database

ROWS = [
    "INSERT INTO tenants (id, name, type, created_at, revision) VALUES ('t', 't', 'account', '2026-01-01', 0)",
    (
        "INSERT INTO applications (id, tenant_id, name, normalized_name, status_condition, status_timestamp, "
        "created_at, updated_at) VALUES ('a', 't', 'shop', 'mp-shop', 'INITIAL', '2026-01-01', '2026-01-01', "
        "'2026-01-01')"
    ),
    "INSERT INTO bundles (id, tenant_id, application_id, name, created_at) VALUES ('b', 't', 'a', 'b', '2026-01-02')",
    (
        "INSERT INTO api_definitions (id, tenant_id, bundle_id, name, target_url, created_at) "
        "VALUES ('x', 't', 'b', 'api', 'http://a', '2026-01-03')"
    ),
    "INSERT INTO event_definitions (id, tenant_id, bundle_id, name, created_at) VALUES ('e', 't', 'b', 'ev', '2026-01-03')",
]


async def _execute(database: Database, *statements: str) -> list[tuple[object, ...]]:
    async with database.engine.begin() as connection:
        results = [await connection.execute(text(statement)) for statement in statements]
    return [tuple(row) for row in results[-1].all()] if results[-1].returns_rows else []


async def test_definitions_in_bundles_take_their_bundles_application(fresh_url: str, fresh_database: Database) -> None:
    # given
    await asyncio.to_thread(migrate.upgrade, fresh_url, "0008")
    await _execute(fresh_database, *ROWS)
    # when
    await asyncio.to_thread(migrate.upgrade, fresh_url, "0009")
    # then
    for table in ("api_definitions", "event_definitions"):
        rows = await _execute(fresh_database, f"SELECT application_id, bundle_id FROM {table}")  # noqa: S608 - constants
        assert rows == [("a", "b")]


async def test_a_downgrade_keeps_definitions_in_bundles(fresh_url: str, fresh_database: Database) -> None:
    # given
    await asyncio.to_thread(migrate.upgrade, fresh_url, "0008")
    await _execute(fresh_database, *ROWS)
    await asyncio.to_thread(migrate.upgrade, fresh_url, "0009")
    # when
    await asyncio.to_thread(command.downgrade, migrate.alembic_config(fresh_url), "0008")
    # then
    assert await _execute(fresh_database, "SELECT id, bundle_id FROM api_definitions") == [("x", "b")]
