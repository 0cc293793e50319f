"""Database engines and sessions, the same code for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is switched off so that "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when another
        # writer got there first; an immediate one waits for the lock (busy_timeout) instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """Engines and session factories: reads and writes are separate on SQLite, one pool on PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, immediate=False)
            self.write_engine = _sqlite_engine(url, immediate=True)
        else:
            self.engine = create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
            self.write_engine = self.engine
        self.read_sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # SQLite has one writer at a time; waiting in line here beats its busy handler's sleep-and-retry, which
        # made concurrent writers slower than one. PostgreSQL needs no such line.
        self._write_turn: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        self.write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False, autoflush=False)

    @property
    def engines(self) -> list[AsyncEngine]:
        return [self.engine] if self.write_engine is self.engine else [self.engine, self.write_engine]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit when the block succeeds, roll back on any exception."""
        async with self._turn(), self.write_sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        if self._write_turn is None:
            yield
            return
        async with self._write_turn:
            yield

    async def dispose(self) -> None:
        for engine in self.engines:
            await engine.dispose()
