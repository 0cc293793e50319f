"""The change feed's keepers and watchers (kernel/changes.py): what a change's tags drop and wake, and what a read
that raced a change may not keep. In process, without a server; the paths through real writes and other processes
are in test_kept_state.py and test_change_stream.py."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.changes import (
    EVERYTHING,
    PAYLOAD_BYTES,
    ChangeFeed,
    KeptValues,
    Watchers,
    parse,
    payloads,
    runtime_view,
    tenant_views,
)


async def _keep(kept: KeptValues[str, int], key: str, value: int, *tags: str) -> None:
    async def load() -> tuple[int, list[str]]:
        return value, list(tags)

    await kept.read(key, load)


async def test_a_kept_value_is_answered_without_reading_again() -> None:
    kept: KeptValues[str, int] = KeptValues(ChangeFeed(), max_entries=10)
    await _keep(kept, "a", 1, "t:one")

    async def unexpected() -> None:
        raise AssertionError("read again")

    assert await kept.read("a", unexpected) == 1


async def test_a_change_naming_a_tag_drops_only_the_values_tagged_with_it() -> None:
    feed = ChangeFeed()
    kept: KeptValues[str, int] = KeptValues(feed, max_entries=10)
    await _keep(kept, "a", 1, tenant_views("one"), runtime_view("a"))
    await _keep(kept, "b", 2, tenant_views("two"), runtime_view("b"))

    feed.publish(frozenset({tenant_views("one")}))

    assert (kept.get("a"), kept.get("b")) == (None, 2)


async def test_a_change_of_anything_drops_everything() -> None:
    feed = ChangeFeed()
    kept: KeptValues[str, int] = KeptValues(feed, max_entries=10)
    await _keep(kept, "a", 1, "t:one")

    feed.publish(None)

    assert len(kept) == 0


async def test_a_value_read_while_a_change_was_published_is_not_kept() -> None:
    feed = ChangeFeed()
    kept: KeptValues[str, int] = KeptValues(feed, max_entries=10)

    async def racing() -> tuple[int, list[str]]:
        feed.publish(frozenset({"t:elsewhere"}))
        return 1, ["t:one"]

    assert await kept.read("a", racing) == 1
    assert kept.get("a") is None


async def test_nothing_is_kept_while_the_listener_is_down() -> None:
    feed = ChangeFeed(listens=True)  # PostgreSQL's, before its LISTEN connection is up
    kept: KeptValues[str, int] = KeptValues(feed, max_entries=10)

    await _keep(kept, "a", 1, "t:one")

    assert len(kept) == 0


async def test_the_least_recently_used_value_leaves_first_when_full() -> None:
    kept: KeptValues[str, int] = KeptValues(ChangeFeed(), max_entries=2)
    await _keep(kept, "a", 1)
    await _keep(kept, "b", 2)
    kept.get("a")

    await _keep(kept, "c", 3)

    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (1, None, 3)


async def test_revalidation_drops_the_values_that_differ_and_those_gone() -> None:
    kept: KeptValues[str, int] = KeptValues(ChangeFeed(), max_entries=10)
    for key, value in (("same", 1), ("changed", 2), ("gone", 3)):
        await _keep(kept, key, value)

    async def current(keys: list[str]) -> dict[str, int]:
        return {key: value for key, value in {"same": 1, "changed": 20}.items() if key in keys}

    assert await kept.revalidate(current) == 2
    assert kept.items() == [("same", 1)]


class SQLiteFile:
    """A database in WAL mode with two connections: "ours" (this process's writes) and "theirs" (another's)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ours = sqlite3.connect(path, isolation_level=None)
        self.ours.execute("PRAGMA journal_mode=WAL")
        self.ours.execute("CREATE TABLE t (x)")
        self.theirs = sqlite3.connect(path, isolation_level=None)

    def commit(self, connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO t VALUES (1)")

    def close(self) -> None:
        self.ours.close()
        self.theirs.close()


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[SQLiteFile]:
    database = SQLiteFile(tmp_path / "compass.db")
    yield database
    database.close()


async def _kept_on(database: SQLiteFile) -> tuple[ChangeFeed, KeptValues[str, int]]:
    feed = ChangeFeed(sqlite_file=str(database.path))
    kept: KeptValues[str, int] = KeptValues(feed, max_entries=10)
    await _keep(kept, "a", 1, "t:one")
    return feed, kept


async def test_a_commit_of_another_process_drops_everything_on_sqlite(sqlite_file: SQLiteFile) -> None:
    _feed, kept = await _kept_on(sqlite_file)

    sqlite_file.commit(sqlite_file.theirs)

    assert kept.get("a") is None


async def test_a_commit_of_this_process_drops_everything_on_sqlite_too(sqlite_file: SQLiteFile) -> None:
    feed, kept = await _kept_on(sqlite_file)

    sqlite_file.commit(sqlite_file.ours)
    feed.committed(frozenset({"t:two"}))

    assert kept.get("a") is None


def test_a_watch_is_woken_by_its_tags_only() -> None:
    feed = ChangeFeed()
    watchers = Watchers(feed)
    with watchers.watching([runtime_view("a"), tenant_views("one")]) as watch:
        feed.publish(frozenset({runtime_view("b"), tenant_views("two")}))
        untouched = watch.changed.is_set()
        feed.publish(frozenset({tenant_views("one")}))

        assert (untouched, watch.changed.is_set()) == (False, True)


def test_a_watch_is_woken_when_anything_may_have_changed() -> None:
    feed = ChangeFeed()
    watchers = Watchers(feed)
    with watchers.watching([runtime_view("a")]) as watch:
        feed.publish(None)

        assert watch.changed.is_set()


def test_a_finished_watch_is_forgotten() -> None:
    watchers = Watchers(ChangeFeed())
    with watchers.watching([runtime_view("a")]):
        pass

    assert len(watchers) == 0


def test_tags_travel_in_notifications_under_postgresqls_limit() -> None:
    tags = {runtime_view(f"{index:036d}") for index in range(1000)}

    sent = payloads(tags)

    assert all(len(payload.encode()) <= PAYLOAD_BYTES for payload in sent)
    assert set().union(*(parse(payload) or () for payload in sent)) == tags


def test_a_write_naming_very_many_tags_says_everything() -> None:
    tags = {runtime_view(f"{index:036d}") for index in range(20_000)}

    sent = payloads(tags)

    assert sent == [EVERYTHING]
    assert parse(sent[0]) is None


async def test_a_value_found_stale_by_the_revalidation_wakes_its_watchers() -> None:
    feed = ChangeFeed()
    kept: KeptValues[str, int] = KeptValues(feed, max_entries=10)
    watchers = Watchers(feed)
    await _keep(kept, "a", 1, runtime_view("a"))

    async def current(keys: list[str]) -> dict[str, int]:
        return dict.fromkeys(keys, 2)

    with watchers.watching([runtime_view("a")]) as watch:
        await kept.revalidate(current)

        assert watch.changed.is_set()


async def test_a_value_dropped_only_when_named_survives_anything_may_have_changed() -> None:
    feed = ChangeFeed()
    kept: KeptValues[str, int] = KeptValues(feed, max_entries=10, only_when_named=True)
    await _keep(kept, "a", 1, "d:one")

    feed.publish(None)
    survived = kept.get("a")
    feed.publish(frozenset({"d:one"}))

    assert (survived, kept.get("a")) == (1, None)
