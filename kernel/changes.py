"""What committed writes changed, told to every process that keeps something about it in memory.

A write names what it changes with tags (``note``, and the tag makers below). Its tags reach the subscribers of
this process right after its commit and, on PostgreSQL, every other process on the database through ``NOTIFY``,
sent inside the transaction: PostgreSQL delivers it only if the transaction commits, and only then. A process
keeps nothing while its ``LISTEN`` connection is down, and forgets everything when it comes back
(``listen``). On SQLite, whose other processes (``compass revoke``, another worker) cannot notify, any commit
shows as a change of the write-ahead log's (or the database file's) size or time, and drops every kept value
(``ChangeFeed.check``, looked at before every use of a kept value and twice a second): this process's own
commits too, since nothing tells them apart from another's that came just after.

What a notification missed anyway (a connection that dies silently) is caught by each keeper's own periodic
re-read (``revalidate``). Readers guard against the one race left (a value read before a commit, kept after its
notification arrived) with ``epoch``: a value is kept only if no change was published while it was read.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Hashable, Iterable, Iterator
from typing import Any, Generic, TypeVar

import asyncpg
import structlog
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.principal import CertificateIdentity

log = structlog.get_logger("kernel.changes")

CHANNEL = "compass_changes"
_NOTED = "kernel.changes.noted"
# PostgreSQL refuses a payload of 8000 bytes or more; a write naming more tags sends several notifications, and
# one naming very many (a formation of thousands of runtimes) says "everything" in one.
PAYLOAD_BYTES = 7_900
MAX_NOTIFICATIONS = 32
EVERYTHING = "*"
LISTEN_RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)
PING_TIMEOUT_SECONDS = 2.0
PRUNE_SUBSCRIBERS_ABOVE = 8
SQLITE_CHECK_SECONDS = 0.5

Tags = frozenset[str] | None
"""What changed; None: anything may have (a listener that was away, another process's write on SQLite)."""


def tenant_views(tenant_id: str) -> str:
    """Every runtime view of the tenant (its revision)."""
    return f"t:{tenant_id}"


def runtime_view(runtime_id: str) -> str:
    """One runtime's view (its revision)."""
    return f"r:{runtime_id}"


def tenant_gone(tenant_id: str) -> str:
    return f"d:{tenant_id}"


def client_gone(object_id: str) -> str:
    """A runtime or an application deleted, and so every credential of it."""
    return f"o:{object_id}"


def credential_gone(client_id: str) -> str:
    """A system auth deleted (its certificates go with it)."""
    return f"c:{client_id}"


def certificate_revoked(serial: str) -> str:
    return f"s:{serial}"


def identity_tags(identity: CertificateIdentity) -> tuple[str, ...]:
    """What ends a certificate's identity: its revocation, or its system auth, runtime/application or tenant gone."""
    return (
        certificate_revoked(identity.serial),
        credential_gone(identity.client_id),
        client_gone(identity.object_id),
        tenant_gone(identity.tenant_id),
    )


def note(session: AsyncSession, *tags: str) -> None:
    """Tags of what this transaction changes, published when (and if) it commits."""
    noted: set[str] = session.info.setdefault(_NOTED, set())
    noted.update(tags)


def take_noted(session: AsyncSession) -> frozenset[str]:
    return frozenset(session.info.pop(_NOTED, ()))


def payloads(tags: Collection[str]) -> list[str]:
    """The notifications that carry ``tags``: space-separated, each under PostgreSQL's limit."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for tag in sorted(tags):
        if current and size + len(tag) + 1 > PAYLOAD_BYTES:
            chunks.append(" ".join(current))
            current, size = [], 0
        current.append(tag)
        size += len(tag.encode()) + 1
    if current:
        chunks.append(" ".join(current))
    return chunks if len(chunks) <= MAX_NOTIFICATIONS else [EVERYTHING]


def parse(payload: str) -> Tags:
    tags = frozenset(payload.split())
    return None if EVERYTHING in tags else tags


async def send_notifications(session: AsyncSession, tags: Collection[str]) -> None:
    for payload in payloads(tags):
        await session.execute(select(func.pg_notify(CHANNEL, payload)))


class ChangeFeed:
    """Publishes the tags of committed writes to this process's keepers, and says whether they may keep at all."""

    def __init__(self, *, listens: bool = False, sqlite_file: str | None = None, keeps: bool = True) -> None:
        """``listens``: PostgreSQL's; ``sqlite_file``: the SQLite database others may write; ``keeps``: False
        where neither can tell this process of others' writes (an SQLite ``file:`` URI)."""
        # Weakly: a keeper goes with its app (tests build many apps on one Database).
        self._subscribers: list[weakref.WeakMethod[Callable[[Tags], None]]] = []
        self._listens = listens
        self._keeps = keeps and not listens
        self._listeners = 0
        self._log_files = (f"{sqlite_file}-wal", sqlite_file) if sqlite_file else ()
        self._last_seen: tuple[tuple[int, int, int], ...] | None = None
        self.epoch = 0

    @property
    def keeping(self) -> bool:
        """Whether what is read may be kept: changes reach this process (on PostgreSQL, its listener is up)."""
        return self._keeps or self._listeners > 0

    def subscribe(self, invalidate: Callable[[Tags], None]) -> None:
        """``invalidate``: a bound method, held weakly."""
        self._subscribers.append(weakref.WeakMethod(invalidate))

    def publish(self, tags: Tags) -> None:
        self.epoch += 1
        alive = False
        for reference in self._subscribers:
            invalidate = reference()
            if invalidate is None:
                continue
            alive = True
            invalidate(tags)
        if not alive or len(self._subscribers) > PRUNE_SUBSCRIBERS_ABOVE:
            self._subscribers = [reference for reference in self._subscribers if reference() is not None]

    def committed(self, tags: frozenset[str]) -> None:
        """After a commit of this process: its tags."""
        if tags:
            self.publish(tags)

    def check(self) -> None:
        """On SQLite, before a kept value is used: a commit since the last look drops everything kept."""
        if not self._log_files:
            return
        state = self._log_state()
        if state != self._last_seen:
            if self._last_seen is not None:
                self.publish(None)
            self._last_seen = state

    def _log_state(self) -> tuple[tuple[int, int, int], ...]:
        """Sizes and times only, by ``stat``: opening and closing a file of the database (its ``-shm`` index above
        all) would drop every POSIX lock SQLite holds on it in this process."""
        states = []
        for path in self._log_files:
            try:
                found = os.stat(path)
            except FileNotFoundError:
                states.append((0, 0, 0))
                continue
            states.append((found.st_ino, found.st_size, found.st_mtime_ns))
        return tuple(states)

    async def listen(self, url: str, stop: asyncio.Event, ping_seconds: float) -> None:
        """PostgreSQL: keeps a ``LISTEN`` connection until ``stop``, pinging it every ``ping_seconds``; reconnects
        with backoff when it is lost. While it is down nothing is kept; when it is back everything kept before is
        forgotten (what changed meanwhile was not heard)."""
        if self._log_files:
            # Streams (push) wait on no lookup: another process's commit must reach them too.
            while not stop.is_set():
                self.check()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SQLITE_CHECK_SECONDS)
            return
        if not self._listens:
            return
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        failures = 0
        while not stop.is_set():
            try:
                connection = await asyncpg.connect(dsn, timeout=PING_TIMEOUT_SECONDS * 2)
            except Exception as error:  # noqa: BLE001 - any failure to connect: retry later
                log.warning("change_listener_unavailable", error=repr(error))
            else:
                failures = 0
                await self._listening_on(connection, stop, ping_seconds)
            delay = LISTEN_RETRY_SECONDS[min(failures, len(LISTEN_RETRY_SECONDS) - 1)]
            failures += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _listening_on(self, connection: Any, stop: asyncio.Event, ping_seconds: float) -> None:
        def notified(_connection: object, _pid: int, _channel: str, payload: str) -> None:
            self.publish(parse(payload))

        lost = asyncio.Event()
        listening = False
        try:
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(CHANNEL, notified)
            self._listeners += 1
            listening = True
            self.publish(None)
            log.info("change_listener_up")
            while not stop.is_set():
                ended = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(lost.wait())]
                _done, pending = await asyncio.wait(ended, timeout=ping_seconds, return_when="FIRST_COMPLETED")
                for task in pending:
                    task.cancel()
                if lost.is_set():
                    log.warning("change_listener_lost", error="the connection was closed")
                    return
                if not stop.is_set():
                    await connection.fetchval("SELECT 1", timeout=PING_TIMEOUT_SECONDS)
        except Exception as error:  # noqa: BLE001 - a lost connection: forget, then reconnect
            log.warning("change_listener_lost", error=repr(error))
        finally:
            if listening:
                self._listeners -= 1
                self.publish(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), PING_TIMEOUT_SECONDS)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TagIndex(Generic[K]):
    """Which items each tag names: what a change's tags drop (kept values) or wake (watches)."""

    def __init__(self) -> None:
        self._by_tag: dict[str, set[K]] = {}

    def add(self, item: K, tags: Iterable[str]) -> None:
        for tag in tags:
            self._by_tag.setdefault(tag, set()).add(item)

    def remove(self, item: K, tags: Iterable[str]) -> None:
        for tag in tags:
            items = self._by_tag.get(tag)
            if items is not None:
                items.discard(item)
                if not items:
                    del self._by_tag[tag]

    def named(self, tags: Iterable[str]) -> set[K]:
        return {item for tag in tags for item in self._by_tag.get(tag, ())}

    def clear(self) -> None:
        self._by_tag.clear()


