"""Alembic driven from code, so that `compass migrate` and `compass serve` need no alembic.ini in the cwd.

Alembic is imported only to migrate: knowing whether a database is current takes ``HEAD_REVISION`` and one query,
not alembic's import and the loading of every migration script (most of a CLI command's CPU otherwise)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from kernel.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

# Located as package data, not imported: alembic runs migrations/env.py as a script, and that script imports
# compass.models, so an import here would close a compass <-> migrations cycle.
MIGRATIONS_DIR = Path(str(files("migrations")))

# The newest migration's revision; tests/test_migrations.py fails until a new migration updates it.
HEAD_REVISION = "0020"

_VERSION_TABLE = "alembic_version"


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # noqa: PLC0415 - alembic only when migrating, see the module docstring

    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url``; runs its own event loop, so call it outside one."""
    from alembic import command  # noqa: PLC0415 - alembic only when migrating, see the module docstring

    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """Alembic's own head, read from the migration scripts: what ``HEAD_REVISION`` must equal."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - alembic only when migrating, see the docstring

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _revision(connection: Connection) -> str | None:
    """The database's revision as alembic records it; several rows (branches, never in this linear history) are
    joined, so that they differ from any single head and go to alembic, which says what is wrong."""
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars().all()  # noqa: S608
    return ", ".join(sorted(rows)) or None


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_revision)


class DatabaseBehindError(RuntimeError):
    """The database is not at the migration head this code expects."""


async def check_migrations(database: Database) -> None:
    current = await current_revision(database.engine)
    if current != HEAD_REVISION:
        raise DatabaseBehindError(
            f"the database is at migration {current or 'none'} but this pycompass needs {HEAD_REVISION}: "
            "run `compass migrate` (with the same COMPASS_DATABASE_URL) and start again"
        )
