"""The per-request context resolvers receive: principal, tenant, sessions and loaders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from compass.auth.principal import Principal
from compass.db import Database
from compass.settings import Settings
from connector.service import ConnectorService
from director.graphql.loaders import Loaders
from director.polling.revision import RevisionRepository


@dataclass
class DirectorContext:
    request: Request
    response: Response | None
    database: Database
    settings: Settings
    connector: ConnectorService
    principal: Principal
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
    async def writing(self, *, runtime_id: str | None = None, new_runtime: bool = False) -> AsyncIterator[AsyncSession]:
        """One mutation = one transaction that also bumps the revision runtime views are keyed by: the runtime's
        own when the write concerns only ``runtime_id``, none for a runtime just registered (no view holds it),
        else the tenant's. Afterwards reads and loaders start fresh and see its result."""
        async with self._lock:
            async with self.database.transaction() as session:
                yield session
                revisions = RevisionRepository(session)
                if runtime_id is not None:
                    await revisions.bump_runtime(self.tenant_id, runtime_id)
                elif not new_runtime:
                    await revisions.bump(self.tenant_id)
            if self._session is not None:
                await self._session.rollback()
            self._loaders = None

    async def close(self) -> None:
        async with self._lock:
            session, self._session = self._session, None
            if session is not None:
                await session.close()
