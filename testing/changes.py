"""Waiting for a process's change listener (kernel.changes) to catch up, for tests whose outcome depends on it."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from kernel.changes import CHANNEL, Tags
from kernel.db import Database
from testing.waiting import wait_until


class Heard:
    """The tags a change feed published."""

    def __init__(self) -> None:
        self.tags: set[str] = set()

    def invalidate(self, tags: Tags) -> None:
        self.tags.update(tags or ())


async def heard_everything(database: Database) -> None:
    """Until ``database``'s listener heard every change committed so far, this process's own included (they come
    back through PostgreSQL too): notifications arrive in commit order, so once a marker sent now has arrived, so
    have those before it. A value read while a notification arrives is not kept (``KeptValues.read``), so what a
    request reads depends on it. On SQLite a commit is seen at the next lookup: nothing to wait for."""
    if database.is_sqlite:
        return
    heard, marker = Heard(), f"test:{uuid.uuid4()}"
    database.changes.subscribe(heard.invalidate)
    async with database.transaction() as session:
        await session.execute(select(func.pg_notify(CHANNEL, marker)))
    await wait_until(lambda: marker in heard.tags, what="the change listener hearing what was committed so far")
