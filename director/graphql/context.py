"""The per-request context resolvers receive: principal, tenant, sessions and loaders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from director.graphql.loaders import Loaders
from director.polling.invalidation import changes, unit_of_work
from director.polling.revision import ApplicationPart
from director.polling.shared_views import SharedViews
from kernel.db import Database
from kernel.principal import Principal
from kernel.settings import Settings


@dataclass
class DirectorContext:
    request: Request
    response: Response | None
    database: Database
    settings: Settings
    clock: Callable[[], datetime]
    principal: Principal
    shared_views: SharedViews | None = None
    _session: AsyncSession | None = None
    # graphql-core resolves sibling fields concurrently; one AsyncSession must not be used concurrently.
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _loaders: Loaders | None = None

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self)
        return self._loaders

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """The request's read session, one user at a time."""
        async with self._lock:
            if self._session is None:
                self._session = self.database.read_sessions()
            yield self._session

    @asynccontextmanager
    async def writing(
        self,
        *,
        runtime_id: str | None = None,
        runtime_formations: bool = False,
        new_runtime: bool = False,
        application_part: tuple[ApplicationPart, str] | None = None,
        joining_formations: Sequence[str] = (),
    ) -> AsyncIterator[AsyncSession]:
        """One mutation = one unit of work (``director.polling.invalidation``): its services declare what they
        change and the revisions of the views they invalidate are bumped at the commit. Afterwards reads and
        loaders start fresh and see its result.

        TRANSITIONAL (issue 10): the keyword arguments declare on the services' behalf until every service
        declares for itself; they go when the last resolver stops passing them."""
        async with self._lock:
            async with unit_of_work(self.database, self.tenant_id) as session:
                work = changes(session)
                if runtime_id is not None:
                    await work.runtime(runtime_id, formations=runtime_formations)
                elif new_runtime:
                    await work.new_runtime()
                elif application_part is not None:
                    await work.application(*application_part, joining=joining_formations)
                yield session
            if self._session is not None:
                await self._session.rollback()
            self._loaders = None

    async def restart(self) -> None:
        """Forgets what the request read, for a mutation that runs again from scratch (``RetryTransactionConflicts``)."""
        await self.close()
        self._loaders = None

    async def close(self) -> None:
        async with self._lock:
            session, self._session = self._session, None
            if session is not None:
                await session.close()
