"""Every statement of the watchers and the watch events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from director.models import Tenant
from director.watcher.models import Watcher, WatchEvent


class WatcherRepository:
    """A tenant's watchers and the global ones (``tenant_id`` NULL)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def visible_to(self, tenant_id: str | None) -> list[Watcher]:
        """The global watchers, and the tenant's when one is named; globals first, then by name."""
        scope: ColumnElement[bool] = Watcher.tenant_id.is_(None)
        if tenant_id is not None:
            scope = or_(scope, Watcher.tenant_id == tenant_id)
        statement = select(Watcher).where(scope).order_by(Watcher.tenant_id.is_not(None), Watcher.name, Watcher.id)
        return list((await self.session.execute(statement)).scalars())

    async def get(self, tenant_id: str | None, watcher_id: str) -> Watcher | None:
        """The tenant's watcher (``tenant_id`` None: a global one) with that id."""
        owner = Watcher.tenant_id.is_(None) if tenant_id is None else Watcher.tenant_id == tenant_id
        statement = select(Watcher).where(owner, Watcher.id == watcher_id)
        return (await self.session.execute(statement)).scalars().first()

    async def is_global(self, watcher_id: str) -> bool:
        statement = select(func.count()).where(Watcher.tenant_id.is_(None), Watcher.id == watcher_id)
        return bool((await self.session.execute(statement)).scalar_one())

    async def name_taken(self, tenant_id: str | None, name: str) -> bool:
        statement = select(func.count()).where(_owned_by(tenant_id), Watcher.name == name)
        return bool((await self.session.execute(statement)).scalar_one())

    async def count(self, tenant_id: str | None) -> int:
        """A tenant's own watchers (None: the global ones made by the platform operator)."""
        return int((await self.session.execute(select(func.count()).where(_owned_by(tenant_id)))).scalar_one())

    async def tenant_ids(self) -> list[str]:
        """Every tenant: a global watcher is in all their runtimes' views."""
        return list((await self.session.execute(select(Tenant.id).order_by(Tenant.id))).scalars())

    async def add(self, watcher: Watcher) -> Watcher:
        self.session.add(watcher)
        await self.session.flush()
        return watcher

    async def delete(self, watcher: Watcher) -> None:
        await self.session.delete(watcher)
        await self.session.flush()


class WatchEventRepository:
    """A runtime's watch events, newest first; each runtime keeps a bounded number."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, event: WatchEvent) -> None:
        self.session.add(event)
        await self.session.flush()

    async def keep_newest(self, runtime_id: str, kept: int) -> None:
        """Deletes the runtime's events older than its ``kept`` newest: the index (runtime, received_at) finds the
        first one past them after ``kept`` entries, and one range delete takes the rest."""
        boundary = (
            await self.session.execute(
                select(WatchEvent.received_at, WatchEvent.id)
                .where(WatchEvent.runtime_id == runtime_id)
                .order_by(WatchEvent.received_at.desc(), WatchEvent.id.desc())
                .limit(1)
                .offset(kept)
            )
        ).first()
        if boundary is None:
            return
        received_at, event_id = boundary
        older = or_(
            WatchEvent.received_at < received_at,
            and_(WatchEvent.received_at == received_at, WatchEvent.id <= event_id),
        )
        await self.session.execute(
            delete(WatchEvent).where(WatchEvent.runtime_id == runtime_id, older).execution_options(
                synchronize_session=False
            )
        )

    async def newest(
        self, tenant_id: str | None, runtime_ids: Sequence[str], first: int
    ) -> dict[str, list[WatchEvent]]:
        """The ``first`` newest events of each runtime (of the tenant, when one is named), in one statement."""
        rank = (
            func.row_number()
            .over(partition_by=WatchEvent.runtime_id, order_by=(WatchEvent.received_at.desc(), WatchEvent.id.desc()))
            .label("rank")
        )
        scope: ColumnElement[bool] = WatchEvent.runtime_id.in_(runtime_ids)
        if tenant_id is not None:
            scope = and_(scope, WatchEvent.tenant_id == tenant_id)
        ranked = select(WatchEvent.id, rank).where(scope).subquery()
        statement = (
            select(WatchEvent)
            .join(ranked, ranked.c.id == WatchEvent.id)
            .where(ranked.c.rank <= first)
            .order_by(WatchEvent.runtime_id, WatchEvent.received_at.desc(), WatchEvent.id.desc())
        )
        found: dict[str, list[WatchEvent]] = defaultdict(list)
        for event in (await self.session.execute(statement)).scalars():
            found[event.runtime_id].append(event)
        return dict(found)


def _owned_by(tenant_id: str | None) -> ColumnElement[bool]:
    return Watcher.tenant_id.is_(None) if tenant_id is None else Watcher.tenant_id == tenant_id
