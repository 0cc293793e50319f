"""The ingress as an ASGI app: its routes and methods, ``/v1/events/subscribed``, the body limit, the
acknowledgement only after the log stored the event, and the metrics' labels."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from dataplane.catalog.directory import DirectoryCatalog
from dataplane.catalog.model import Application
from events.ingress import Ingress, Message
from events.model import Event
from events.settings import EventsSettings
from testing.applications import application, event_entry, service
from tests.events.support import Harness, MemoryLog, WithClientCertificate, certificate

LEGACY_EVENT = {
    "event-type": "order.created",
    "event-type-version": "v1",
    "event-time": "2012-11-01T22:08:41+00:00",
    "data": {"id": 1},
}
CLOUD_HEADERS = {"ce-specversion": "1.0", "ce-id": "1", "ce-source": "shop", "ce-type": "order.created.v1"}


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    built = Harness.create(tmp_path)
    built.manifests.put(application("shop", service("Orders", event_entry("order.created.v1"))))
    return built


def shop_post(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """The ASGI scope of shop's POST to its legacy route, its own certificate presented, for a raw call."""
    return {
        "type": "http",
        "method": "POST",
        "path": "/shop/v1/events",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "extensions": {"tls": {"client_cert_chain": [certificate("shop")]}},
    }


def request_labels(application: str, kind: str, code: int) -> dict[str, str]:
    return {"application": application, "format": kind, "code": str(code)}


def requests_total(application: str, kind: str, code: int) -> float:
    return REGISTRY.get_sample_value("events_requests_total", request_labels(application, kind, code)) or 0.0


# -- routes


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/shop/v1/events", "POST"),
        ("PUT", "/shop/v2/events", "POST"),
        ("DELETE", "/shop/events", "POST"),
        ("POST", "/shop/v1/events/subscribed", "GET"),
    ],
)
async def test_another_method_is_405(harness: Harness, method: str, path: str, allowed: str) -> None:
    async with harness.client("shop") as client:
        answer = await client.request(method, path)

    assert answer.status_code == 405
    assert answer.json() == {"code": 405, "error": f"method {method} is not allowed here: use {allowed}"}


@pytest.mark.parametrize(
    "path", ["/shop/v1/events/other", "/shop/v2/events/x", "/shop/events/", "/shop/v1/events/"]
)
async def test_a_path_below_an_event_prefix_that_is_no_route_is_404(harness: Harness, path: str) -> None:
    async with harness.client("shop") as client:
        answer = await client.post(path, json=LEGACY_EVENT)

    assert answer.status_code == 404
    assert answer.json()["error"] == "could not determine destination host, requested resource not found"
    assert harness.log.events == []


async def test_a_query_string_does_not_change_the_route(harness: Harness) -> None:
    async with harness.client("shop") as client:
        answer = await client.post("/shop/v1/events?debug=1", json=LEGACY_EVENT)

    assert answer.status_code == 200


async def test_a_lifespan_scope_is_ignored(harness: Harness) -> None:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    await harness.ingress({"type": "lifespan"}, _never_called, send)

    assert sent == []


async def _never_called() -> dict[str, Any]:
    raise AssertionError("the ingress read a lifespan scope's messages")


# -- subscribed


async def test_subscribed_lists_the_applications_event_entries_by_default(harness: Harness) -> None:
    async with harness.client("shop") as client:
        answer = await client.get("/shop/v1/events/subscribed")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"eventsInfo": [{"name": "order.created.v1", "version": ""}]}


async def test_subscribed_answers_from_the_callable_it_was_given(tmp_path: Path) -> None:
    # given
    def subscribed(app: Application) -> Sequence[tuple[str, str]]:
        return [(f"{app.name}.order.created", "v1")]

    harness = Harness.create(tmp_path)
    harness.manifests.put(application("shop"))
    ingress = Ingress(DirectoryCatalog(tmp_path), MemoryLog(), EventsSettings(), subscribed=subscribed)
    transport = httpx.ASGITransport(app=WithClientCertificate(ingress, certificate("shop")))

    # when
    async with httpx.AsyncClient(transport=transport, base_url="https://events.test") as client:
        answer = await client.get("/shop/v1/events/subscribed")

    # then
    assert answer.json() == {"eventsInfo": [{"name": "shop.order.created", "version": "v1"}]}


