"""Delivery (events/delivery.py) from the SQLite log to a real sink over HTTP (testing/sinks.py): binary-mode
CloudEvents, in order, at least once, retried, dead-lettered, per Subscription from the manifest directory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from events.delivery import Delivery, RetryPolicy
from events.metrics import DELIVERY_REGISTRY
from events.store.sqlite import SqliteLog
from testing.sinks import RecordingSink
from testing.waiting import wait_until
from tests.fixtures.events import FAST_RETRY, MakeEvent, StartDelivery, WriteSubscription

SUBSCRIPTION = "default/orders"


async def subscribed(event_log: SqliteLog, identity: str = SUBSCRIPTION) -> None:
    """Waits until the subscription's worker saved its starting cursor: later events are its to receive."""

    async def has_cursor() -> bool:
        return await event_log.cursor(identity) is not None

    await wait_until(has_cursor, what=f"{identity} starting")


def retries(identity: str) -> float:
    return DELIVERY_REGISTRY.get_sample_value("events_delivery_retries_total", {"subscription": identity}) or 0.0


@dataclass
class Orders:
    """The ``orders`` Subscription of order.created.v1 to the sink, its worker past its starting cursor."""

    log: SqliteLog
    sink: RecordingSink
    delivery: Delivery

    async def delivered(self, count: int = 1) -> list[str | None]:
        """The ids the sink received, once it received at least ``count`` (the test asserts the exact list)."""
        await wait_until(lambda: len(self.sink.delivered) >= count, what=f"{count} deliveries")
        return self.sink.delivered_ids()


SubscribeOrders = Callable[..., Awaitable[Orders]]


@pytest.fixture
def subscribe_orders(
    event_log: SqliteLog,
    event_sink: RecordingSink,
    write_subscription: WriteSubscription,
    start_delivery: StartDelivery,
) -> SubscribeOrders:
    """Writes the ``orders`` Subscription, starts a delivery with ``retry`` and waits for its worker."""

    async def subscribing(retry: RetryPolicy = FAST_RETRY) -> Orders:
        write_subscription("orders", event_sink.url, ["order.created.v1"])
        delivery = await start_delivery(retry=retry)
        await subscribed(event_log)
        return Orders(event_log, event_sink, delivery)

    return subscribing


class TestBinaryMode:
    async def test_the_sink_gets_the_attributes_as_headers_and_the_data_as_body(
        self, subscribe_orders: SubscribeOrders, make_event: MakeEvent
    ) -> None:
        # given
        orders = await subscribe_orders()
        event = make_event(extensions={"eventtypeversion": "v1"}, subject="order 1 €")

        # when
        await orders.log.append([event])

        # then
        await orders.delivered()
        [received] = orders.sink.delivered
        assert received.method == "POST"
        assert received.header("ce-specversion") == "1.0"
        assert received.header("ce-id") == event.id
        assert received.header("ce-source") == "shop"
        assert received.header("ce-type") == "sap.kyma.custom.shop.order.created.v1"
        assert received.header("ce-time") == "2026-01-01T00:00:00Z"
        assert received.header("ce-eventtypeversion") == "v1"
        assert received.header("ce-subject") == "order%201%20%E2%82%AC"
        assert received.attribute("subject") == "order 1 €"
        assert received.header("content-type") == "application/json"
        assert received.body == event.data

    async def test_an_event_without_a_content_type_is_sent_without_one(
        self, subscribe_orders: SubscribeOrders, make_event: MakeEvent
    ) -> None:
        # given
        orders = await subscribe_orders()

        # when
        await orders.log.append([make_event(datacontenttype=None)])

        # then
        await orders.delivered()
        assert orders.sink.delivered[0].header("content-type") is None


