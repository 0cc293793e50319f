"""The embedded event log (events/store/sqlite.py): group commit, durability across a kill -9, cursors, dead
letters and compaction, on a real SQLite file."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from events.model import DeadLetter
from events.store.sqlite import SqliteLog
from tests.fixtures.events import MakeEvent

REPOSITORY = Path(__file__).resolve().parents[2]

# Appends one event at a time from many tasks at once and prints each id once its append returned.
APPENDER = """
import asyncio, sys
from events.model import Event
from events.store.sqlite import SqliteLog

async def main(path):
    log = SqliteLog(path)
    await log.start()
    numbers = iter(range(10**9))

    async def appending():
        while True:
            number = next(numbers)
            event = Event(id=f"event-{number}", source="shop", type="t", data=b"x")
            await log.append([event])
            print(event.id, flush=True)

    await asyncio.gather(*(appending() for _ in range(8)))

asyncio.run(main(sys.argv[1]))
"""


class TestAppend:
    async def test_returns_the_sequences_of_the_events_in_order(
        self, event_log: SqliteLog, make_event: MakeEvent
    ) -> None:
        # when
        first = await event_log.append([make_event(), make_event()])
        second = await event_log.append([make_event()])

        # then
        assert first == [1, 2]
        assert second == [3]
        assert await event_log.head() == 3

    async def test_stores_the_event_as_it_was_given(
        self, event_log: SqliteLog, make_event: MakeEvent
    ) -> None:
        # given
        event = make_event(extensions={"eventtypeversion": "v1"}, subject="order-1")

        # when
        [sequence] = await event_log.append([event])

        # then
        [stored] = await event_log.read(0, 10)
        assert (stored.sequence, stored.event) == (sequence, event)

    async def test_concurrent_appends_share_commits(
        self, event_log: SqliteLog, make_event: MakeEvent
    ) -> None:
        # given
        before = event_log.commits

        # when
        results = await asyncio.gather(*(event_log.append([make_event()]) for _ in range(50)))

        # then
        assert sorted(sequence for [sequence] in results) == list(range(1, 51))
        assert event_log.commits - before < 25

    async def test_nothing_to_append_commits_nothing(self, event_log: SqliteLog) -> None:
        # given
        before = event_log.commits

        # when
        sequences = await event_log.append([])

        # then
        assert sequences == []
        assert event_log.commits == before


class TestRead:
    async def test_reads_after_a_sequence_up_to_a_limit(
        self, event_log: SqliteLog, make_event: MakeEvent
    ) -> None:
        # given
        await event_log.append([make_event() for _ in range(5)])

        # when
        stored = await event_log.read(1, 3)

        # then
        assert [item.sequence for item in stored] == [2, 3, 4]

    async def test_wait_for_returns_once_a_later_event_is_stored(
        self, event_log: SqliteLog, make_event: MakeEvent
    ) -> None:
        # given
        waiting = asyncio.create_task(event_log.wait_for(0, timeout=30))
        await asyncio.sleep(0)

        # when
        await event_log.append([make_event()])

        # then
        assert await waiting is True

    async def test_wait_for_says_false_when_nothing_came(self, event_log: SqliteLog) -> None:
        assert await event_log.wait_for(0, timeout=0.01) is False


class TestDurability:
    async def test_events_survive_reopening(self, tmp_path: Path, make_event: MakeEvent) -> None:
        # given
        path = tmp_path / "events.sqlite"
        events = [make_event() for _ in range(3)]
        log = SqliteLog(path)
        await log.start()
        await log.append(events)
        await log.save_cursor("default/orders", 2)
        await log.stop()

        # when
        reopened = SqliteLog(path)
        await reopened.start()

        # then
        try:
            assert [stored.event for stored in await reopened.read(0, 10)] == events
            assert await reopened.cursor("default/orders") == 2
            assert await reopened.head() == 3
        finally:
            await reopened.stop()

    async def test_every_acknowledged_event_survives_a_kill(self, tmp_path: Path) -> None:
        # given: a process appending from 8 tasks, killed once 200 appends were acknowledged
        path = tmp_path / "events.sqlite"
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", APPENDER, str(path), cwd=REPOSITORY, stdout=asyncio.subprocess.PIPE
        )
        assert child.stdout is not None
        acknowledged = [(await child.stdout.readline()).decode().strip() for _ in range(200)]

        # when
        child.send_signal(signal.SIGKILL)
        rest, _ = await child.communicate()
        acknowledged += rest.decode().split()

        # then
        log = SqliteLog(path)
        await log.start()
        try:
            stored = {item.event.id for item in await log.read(0, 1_000_000)}
        finally:
            await log.stop()
        assert "" not in acknowledged
        assert set(acknowledged) <= stored


class TestCursorsAndDeadLetters:
    async def test_a_subscription_without_a_cursor_has_none(self, event_log: SqliteLog) -> None:
        assert await event_log.cursor("default/new") is None

    async def test_a_saved_cursor_is_replaced_by_the_next(self, event_log: SqliteLog) -> None:
        # when
        await event_log.save_cursor("default/orders", 3)
        await event_log.save_cursor("default/orders", 7)

        # then
        assert await event_log.cursor("default/orders") == 7

    async def test_dead_letters_are_listed_per_subscription(
        self, event_log: SqliteLog, make_event: MakeEvent
    ) -> None:
        # given
        first = DeadLetter("default/a", 1, make_event(), 3, "500 Internal Server Error", 1000.0)
        second = DeadLetter("default/b", 2, make_event(), 5, "ClientConnectorError", 1001.0)

        # when
        await event_log.dead_letter(first)
        await event_log.dead_letter(second)

        # then
        assert await event_log.dead_letters() == [first, second]
        assert await event_log.dead_letters("default/b") == [second]


class TestCompaction:
    async def test_deletes_the_events_up_to_the_bound(
        self, event_log: SqliteLog, make_event: MakeEvent
    ) -> None:
        # given
        await event_log.append([make_event() for _ in range(4)])

        # when
        deleted = await event_log.compact(3)

        # then
        assert deleted == 3
        assert [stored.sequence for stored in await event_log.read(0, 10)] == [4]

    async def test_sequences_go_on_after_everything_was_deleted(
        self, tmp_path: Path, make_event: MakeEvent
    ) -> None:
        # given: every event compacted away, then the log reopened
        path = tmp_path / "events.sqlite"
        log = SqliteLog(path)
        await log.start()
        await log.append([make_event(), make_event()])
        await log.compact(2)
        await log.stop()
        reopened = SqliteLog(path)
        await reopened.start()

        # when
        try:
            sequences = await reopened.append([make_event()])
        finally:
            await reopened.stop()

        # then
        assert sequences == [3]