async def test_subscribed_is_behind_the_validator(harness: Harness) -> None:
    async with harness.client("crm") as client:
        answer = await client.get("/shop/v1/events/subscribed")

    assert answer.status_code == 403


# -- the body limit


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(tmp_path: Path) -> None:
    # given
    harness = Harness.create(tmp_path, EVENTS_MAX_BODY=10)
    harness.manifests.put(application("shop"))

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = shop_post([(b"content-length", b"11")])

    # when
    await harness.ingress(scope, receive, send)

    # then
    assert sent[0]["status"] == 413


async def test_a_streamed_body_is_refused_once_it_passes_the_limit(tmp_path: Path) -> None:
    # given
    harness = Harness.create(tmp_path, EVENTS_MAX_BODY=1000)
    harness.manifests.put(application("shop"))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(11):
            yield b"x" * 100

    # when
    async with harness.client("shop") as client:
        answer = await client.post("/shop/events", content=chunks(), headers=CLOUD_HEADERS)

    # then
    assert answer.status_code == 413


async def test_a_body_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    harness = Harness.create(tmp_path, EVENTS_MAX_BODY=64)
    harness.manifests.put(application("shop"))

    async with harness.client("shop") as client:
        answer = await client.post("/shop/events", content=b"x" * 64, headers=CLOUD_HEADERS)

    assert answer.status_code == 204


async def test_a_client_that_disconnects_mid_body_gets_no_answer_and_stores_nothing(harness: Harness) -> None:
    messages: Iterator[Message] = iter(
        [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]
    )

    async def receive() -> Message:
        return next(messages)

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = shop_post([])
    await harness.ingress(scope, receive, send)

    assert sent == []
    assert harness.log.events == []


# -- acknowledged only once stored


class HeldLog(MemoryLog):
    """Keeps every append waiting until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def append(self, events: Sequence[Event]) -> list[int]:
        self.entered.set()
        await self.release.wait()
        return await super().append(events)


async def test_an_event_is_acknowledged_only_after_the_log_stored_it(tmp_path: Path) -> None:
    # given
    harness = Harness.create(tmp_path)
    harness.manifests.put(application("shop"))
    held = HeldLog()
    harness.ingress.log = held

    async with harness.client("shop") as client:
        # when
        sending = asyncio.create_task(client.post("/shop/v1/events", json=LEGACY_EVENT))
        await held.entered.wait()

        # then
        assert not sending.done()
        held.release.set()
        answer = await sending
    assert answer.status_code == 200
    assert held.events[0].id == answer.json()["event-id"]


# -- metrics


async def test_accepted_events_are_counted_by_application_and_format(harness: Harness) -> None:
    before = requests_total("shop", "legacy", 200), requests_total("shop", "cloudevents", 204)

    async with harness.client("shop") as client:
        await client.post("/shop/v1/events", json=LEGACY_EVENT)
        await client.post("/shop/events", content=b"{}", headers=CLOUD_HEADERS)

    assert (requests_total("shop", "legacy", 200), requests_total("shop", "cloudevents", 204)) == (
        before[0] + 1,
        before[1] + 1,
    )


async def test_stored_events_are_counted(harness: Harness) -> None:
    labels = {"application": "shop", "format": "legacy"}
    before = REGISTRY.get_sample_value("events_stored_total", labels) or 0.0

    async with harness.client("shop") as client:
        await client.post("/shop/v1/events", json=LEGACY_EVENT)

    assert REGISTRY.get_sample_value("events_stored_total", labels) == before + 1


async def test_refusals_label_only_applications_that_exist(harness: Harness) -> None:
    before = requests_total("", "legacy", 404), requests_total("shop", "legacy", 403)

    async with harness.client("intruder") as client:
        await client.post("/made-up-app/v1/events", json=LEGACY_EVENT)
        await client.post("/shop/v1/events", json=LEGACY_EVENT)

    assert (
        REGISTRY.get_sample_value("events_requests_total", request_labels("made-up-app", "legacy", 404))
        is None
    )
    assert (requests_total("", "legacy", 404), requests_total("shop", "legacy", 403)) == (
        before[0] + 1,
        before[1] + 1,
    )


async def test_a_validation_refusal_is_counted_with_its_code(harness: Harness) -> None:
    before = requests_total("shop", "legacy", 400)

    async with harness.client("shop") as client:
        await client.post("/shop/v1/events", content=json.dumps({**LEGACY_EVENT, "data": None}))

    assert requests_total("shop", "legacy", 400) == before + 1