class TestOrderAndMatching:
    async def test_events_arrive_in_the_order_they_were_stored(
        self, subscribe_orders: SubscribeOrders, make_event: MakeEvent
    ) -> None:
        # given
        orders = await subscribe_orders()
        events = [make_event() for _ in range(30)]

        # when
        for event in events:
            await orders.log.append([event])

        # then
        assert await orders.delivered(30) == [event.id for event in events]

    async def test_only_matching_events_are_delivered(
        self, subscribe_orders: SubscribeOrders, make_event: MakeEvent
    ) -> None:
        # given
        orders = await subscribe_orders()
        wanted, other, last = make_event(), make_event("order.deleted.v1"), make_event()

        # when
        await orders.log.append([wanted, other, last])

        # then
        assert await orders.delivered(2) == [wanted.id, last.id]

    async def test_each_subscription_gets_its_own_copy(
        self,
        event_log: SqliteLog,
        event_sink: RecordingSink,
        write_subscription: WriteSubscription,
        subscribe_orders: SubscribeOrders,
        make_event: MakeEvent,
    ) -> None:
        # given
        write_subscription("audit", event_sink.url, ["order.created.v1"], source="")
        orders = await subscribe_orders()
        await subscribed(event_log, "default/audit")
        event = make_event()

        # when
        await orders.log.append([event])

        # then
        assert await orders.delivered(2) == [event.id, event.id]


class TestFailures:
    async def test_events_are_kept_while_the_sink_is_down_and_delivered_when_it_returns(
        self, subscribe_orders: SubscribeOrders, make_event: MakeEvent
    ) -> None:
        # given
        orders = await subscribe_orders()
        orders.sink.stop()
        events = [make_event() for _ in range(3)]
        await orders.log.append(events)
        await wait_until(lambda: retries(SUBSCRIPTION) >= 2, what="deliveries tried while the sink is down")

        # when
        orders.sink.start()

        # then
        assert await orders.delivered(3) == [event.id for event in events]
        assert await orders.log.dead_letters() == []

    async def test_a_failing_sink_gets_the_event_again_until_it_takes_it(
        self, subscribe_orders: SubscribeOrders, make_event: MakeEvent
    ) -> None:
        # given
        orders = await subscribe_orders()
        orders.sink.fail(503, times=3)
        event = make_event()

        # when
        await orders.log.append([event])

        # then
        await orders.delivered()
        assert [request.status for request in orders.sink.requests] == [503, 503, 503, 204]
        assert {request.id for request in orders.sink.requests} == {event.id}

    async def test_an_event_is_dead_lettered_after_the_last_attempt_and_the_next_one_delivered(
        self, subscribe_orders: SubscribeOrders, make_event: MakeEvent
    ) -> None:
        # given
        orders = await subscribe_orders(retry=RetryPolicy(attempts=3, initial=0.01, maximum=0.01))
        orders.sink.fail(500, times=3)
        refused, next_one = make_event(), make_event()

        # when
        await orders.log.append([refused, next_one])

        # then
        await orders.delivered()
        [letter] = await orders.log.dead_letters(SUBSCRIPTION)
        assert (letter.event, letter.attempts, letter.sequence) == (refused, 3, 1)
        assert letter.reason == "500 Internal Server Error"
        assert [request.id for request in orders.sink.requests] == [refused.id] * 3 + [next_one.id]


