"""The REST API's writes: each one unit of work (``director.polling.invalidation``, so runtimes' cached views see
it), run again from scratch when PostgreSQL aborts it to break a deadlock, as the Director's mutations are
(``director.graphql.retry``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from director.polling.invalidation import unit_of_work
from kernel.db import Database
from kernel.settings import Settings
from kernel.transactions import run_again_on_conflict

T = TypeVar("T")


async def write(
    database: Database,
    settings: Settings,
    tenant_id: str,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    what: str,
) -> T:
    """``work(session)`` in a unit of work of ``tenant_id``; ``what`` names it in the logs of a retry."""

    async def attempt() -> T:
        async with unit_of_work(database, tenant_id) as session:
            return await work(session)

    return await run_again_on_conflict(attempt, attempts=settings.transaction_attempts, what=what)
