"""Alembic driven from code, so that `compass migrate` and `compass serve` need no alembic.ini in the cwd."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from kernel.db import Database

# Located as package data, not imported: alembic runs migrations/env.py as a script, and that script imports
# compass.models, so an import here would close a compass <-> migrations cycle.
MIGRATIONS_DIR = Path(str(files("migrations")))


def alembic_config(url: str) -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url``; runs its own event loop, so call it outside one."""
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


class DatabaseBehindError(RuntimeError):
    """The database is not at the migration head this code expects."""


async def check_migrations(database: Database) -> None:
    current, head = await current_revision(database.engine), head_revision()
    if current != head:
        raise DatabaseBehindError(
            f"the database is at migration {current or 'none'} but this pycompass needs {head}: "
            "run `compass migrate` (with the same COMPASS_DATABASE_URL) and start again"
        )