class TestSubscriptionLifetime:
    async def test_a_subscription_listed_at_start_gets_an_event_stored_right_after_start(
        self,
        event_log: SqliteLog,
        event_sink: RecordingSink,
        write_subscription: WriteSubscription,
        start_delivery: StartDelivery,
        make_event: MakeEvent,
    ) -> None:
        # given: no worker has run yet when the event is stored
        write_subscription("orders", event_sink.url, ["order.created.v1"])
        await start_delivery()

        # when
        event = make_event()
        await event_log.append([event])

        # then
        await wait_until(lambda: event_sink.delivered, what="the delivery")
        assert [received.header("ce-id") for received in event_sink.delivered] == [event.id]

    async def test_a_subscription_added_later_gets_only_later_events(
        self,
        event_log: SqliteLog,
        event_sink: RecordingSink,
        write_subscription: WriteSubscription,
        start_delivery: StartDelivery,
        make_event: MakeEvent,
    ) -> None:
        # given
        await start_delivery()
        await event_log.append([make_event()])
        write_subscription("orders", event_sink.url, ["order.created.v1"])
        await subscribed(event_log)
        later = make_event()

        # when
        await event_log.append([later])

        # then
        await wait_until(lambda: event_sink.delivered, what="the delivery")
        assert event_sink.delivered_ids() == [later.id]

    async def test_a_removed_subscription_stops_receiving(
        self,
        event_log: SqliteLog,
        event_sink: RecordingSink,
        write_subscription: WriteSubscription,
        start_delivery: StartDelivery,
        make_event: MakeEvent,
    ) -> None:
        # given
        path = write_subscription("orders", event_sink.url, ["order.created.v1"])
        write_subscription("audit", event_sink.url, ["order.created.v1"])
        delivery = await start_delivery()
        await subscribed(event_log)
        await subscribed(event_log, "default/audit")

        # when
        path.unlink()
        await wait_until(lambda: delivery.subscriptions_running == ["default/audit"], what="orders stopping")
        await event_log.append([make_event()])

        # then: audit got it; orders, which would have been first in line, did not
        await wait_until(lambda: event_sink.delivered, what="audit's delivery")
        await wait_until(lambda: event_log.cursor("default/audit"), what="audit's cursor")
        assert len(event_sink.requests) == 1

    async def test_a_restart_resumes_from_the_cursor_without_loss(
        self,
        tmp_path: Path,
        event_sink: RecordingSink,
        write_subscription: WriteSubscription,
        start_delivery: StartDelivery,
        make_event: MakeEvent,
    ) -> None:
        # given: one event delivered, then the log and the delivery stopped; two events stored meanwhile
        path = tmp_path / "restart.sqlite"
        write_subscription("orders", event_sink.url, ["order.created.v1"])
        first_log = SqliteLog(path)
        await first_log.start()
        delivery = await start_delivery(log=first_log)
        await subscribed(first_log)
        first = make_event()
        [sequence] = await first_log.append([first])
        await wait_until(lambda: _cursor_is(first_log, sequence), what="the first delivery's cursor")
        await delivery.stop()
        missed = [make_event(), make_event()]
        await first_log.append(missed)
        await first_log.stop()

        # when
        second_log = SqliteLog(path)
        await second_log.start()
        try:
            await start_delivery(log=second_log)
            await wait_until(lambda: len(event_sink.delivered) == 3, what="the missed deliveries")
        finally:
            await second_log.stop()

        # then
        assert event_sink.delivered_ids() == [first.id] + [event.id for event in missed]


class TestCompaction:
    async def test_events_every_subscription_is_past_are_deleted(
        self, subscribe_orders: SubscribeOrders, make_event: MakeEvent
    ) -> None:
        # given
        orders = await subscribe_orders()

        # when
        await orders.log.append([make_event(), make_event("order.deleted.v1")])

        # then
        async def emptied() -> bool:
            return await orders.log.read(0, 10) == []

        await wait_until(emptied, what="the log's compaction")
        assert len(orders.sink.delivered) == 1
        assert await orders.log.head() == 2

    async def test_nothing_is_deleted_that_a_subscription_has_not_had(
        self, subscribe_orders: SubscribeOrders, make_event: MakeEvent
    ) -> None:
        # given: the sink refusing everything, so the subscription waits on its first event
        orders = await subscribe_orders()
        orders.sink.fail(500)

        # when
        await orders.log.append([make_event(), make_event()])
        await wait_until(lambda: retries(SUBSCRIPTION) >= 3, what="retries")

        # then
        assert [stored.sequence for stored in await orders.log.read(0, 10)] == [1, 2]
        assert orders.delivery.subscriptions_running == [SUBSCRIPTION]


async def _cursor_is(event_log: SqliteLog, sequence: int) -> bool:
    return await event_log.cursor(SUBSCRIPTION) == sequence
