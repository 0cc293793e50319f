"""The embedded event log: one SQLite file in WAL mode with ``synchronous=FULL``, written by ONE thread.

Group commit: every write (appends, cursors, dead letters, compaction) is queued to the writer thread, which takes
everything queued at that moment and commits it in one transaction, so one fsync makes a whole batch durable.
While one fsync runs, the next batch queues up, so the fsync cost per event falls as the load rises. A caller's
future is resolved only after that commit returned: an acknowledged event survives a kill -9.

The stdlib ``sqlite3`` in threads of our own rather than aiosqlite: a cancelled awaiter must never leave a
transaction half done, and here cancelling a caller only drops its interest in the result. Reads use a second
connection (WAL lets it read while the writer writes) on a single reader thread.

Sequences are assigned by the writer and never reused (``AUTOINCREMENT`` keeps the highest ever stored in
``sqlite_sequence``), so compaction may empty the table without a later event taking an old number.

Two processes open the file: ``compass-events serve`` appends, and its delivery process (events/delivery_process.py)
reads and writes cursors, dead letters and compactions. Only one process may append: the writer numbers events
from the head it knows. The delivery's log learns of appends through ``refresh()``, which serve prompts.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import SimpleQueue
from typing import Any, TypeVar

from events.model import DeadLetter, Event, StoredEvent
from events.store.base import StoreUnavailable

T = TypeVar("T")

BUSY_SECONDS = 10.0  # how long a write waits for the other process's transaction before it fails
_HEAD = "SELECT seq FROM sqlite_sequence WHERE name = 'events'"  # the highest sequence ever stored
ROWS_PER_INSERT = 300  # 900 parameters: below SQLite's lowest limit on them (999)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL,
    stored_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    subscription TEXT PRIMARY KEY,
    sequence INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    subscription TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT NOT NULL,
    dead_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_by_subscription ON dead_letters (subscription, id);
"""


@dataclass
class _Job:
    """One queued write. An append carries its events' bodies; the batch inserts them all at once. Any other
    write's ``apply`` runs inside the batch's transaction. Either way the caller's result goes to ``future``."""

    future: asyncio.Future[Any]
    bodies: Sequence[bytes] = ()
    apply: Callable[[sqlite3.Connection], Any] | None = None


