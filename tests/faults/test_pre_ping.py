"""The check a pooled PostgreSQL connection gets before use: a connection it cannot use is replaced, not an error.

A ping cut short (its own timeout, an outage) can leave asyncpg's connection in the middle of an operation; the
next ping on it is then refused by asyncpg itself ("another operation is in progress"), which is no database
error. That connection must be dropped and a new one opened, as for a dead one: the outage test
(test_postgres_restart.py) saw it answered as INTERNAL and as a bare 500.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
import pytest
from sqlalchemy.util import greenlet_spawn

from kernel.db import _ping
from testing.databases import POSTGRES_URL

pytestmark = pytest.mark.skipif(POSTGRES_URL is None, reason="COMPASS_TEST_POSTGRES_URL is not set")


@dataclass
class PooledConnection:
    """What SQLAlchemy hands the ping: the DBAPI adapter, whose ``driver_connection`` is asyncpg's."""

    driver_connection: asyncpg.Connection


def _asyncpg_url() -> str:
    assert POSTGRES_URL is not None
    return POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")


async def test_a_connection_in_the_middle_of_another_operation_is_reported_unusable() -> None:
    connection = await asyncpg.connect(_asyncpg_url())
    busy = asyncio.create_task(connection.fetchval("SELECT pg_sleep(1)"))
    try:
        await asyncio.sleep(0.2)  # the sleep is the operation in progress: it must have started
        assert not busy.done()

        usable = await greenlet_spawn(_ping, PooledConnection(connection))

        assert usable is False
    finally:
        await busy
        await connection.close()


async def test_an_idle_connection_is_reported_usable() -> None:
    connection = await asyncpg.connect(_asyncpg_url())
    try:
        assert await greenlet_spawn(_ping, PooledConnection(connection)) is True
    finally:
        await connection.close()
