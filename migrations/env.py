"""Alembic environment: runs the one migration history on SQLite or PostgreSQL through the async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from compass.models import metadata
from kernel.db import Database

config = context.config
target_metadata = metadata


class ForeignKeyViolationError(RuntimeError):
    """A migration left rows that reference missing ones; it is rolled back."""


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    """Set on the bare DBAPI connection: SQLite ignores the pragma inside a transaction."""
    cursor = connection.connection.cursor()
    cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    cursor.close()


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode changes a table by copying it, dropping the old one and renaming the copy; with foreign keys
        # on, dropping a parent table (tenants) deletes every row that references it (ON DELETE CASCADE).
        _sqlite_foreign_keys(connection, on=False)
    try:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
                raise ForeignKeyViolationError(f"rows referencing missing rows after the migration: {broken[:10]}")
    finally:
        if sqlite:
            _sqlite_foreign_keys(connection, on=True)


async def _run_async(url: str) -> None:
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await database.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_async(config.get_main_option("sqlalchemy.url") or ""))