class SqliteLog:
    """An ``EventLog`` in one SQLite file (the events' data directory holds it)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # Transactions committed: what tests count to see that concurrent appends share one.
        self.commits = 0
        self._head = 0  # the highest sequence known stored: this process's appends, and refresh()
        self._committed = asyncio.Event()
        self._waiting = 0  # wait_for calls waiting now
        self._unseen = False  # refresh() came while none waited
        # Called on the loop after each commit that stored events (serve tells its delivery process).
        self.on_append: Callable[[], None] | None = None
        self._queue: SimpleQueue[_Job | None] = SimpleQueue()
        self._writer: threading.Thread | None = None
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="events-log-reader")
        self._read_connection: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        opened: asyncio.Future[int] = self._loop.create_future()
        self._writer = threading.Thread(target=self._write_loop, args=(opened,), name="events-log-writer")
        self._writer.start()
        self._head = await opened
        self._read_connection = await self._in_reader(self._open_reader)

    async def stop(self) -> None:
        if self._writer is not None:
            self._queue.put(None)  # stops the writer
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        if self._read_connection is not None:
            await self._in_reader(self._read_connection.close)
            self._read_connection = None
        self._reader.shutdown(wait=True)

    async def append(self, events: Sequence[Event]) -> list[int]:
        if not events:
            return []
        return list(await self._submit(bodies=[event.to_json() for event in events]))

    async def read(self, after: int, limit: int) -> list[StoredEvent]:
        rows = await self._query(
            "SELECT sequence, body, stored_at FROM events WHERE sequence > ? ORDER BY sequence LIMIT ?",
            (after, limit),
        )
        return [StoredEvent(sequence, Event.from_json(body), stored_at) for sequence, body, stored_at in rows]

    async def wait_for(self, after: int, timeout: float) -> bool:  # noqa: ASYNC109 (EventLog's signature)
        if self._unseen:
            self._unseen = False
            self._moved(await self.head())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._waiting += 1
        try:
            while self._head <= after:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                committed = self._committed
                try:
                    await asyncio.wait_for(committed.wait(), remaining)
                except TimeoutError:
                    return self._head > after
            return True
        finally:
            self._waiting -= 1

    async def head(self) -> int:
        """From the file: another process (serve's, when this is its delivery's) may have appended since."""
        return _head_of(await self._query(_HEAD, ()))

    async def refresh(self) -> None:
        """Another process appended: ``wait_for``'s waiters wake now rather than at their timeout. With none
        waiting (readers busy with what they read), the head is looked up only by the next wait."""
        if self._waiting:
            self._moved(await self.head())
        else:
            self._unseen = True

    async def cursor(self, subscription: str) -> int | None:
        rows = await self._query("SELECT sequence FROM cursors WHERE subscription = ?", (subscription,))
        return int(rows[0][0]) if rows else None

    async def save_cursor(self, subscription: str, sequence: int) -> None:
        def upsert(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO cursors (subscription, sequence) VALUES (?, ?) "
                "ON CONFLICT (subscription) DO UPDATE SET sequence = excluded.sequence",
                (subscription, sequence),
            )

        await self._submit(apply=upsert)

    async def dead_letter(self, letter: DeadLetter) -> None:
        def insert(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO dead_letters (subscription, sequence, body, attempts, reason, dead_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    letter.subscription,
                    letter.sequence,
                    letter.event.to_json(),
                    letter.attempts,
                    letter.reason,
                    letter.dead_at,
                ),
            )

        await self._submit(apply=insert)

    async def dead_letters(self, subscription: str | None = None) -> list[DeadLetter]:
        rows = await self._query(
            "SELECT subscription, sequence, body, attempts, reason, dead_at FROM dead_letters "
            "WHERE ?1 IS NULL OR subscription = ?1 ORDER BY id",
            (subscription,),
        )
        return [
            DeadLetter(name, sequence, Event.from_json(body), attempts, reason, dead_at)
            for name, sequence, body, attempts, reason, dead_at in rows
        ]

    async def compact(self, through: int) -> int:
        """Deletes the events up to ``through`` (every subscription is past them; dead letters keep their own
        copy); returns how many went."""

        def delete(connection: sqlite3.Connection) -> int:
            return connection.execute("DELETE FROM events WHERE sequence <= ?", (through,)).rowcount

        return int(await self._submit(apply=delete))

    async def _submit(
        self, *, bodies: Sequence[bytes] = (), apply: Callable[[sqlite3.Connection], Any] | None = None
    ) -> Any:
        if self._writer is None or self._loop is None:
            raise StoreUnavailable("the event log is not started")
        future: asyncio.Future[Any] = self._loop.create_future()
        self._queue.put(_Job(future, bodies, apply))
        # A cancelled caller cancels only the future: the write stays queued and is committed with its batch,
        # and the writer leaves a cancelled future unanswered.
        return await future

    async def _query(self, statement: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        connection = self._read_connection
        if connection is None:
            raise StoreUnavailable("the event log is not started")
        try:
            return await self._in_reader(lambda: connection.execute(statement, parameters).fetchall())
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot read the event log: {exc}") from exc

    async def _in_reader(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reader, call)

    def _open_reader(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_SECONDS)

    # The writer thread from here on: nothing below touches the event loop except through call_soon_threadsafe.

    def _write_loop(self, opened: asyncio.Future[int]) -> None:
        loop = opened.get_loop()
        try:
            connection = _open_writer(self.path)
            head = _stored_head(connection)
        except sqlite3.Error as exc:
            loop.call_soon_threadsafe(_fail, [opened], StoreUnavailable(f"cannot open {self.path}: {exc}"))
            return
        loop.call_soon_threadsafe(_resolve, opened, head)
        try:
            while (jobs := _next_batch(self._queue)) is not None:
                head = self._commit(connection, jobs, head)
        finally:
            connection.close()

    def _commit(self, connection: sqlite3.Connection, jobs: list[_Job], head: int) -> int:
        """One transaction for ``jobs``; the new head. Every append of the batch goes into one INSERT (per
        ``ROWS_PER_INSERT`` rows): sqlite3 gives up and takes back the GIL around each statement's step, and
        while the event loop's thread is busy, each taking back waits for it. A batch of appends alone is a
        single statement and commits without BEGIN and COMMIT."""
        loop = jobs[0].future.get_loop()
        stored_at = time.time()
        rows: list[tuple[int, bytes, float]] = []  # every append's events, in order
        results: list[Any] = []
        for job in jobs:
            first = head + len(rows) + 1
            results.append(list(range(first, first + len(job.bodies))) if job.apply is None else None)
            rows += ((sequence, body, stored_at) for sequence, body in enumerate(job.bodies, first))
        inserts = [rows[start : start + ROWS_PER_INSERT] for start in range(0, len(rows), ROWS_PER_INSERT)]
        statements = len(inserts) + sum(job.apply is not None for job in jobs)
        try:
            if statements > 1:
                connection.execute("BEGIN IMMEDIATE")
            for chunk in inserts:
                connection.execute(_insert_statement(len(chunk)), [value for row in chunk for value in row])
            for index, job in enumerate(jobs):
                if job.apply is not None:
                    results[index] = job.apply(connection)
            if statements > 1:
                connection.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - whatever failed, the batch is refused and the writer lives on
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            error = StoreUnavailable(f"cannot write the event log: {exc}")
            loop.call_soon_threadsafe(_fail, [job.future for job in jobs], error)
            return head
        self.commits += 1
        head += len(rows)
        loop.call_soon_threadsafe(self._publish, jobs, results, head)
        return head

    def _publish(self, jobs: list[_Job], results: list[Any], head: int) -> None:
        """On the loop, after a commit: the head moves before any caller hears back, so an appender that
        asks for the head next sees its own events."""
        if self._moved(head) and self.on_append is not None:
            self.on_append()
        for job, result in zip(jobs, results, strict=True):
            _resolve(job.future, result)

    def _moved(self, head: int) -> bool:
        # The writer's head counts this process's appends only: the delivery's log must not move back.
        if head <= self._head:
            return False
        self._head = head
        committed, self._committed = self._committed, asyncio.Event()
        committed.set()
        return True


@functools.lru_cache(maxsize=ROWS_PER_INSERT)
def _insert_statement(count: int) -> str:
    placeholders = ",".join(["(?, ?, ?)"] * count)  # placeholders only: the values are bound
    return f"INSERT INTO events (sequence, body, stored_at) VALUES {placeholders}"  # noqa: S608


def _open_writer(path: Path) -> sqlite3.Connection:
    # Two processes write (serve's events, its delivery's cursors): a writer waits for the other's lock.
    connection = sqlite3.connect(path, isolation_level=None, timeout=BUSY_SECONDS)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.executescript(_SCHEMA)
    return connection


def _stored_head(connection: sqlite3.Connection) -> int:
    return _head_of(connection.execute(_HEAD).fetchall())


def _head_of(rows: list[tuple[Any, ...]]) -> int:
    return int(rows[0][0]) if rows else 0


def _next_batch(queue: SimpleQueue[_Job | None]) -> list[_Job] | None:
    """Blocks for the first write, then takes every write queued by now; None once stopped."""
    jobs: list[_Job] = []
    item = queue.get()
    while item is not None:
        jobs.append(item)
        if queue.empty():
            return jobs
        item = queue.get()
    if not jobs:
        return None
    queue.put(None)  # the stop comes after the writes queued before it: commit them first
    return jobs


def _resolve(future: asyncio.Future[T], result: T) -> None:
    if not future.done():
        future.set_result(result)


def _fail(futures: list[asyncio.Future[Any]], error: BaseException) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(error)
