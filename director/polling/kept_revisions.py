"""Runtimes' view revisions kept in memory, so that an unchanged poll reads nothing from the database.

A revision is kept until a committed write bumps it or its tenant's (``director.polling.revision`` tags every
bump, ``kernel.changes`` tells every process), and read again every few seconds in case a notification was lost.
"""

from __future__ import annotations

from director.polling.revision import RevisionRepository
from kernel.changes import KeptValues, runtime_view, tenant_gone, tenant_views
from kernel.db import Database

Revision = tuple[int, int]


class KeptRevisions:
    def __init__(self, database: Database, *, max_entries: int) -> None:
        self.database = database
        self.kept: KeptValues[tuple[str, str], Revision] = KeptValues(database.changes, max_entries=max_entries)

    async def current(self, tenant_id: str, runtime_id: str) -> Revision | None:
        """The tenant's and the runtime's revision; None when the runtime is not the tenant's (or gone)."""

        async def load() -> tuple[Revision, list[str]] | None:
            async with self.database.read_sessions() as session:
                revision = await RevisionRepository(session).current(tenant_id, runtime_id)
            if revision is None:
                return None
            return revision, [tenant_views(tenant_id), runtime_view(runtime_id), tenant_gone(tenant_id)]

        return await self.kept.read((tenant_id, runtime_id), load)

    async def revalidate(self) -> int:
        async def current(keys: list[tuple[str, str]]) -> dict[tuple[str, str], Revision]:
            async with self.database.read_sessions() as session:
                return await RevisionRepository(session).current_of([runtime_id for _tenant, runtime_id in keys])

        return await self.kept.revalidate(current)
