"""SQL statements counted as the engines send them: what tests pin per request (instead of "fewer than N+1" in
prose) and what the Director benchmark prints per request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from kernel.db import Database

# Transaction control and SQLite's per-connection pragmas come and go with pooling, not with the request.
NOT_COUNTED = ("BEGIN", "PRAGMA", "SAVEPOINT", "RELEASE")


@contextmanager
def count_statements(database: Database) -> Iterator[list[str]]:
    """Every SQL statement run on the database's engines while the block runs, but ``NOT_COUNTED``."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith(NOT_COUNTED):
            statements.append(statement)

    for engine in database.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in database.engines:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
