"""Database engines and sessions, the same code for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg.exceptions
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util.concurrency import await_

from kernel.changes import ChangeFeed, send_notifications, take_noted
from kernel.errors import CompassError

# Bounds on waiting for PostgreSQL, so that a database that stops answering (a partition, a frozen host)
# gets a request an error within seconds instead of a hang: opening a connection, and each statement
# (asyncpg's command_timeout, enforced by the client, so it holds even when no byte comes back).
CONNECT_TIMEOUT_SECONDS = 5.0
STATEMENT_TIMEOUT_SECONDS = 10.0
PING_TIMEOUT_SECONDS = 2.0

# What a lost or refused connection raises: the network, seen by the driver (a connection refused by anything
# else is not the database's), or PostgreSQL stopping or starting, or the pool.
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError, socket.gaierror)
_DATABASE_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # no pooled connection came free in time
)
_DRIVER_MODULES = ("sqlalchemy.", "asyncpg.", "aiosqlite.")
_PRIVATE_FILE_MODE = 0o600

class DatabaseUnavailableError(CompassError):
    """The database cannot be reached right now; the same request may succeed when retried."""

    code = "DATABASE_UNAVAILABLE"
    http_status = 503


def is_database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps) says the database is unreachable, not that it refused a
    statement."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _DATABASE_CONNECTION_ERRORS):
            return True
        if isinstance(current, _NETWORK_ERRORS) and _raised_in_driver(current):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        wrapped = current.orig if isinstance(current, sa_exc.DBAPIError) else None
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__ or current.__context__
    return False


def _raised_in_driver(error: BaseException) -> bool:
    frames = error.__traceback__
    while frames is not None:
        if str(frames.tb_frame.f_globals.get("__name__", "")).startswith(_DRIVER_MODULES):
            return True
        frames = frames.tb_next
    return False


def _keep_sqlite_files_private(url: str) -> None:
    """The embedded database holds every tenant's credentials in plain text: 0600, whatever the umask.

    The file is created here, empty (SQLite reads an empty file as an empty database), so that it is never
    readable by others, not even for a moment. SQLite gives the -wal and -shm files it creates later the
    mode of the database file; files left by an earlier run are narrowed too.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    # O_EXCL: an existing file is never opened here. Closing any descriptor of a file drops every POSIX lock this
    # process holds on it, SQLite's included: another open Database of the same file would be corrupted.
    # FileNotFoundError: no directory; SQLite itself says so at the first connect.
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(database, os.O_RDWR | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE_MODE))
    for path in (database, f"{database}-wal", f"{database}-shm", f"{database}-journal"):
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_mode & 0o077:
                os.chmod(path, _PRIVATE_FILE_MODE)


def _change_feed(url: str) -> ChangeFeed:
    if not url.startswith("sqlite"):
        return ChangeFeed(listens=True)
    database = make_url(url).database
    if not database or database == ":memory:":
        return ChangeFeed()  # this process's alone
    if database.startswith("file:"):
        return ChangeFeed(keeps=False)
    return ChangeFeed(sqlite_file=database)


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    # hide_parameters: a failing statement's message (logged with its traceback) would carry the values,
    # passwords and client secrets among them.
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

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


def _ping(dbapi_connection: Any) -> bool:
    """A pooled connection's check before use, bounded by its own short timeout: SQLAlchemy's waits as long as a
    statement may (the statement timeout), and through a partitioned network that wait, the close of the dead
    connection and a reconnect attempt added up past 17 s per request. False: reconnect (the pool is invalidated)."""
    try:
        await_(dbapi_connection.driver_connection.fetchval("SELECT 1", timeout=PING_TIMEOUT_SECONDS))
    except (
        TimeoutError,
        OSError,
        asyncpg.exceptions.PostgresError,
        asyncpg.exceptions.InterfaceError,
        # A connection an outage cut mid-operation: asyncpg refuses it ("cannot switch to state ..."), seen in
        # the PostgreSQL restart test as INTERNAL answers and bare 500s.
        asyncpg.exceptions.InternalClientError,
    ):
        return False
    return True


def _postgresql_engine(url: str, *, statement_timeout: float | None) -> AsyncEngine:
    engine = create_async_engine(
        url,
        hide_parameters=True,  # as on SQLite
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS, "command_timeout": statement_timeout},
    )

    engine.dialect.do_ping = _ping  # type: ignore[method-assign]

    @event.listens_for(engine.sync_engine, "handle_error")
    def _drop_lost_connection(context: ExceptionContext) -> None:
        # A statement that timed out leaves its connection mid-protocol: rolled back, it would wait the
        # timeout again. Invalidated, it is closed at once and the pool opens a new one when one is needed.
        if not context.is_disconnect and is_database_unavailable(context.original_exception):
            context.is_disconnect = True
            context.invalidate_pool_on_disconnect = False

    return engine


class Database:
    """Engines and session factories: reads and writes are separate on SQLite, one pool on PostgreSQL."""

    def __init__(self, url: str, *, statement_timeout: float | None = STATEMENT_TIMEOUT_SECONDS) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _keep_sqlite_files_private(url)
            self.engine = _sqlite_engine(url, immediate=False)
            self.write_engine = _sqlite_engine(url, immediate=True)
        else:
            self.engine = _postgresql_engine(url, statement_timeout=statement_timeout)
            self.write_engine = self.engine
        self.read_sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # SQLite has one writer at a time; waiting in line here beats its busy handler's sleep-and-retry, which
        # made concurrent writers slower than one. PostgreSQL needs no such line.
        self._write_turn: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        self.write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False, autoflush=False)
        self.changes = _change_feed(url)

    @property
    def engines(self) -> list[AsyncEngine]:
        return [self.engine] if self.write_engine is self.engine else [self.engine, self.write_engine]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit when the block succeeds, roll back on any exception."""
        async with self._turn(), self.write_sessions() as session:
            try:
                yield session
                tags = take_noted(session)
                if tags and not self.is_sqlite:
                    await send_notifications(session, tags)
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            self.changes.committed(tags)

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
