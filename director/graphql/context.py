"""The per-request context resolvers receive: principal, tenant, sessions and loaders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from director.graphql.loaders import Loaders
from director.polling.invalidation import unit_of_work
from director.polling.shared_views import SharedViews
from kernel.db import Database
from kernel.principal import Principal
from kernel.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")
# A service method: it takes the session and the tenant first, as every Director service does.
ServiceCall = Callable[Concatenate[AsyncSession, str, P], Awaitable[R]]


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
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """One mutation = one unit of work (``director.polling.invalidation``): its services declare what they
        change, and the revisions of the views it invalidates are bumped at the commit. Afterwards reads and
        loaders start fresh and see its result."""
        async with self._lock:
            async with unit_of_work(self.database, self.tenant_id) as session:
                yield session
            if self._session is not None:
                await self._session.rollback()
            self._loaders = None

    async def read(self, call: ServiceCall[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """``call(session, tenant_id, *args, **kwargs)`` on the request's read session (``reading``)."""
        async with self.reading() as session:
            return await call(session, self.tenant_id, *args, **kwargs)

    async def write(self, call: ServiceCall[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """``call(session, tenant_id, *args, **kwargs)`` as one unit of work (``writing``)."""
        async with self.writing() as session:
            return await call(session, self.tenant_id, *args, **kwargs)

    async def restart(self) -> None:
        """Forgets what the request read, for a mutation that runs again from scratch (``RetryTransactionConflicts``)."""
        await self.close()
        self._loaders = None

    async def close(self) -> None:
        async with self._lock:
            session, self._session = self._session, None
            if session is not None:
                await session.close()