class KeptValues(Generic[K, V]):
    """Values read from the database, kept until a committed change names one of their tags (bounded, least
    recently used first out)."""

    def __init__(self, feed: ChangeFeed, *, max_entries: int, only_when_named: bool = False) -> None:
        """``only_when_named``: values dropped only by their own tags and the re-read, not when anything may have
        changed (any commit, on SQLite): for what changes rarely and is re-read cheaply within seconds."""
        self.feed = feed
        self.max_entries = max_entries
        self.only_when_named = only_when_named
        self._entries: OrderedDict[K, tuple[V, frozenset[str]]] = OrderedDict()
        self._tagged: TagIndex[K] = TagIndex()
        feed.subscribe(self.invalidate)

    def get(self, key: K) -> V | None:
        self.feed.check()
        if not self.feed.keeping:
            return None
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]

    async def read(self, key: K, load: Callable[[], Awaitable[tuple[V, Iterable[str]] | None]]) -> V | None:
        """The kept value, or what ``load`` reads (value and tags), kept if nothing changed while it was read."""
        kept = self.get(key)
        if kept is not None:
            return kept
        epoch = self.feed.epoch
        loaded = await load()
        if loaded is None:
            return None
        value, tags = loaded
        self.feed.check()
        if self.feed.keeping and self.feed.epoch == epoch:
            self._put(key, value, frozenset(tags))
        return value

    def _put(self, key: K, value: V, tags: frozenset[str]) -> None:
        self.drop(key)
        self._entries[key] = (value, tags)
        self._tagged.add(key, tags)
        while len(self._entries) > self.max_entries:
            self.drop(next(iter(self._entries)))

    def drop(self, key: K) -> None:
        found = self._entries.pop(key, None)
        if found is not None:
            self._tagged.remove(key, found[1])

    def invalidate(self, tags: Tags) -> None:
        if tags is None and self.only_when_named:
            return
        if tags is None:
            self._entries.clear()
            self._tagged.clear()
            return
        for key in self._tagged.named(tags):
            self.drop(key)

    def items(self) -> list[tuple[K, V]]:
        return [(key, value) for key, (value, _tags) in self._entries.items()]

    async def revalidate(self, current: Callable[[list[K]], Awaitable[dict[K, V]]], *, batch: int = 500) -> int:
        """Re-reads every kept value (``current``: the values of those keys still there) and drops those that
        differ: the bound on how long a missed notification leaves a value stale. How many were dropped."""
        keys = list(self._entries)
        stale: set[str] = set()
        dropped = 0
        for start in range(0, len(keys), batch):
            chunk = keys[start : start + batch]
            found = await current(chunk)
            for key in chunk:
                kept = self._entries.get(key)
                if kept is not None and found.get(key) != kept[0]:
                    stale.update(kept[1])
                    self.drop(key)
                    dropped += 1
        if stale:
            # As the lost notification would have: everything else that depends on it goes too, watchers wake.
            self.feed.publish(frozenset(stale))
        return dropped

    def __len__(self) -> int:
        return len(self._entries)


class Watch:
    """One watcher's wake-up: set when a change names one of its tags (or anything may have changed)."""

    def __init__(self, tags: frozenset[str]) -> None:
        self.tags = tags
        self.changed = asyncio.Event()
        self.everything = False  # woken because anything may have changed, not by one of its tags


class Watchers:
    """Those waiting to be told of a change (a runtime's push subscription), woken by the feed's tags."""

    def __init__(self, feed: ChangeFeed) -> None:
        self._by_tag: TagIndex[Watch] = TagIndex()
        self._all: set[Watch] = set()
        feed.subscribe(self.invalidate)

    @contextlib.contextmanager
    def watching(self, tags: Iterable[str]) -> Iterator[Watch]:
        watch = Watch(frozenset(tags))
        self._all.add(watch)
        self._by_tag.add(watch, watch.tags)
        try:
            yield watch
        finally:
            self._all.discard(watch)
            self._by_tag.remove(watch, watch.tags)

    def invalidate(self, tags: Tags) -> None:
        woken = self._all if tags is None else self._by_tag.named(tags)
        for watch in woken:
            watch.everything = watch.everything or tags is None
            watch.changed.set()

    def __len__(self) -> int:
        return len(self._all)
