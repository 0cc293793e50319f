"""The NATS JetStream event log (events/store/nats.py) against a real nats-server (tests/fixtures/nats.py)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.model import DeadLetter, Event
from events.store.base import StoreUnavailable
from events.store.nats import READ_BATCH, NatsLog, subject_token
from testing.nats import NatsServer
from testing.ports import free_port
from testing.waiting import wait_until


def event(number: int, source: str = "shop") -> Event:
    return Event(
        id=f"event-{number}", source=source, type="sap.kyma.custom.shop.order.created.v1", data=b"%d" % number
    )


def on_own_stream(url: str, tag: str) -> NatsLog:
    """A log on a stream and subjects that no other test uses on the shared server."""
    return NatsLog(url, f"TEST_{tag.upper()}", subject_prefix=f"test{tag}")


def new_tag() -> str:
    return uuid.uuid4().hex[:12]


@contextlib.asynccontextmanager
async def started(log: NatsLog) -> AsyncIterator[NatsLog]:
    await log.start()
    try:
        yield log
    finally:
        await log.stop()


async def succeeds(call: Callable[[], Awaitable[object]]) -> bool:
    """Whether ``call`` went through: for waiting until the log is back after a restart."""
    try:
        await call()
    except StoreUnavailable:
        return False
    return True


@pytest.fixture
async def log(nats_server: NatsServer) -> AsyncIterator[NatsLog]:
    async with started(on_own_stream(nats_server.url, new_tag())) as log:
        yield log


async def test_appended_events_are_read_back_in_order_with_their_sequences(log: NatsLog) -> None:
    sequences = await log.append([event(1), event(2), event(3)])

    stored = await log.read(after=0, limit=10)

    assert sequences == [1, 2, 3]
    assert [(item.sequence, item.event) for item in stored] == [(1, event(1)), (2, event(2)), (3, event(3))]


async def test_read_returns_only_events_after_the_given_sequence_up_to_the_limit(log: NatsLog) -> None:
    await log.append([event(number) for number in range(1, 8)])

    stored = await log.read(after=2, limit=3)

    assert [item.sequence for item in stored] == [3, 4, 5]


async def test_one_read_returns_at_most_a_batch(log: NatsLog) -> None:
    await log.append([event(number) for number in range(READ_BATCH + 1)])

    stored = await log.read(after=0, limit=READ_BATCH + 1)

    assert [item.sequence for item in stored] == list(range(1, READ_BATCH + 1))


async def test_read_past_the_head_returns_nothing(log: NatsLog) -> None:
    await log.append([event(1)])

    assert await log.read(after=1, limit=10) == []


async def test_head_is_zero_when_empty_then_the_last_sequence(log: NatsLog) -> None:
    assert await log.head() == 0

    await log.append([event(1), event(2)])

    assert await log.head() == 2


async def test_concurrent_appends_get_distinct_sequences_and_keep_each_batch_in_order(log: NatsLog) -> None:
    batches = [[event(batch * 100 + number) for number in range(20)] for batch in range(10)]

    results = await asyncio.gather(*(log.append(batch) for batch in batches))

    assert sorted(sequence for result in results for sequence in result) == list(range(1, 201))
    assert all(result == sorted(result) for result in results)
    stored = {item.sequence: item.event for item in await log.read(after=0, limit=500)}
    for batch, result in zip(batches, results, strict=True):
        assert [stored[sequence] for sequence in result] == batch


async def test_a_source_that_is_no_subject_token_is_stored_as_it_is(log: NatsLog) -> None:
    odd = event(1, source="/default/sap.kyma/shop.eu *>")

    await log.append([odd])

    assert [item.event for item in await log.read(after=0, limit=1)] == [odd]


async def test_a_new_subscription_has_no_cursor(log: NatsLog) -> None:
    assert await log.cursor("default/orders") is None


async def test_a_saved_cursor_is_read_back_per_subscription(log: NatsLog) -> None:
    await log.save_cursor("default/orders", 7)
    await log.save_cursor("default/orders.eu", 3)
    await log.save_cursor("default/orders", 9)

    assert await log.cursor("default/orders") == 9
    assert await log.cursor("default/orders.eu") == 3


async def test_dead_letters_are_listed_oldest_first_for_one_subscription_or_all(log: NatsLog) -> None:
    first = DeadLetter("default/orders", 1, event(1), attempts=5, reason="HTTP 500", dead_at=1000.5)
    other = DeadLetter("default/audit", 2, event(2), attempts=5, reason="connection refused", dead_at=1001.0)
    second = DeadLetter("default/orders", 3, event(3), attempts=5, reason="HTTP 503", dead_at=1002.0)
    for letter in (first, other, second):
        await log.dead_letter(letter)

    assert await log.dead_letters("default/orders") == [first, second]
    assert await log.dead_letters() == [first, other, second]
    assert await log.dead_letters("default/none") == []


async def test_wait_for_wakes_when_an_event_is_appended(log: NatsLog) -> None:
    waiting = asyncio.create_task(log.wait_for(after=0, timeout=30))
    await asyncio.sleep(0)  # the waiter has asked the head and is waiting

    await log.append([event(1)])

    assert await waiting is True


async def test_wait_for_wakes_on_an_append_through_another_connection(nats_server: NatsServer) -> None:
    tag = new_tag()
    async with (
        started(on_own_stream(nats_server.url, tag)) as waiter,
        started(on_own_stream(nats_server.url, tag)) as writer,
    ):
        await writer.append([event(1)])
        waiting = asyncio.create_task(waiter.wait_for(after=1, timeout=30))
        await asyncio.sleep(0)

        await writer.append([event(2)])

        assert await waiting is True


async def test_wait_for_is_true_at_once_for_an_event_already_stored(log: NatsLog) -> None:
    await log.append([event(1)])

    assert await log.wait_for(after=0, timeout=0) is True


async def test_wait_for_is_false_when_nothing_is_appended_in_time(log: NatsLog) -> None:
    await log.append([event(1)])

    assert await log.wait_for(after=1, timeout=0.1) is False


async def test_cursors_and_dead_letters_survive_a_server_restart(private_nats_server: NatsServer) -> None:
    letter = DeadLetter("default/orders", 1, event(1), attempts=3, reason="HTTP 500", dead_at=1000.0)
    async with started(NatsLog(private_nats_server.url, timeout=2)) as log:
        await log.save_cursor("default/orders", 4)
        await log.dead_letter(letter)

        private_nats_server.stop()
        await private_nats_server.restart()
        await wait_until(lambda: succeeds(log.head), what="the log reconnecting")

        assert await log.cursor("default/orders") == 4
        assert await log.dead_letters() == [letter]


async def test_acknowledged_events_survive_a_kill_9_of_the_server(private_nats_server: NatsServer) -> None:
    events = [event(number) for number in range(300)]
    async with started(NatsLog(private_nats_server.url)) as log:
        acknowledged = await log.append(events)

    private_nats_server.kill()
    await private_nats_server.restart()

    async with started(NatsLog(private_nats_server.url)) as log:
        stored = await log.read(after=0, limit=1000)
    assert [item.sequence for item in stored] == acknowledged
    assert [item.event for item in stored] == events


async def test_starting_without_a_server_raises_store_unavailable() -> None:
    log = NatsLog(f"nats://127.0.0.1:{free_port()}", connect_timeout=1)

    with pytest.raises(StoreUnavailable):
        await log.start()


async def test_append_while_the_server_is_down_raises_store_unavailable(
    private_nats_server: NatsServer,
) -> None:
    async with started(NatsLog(private_nats_server.url, timeout=2)) as log:
        private_nats_server.kill()

        with pytest.raises(StoreUnavailable):
            await log.append([event(1)])
        with pytest.raises(StoreUnavailable):
            await log.read(after=0, limit=10)
        with pytest.raises(StoreUnavailable):
            await log.save_cursor("default/orders", 1)


async def test_append_to_a_hung_server_raises_store_unavailable_after_the_timeout(
    private_nats_server: NatsServer,
) -> None:
    async with started(NatsLog(private_nats_server.url, timeout=0.5)) as log:
        with private_nats_server.frozen(), pytest.raises(StoreUnavailable):
            await log.append([event(1)])


async def test_the_log_takes_events_again_once_the_server_is_back(private_nats_server: NatsServer) -> None:
    async with started(NatsLog(private_nats_server.url, timeout=2)) as log:
        await log.append([event(1)])
        private_nats_server.kill()
        await private_nats_server.restart()

        await wait_until(lambda: succeeds(lambda: log.append([event(2)])), what="an append after the restart")

        assert [item.event for item in await log.read(after=0, limit=10)][:2] == [event(1), event(2)]


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text())
def test_subject_tokens_are_plain_and_distinct_for_distinct_names(first: str, second: str) -> None:
    token = subject_token(first)

    assert token and all(char.isascii() and (char.isalnum() or char in "_-=") for char in token)
    assert (token == subject_token(second)) == (first == second)
