"""CloudEvents 1.0, ``POST /<app>/v2/events`` and ``/<app>/events`` (DATAPLANE.md C.2): structured and binary
mode, 204 on success, 400 with a plain-text message otherwise, and, beyond Kyma, a source that must name the
certificate's application (403)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.cloud import names_application
from testing.applications import application
from tests.events.support import Harness

STRUCTURED = "application/cloudevents+json"
PATHS = ("/shop/v2/events", "/shop/events")
EVENT = {
    "specversion": "1.0",
    "id": "A234-1234-1234",
    "source": "/shop",
    "type": "order.created.v1",
    "time": "2026-01-01T10:00:00Z",
    "data": {"order": 42},
}
BINARY = {
    "ce-specversion": "1.0",
    "ce-id": "A234-1234-1234",
    "ce-source": "/shop",
    "ce-type": "order.created.v1",
    "content-type": "application/json",
}


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    built = Harness.create(tmp_path)
    built.manifests.put(application("shop"))
    return built


async def structured(
    harness: Harness, event: Any, path: str = "/shop/events", **headers: str
) -> httpx.Response:
    async with harness.client("shop") as client:
        return await client.post(
            path, content=json.dumps(event), headers={"content-type": STRUCTURED, **headers}
        )


async def binary(harness: Harness, body: bytes, path: str = "/shop/events", **headers: str) -> httpx.Response:
    async with harness.client("shop") as client:
        return await client.post(path, content=body, headers={**BINARY, **headers})


def refused(answer: httpx.Response) -> str:
    """The 400's plain-text message."""
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


# -- structured mode


@pytest.mark.parametrize("path", PATHS)
async def test_a_structured_event_is_accepted_with_204(harness: Harness, path: str) -> None:
    answer = await structured(harness, EVENT, path)

    assert answer.status_code == 204
    assert answer.content == b""


async def test_a_structured_event_is_stored_with_its_attributes(harness: Harness) -> None:
    await structured(
        harness, {**EVENT, "subject": "order-42", "dataschema": "https://schema", "tenant": "t1"}
    )

    [event] = harness.log.events
    assert (event.id, event.source, event.time) == ("A234-1234-1234", "/shop", "2026-01-01T10:00:00Z")
    assert event.type == "sap.kyma.custom.shop.order.created.v1"
    assert (event.subject, event.dataschema) == ("order-42", "https://schema")
    assert dict(event.extensions) == {"tenant": "t1"}
    assert json.loads(event.data) == {"order": 42}
    assert event.datacontenttype == "application/json"


async def test_a_structured_event_without_time_is_stored_without_one(harness: Harness) -> None:
    await structured(harness, {key: value for key, value in EVENT.items() if key != "time"})

    assert harness.log.events[0].time is None


async def test_structured_text_data_is_stored_as_its_text(harness: Harness) -> None:
    await structured(harness, {**EVENT, "datacontenttype": "text/plain", "data": "hello"})

    assert harness.log.events[0].data == b"hello"


async def test_structured_base64_data_is_stored_decoded(harness: Harness) -> None:
    event = {key: value for key, value in EVENT.items() if key != "data"}
    raw = bytes(range(256))

    await structured(
        harness,
        {
            **event,
            "datacontenttype": "application/octet-stream",
            "data_base64": base64.b64encode(raw).decode(),
        },
    )

    assert harness.log.events[0].data == raw


async def test_extension_values_are_stored_as_strings(harness: Harness) -> None:
    await structured(harness, {**EVENT, "retries": 3, "urgent": True, "absent": None})

    assert dict(harness.log.events[0].extensions) == {"retries": "3", "urgent": "true"}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        pytest.param({**EVENT, "id": ""}, "missing required attribute: id", id="empty-id"),
        pytest.param({**EVENT, "source": 5}, "source must be a string", id="source-not-text"),
        pytest.param(
            {**EVENT, "specversion": "0.3"}, "specversion must be 1.0, not '0.3'", id="old-specversion"
        ),
        pytest.param({**EVENT, "time": "today"}, "time is not an RFC 3339 timestamp: 'today'", id="bad-time"),
        pytest.param(
            {**EVENT, "nested": {"a": 1}},
            "extension nested must be a string, a boolean or an integer",
            id="object-extension",
        ),
        pytest.param(
            {**EVENT, "type": "order..created"},
            "event type cannot have empty segments after cleaning: sap.kyma.custom.shop.order..created",
            id="empty-type-segment",
        ),
        pytest.param(
            {**EVENT, "datacontenttype": "text/plain\r\nX-Injected: 1"},
            "datacontenttype is not a media type: it holds a control character",
            id="content-type-with-a-line-break",
        ),
    ],
)
async def test_an_invalid_structured_event_is_400_with_a_message(
    harness: Harness, event: dict[str, Any], message: str
) -> None:
    answer = await structured(harness, event)

    assert refused(answer) == message
    assert harness.log.events == []


@pytest.mark.parametrize("attribute", ["id", "source", "type", "specversion"])
async def test_a_structured_event_without_a_required_attribute_is_400(
    harness: Harness, attribute: str
) -> None:
    answer = await structured(harness, {key: value for key, value in EVENT.items() if key != attribute})

    assert attribute in refused(answer)


@pytest.mark.parametrize("content", [b"{", b"[]", b"\xff", b""])
async def test_a_structured_body_that_is_no_json_object_is_400(harness: Harness, content: bytes) -> None:
    async with harness.client("shop") as client:
        answer = await client.post("/shop/events", content=content, headers={"content-type": STRUCTURED})

    assert refused(answer)


async def test_a_batch_is_refused(harness: Harness) -> None:
    async with harness.client("shop") as client:
        answer = await client.post(
            "/shop/events", json=[EVENT], headers={"content-type": "application/cloudevents-batch+json"}
        )

    assert refused(answer) == "batched CloudEvents are not supported: send one event per request"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(
            ["specversion", "id", "source", "type", "time", "data", "data_base64", "datacontenttype", "x"]
        ),
        st.one_of(
            st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.lists(st.integers(), max_size=2)
        ),
    )
)
async def test_any_structured_json_object_is_accepted_or_refused_never_crashes(
    harness: Harness, event: dict[str, Any]
) -> None:
    answer = await structured(harness, event)

    assert answer.status_code in {204, 400, 403}


# -- binary mode


@pytest.mark.parametrize("path", PATHS)
async def test_a_binary_event_is_accepted_with_204(harness: Harness, path: str) -> None:
    answer = await binary(harness, b'{"order":42}', path)

    assert answer.status_code == 204


async def test_a_binary_event_keeps_its_body_and_content_type_as_sent(harness: Harness) -> None:
    await binary(
        harness, b"<order id='42'/>", **{"content-type": "application/xml", "ce-time": "2026-01-01T10:00:00Z"}
    )

    [event] = harness.log.events
    assert (event.data, event.datacontenttype, event.time) == (
        b"<order id='42'/>",
        "application/xml",
        "2026-01-01T10:00:00Z",
    )
    assert event.type == "sap.kyma.custom.shop.order.created.v1"


async def test_binary_extension_headers_become_extensions(harness: Harness) -> None:
    await binary(harness, b"{}", **{"ce-eventtypeversion": "v1", "ce-traceparent": "00-abc"})

    assert dict(harness.log.events[0].extensions) == {"eventtypeversion": "v1", "traceparent": "00-abc"}


async def test_a_binary_event_without_a_body_has_empty_data(harness: Harness) -> None:
    await binary(harness, b"")

    assert harness.log.events[0].data == b""


async def test_a_binary_event_without_required_headers_names_them(harness: Harness) -> None:
    async with harness.client("shop") as client:
        answer = await client.post(
            "/shop/events", content=b"{}", headers={"ce-specversion": "1.0", "ce-type": "a.b"}
        )

    assert refused(answer) == "missing required attributes: id, source"


async def test_a_binary_event_of_another_specversion_is_400(harness: Harness) -> None:
    answer = await binary(harness, b"{}", **{"ce-specversion": "0.3"})

    assert refused(answer) == "specversion must be 1.0, not '0.3'"


async def test_a_binary_extension_with_a_name_beyond_lower_case_letters_and_digits_is_400(
    harness: Harness,
) -> None:
    answer = await binary(harness, b"{}", **{"ce-trace-id": "1"})

    assert "trace-id" in refused(answer)


async def test_a_body_that_is_no_cloudevent_says_what_to_send(harness: Harness) -> None:
    async with harness.client("shop") as client:
        answer = await client.post("/shop/events", json=EVENT)

    assert refused(answer).startswith("not a CloudEvent")


# -- type naming


async def test_a_type_that_already_starts_with_the_prefix_is_only_cleaned(harness: Harness) -> None:
    await structured(harness, {**EVENT, "type": "sap.kyma.custom.shop.order.cre ated.v1"})

    assert harness.log.events[0].type == "sap.kyma.custom.shop.order.created.v1"


# -- the source names the application


@pytest.mark.parametrize("source", ["shop", "/shop", "/default/shop", "https://example.com/apps/shop"])
async def test_a_source_naming_the_application_is_accepted(harness: Harness, source: str) -> None:
    answer = await structured(harness, {**EVENT, "source": source})

    assert answer.status_code == 204
    assert harness.log.events[0].source == source


@pytest.mark.parametrize("source", ["/crm", "shop2", "/shop/", "/shop/orders", "myshop", "crm/shop-x"])
async def test_a_source_naming_another_application_is_403(harness: Harness, source: str) -> None:
    answer = await structured(harness, {**EVENT, "source": source})

    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/json;charset=UTF-8"
    assert answer.json() == {
        "code": 403,
        "error": f"the event source '{source}' is not the application 'shop'",
    }
    assert harness.log.events == []


async def test_a_prefixed_type_naming_another_application_is_403(harness: Harness) -> None:
    answer = await structured(harness, {**EVENT, "type": "sap.kyma.custom.crm.order.created.v1"})

    assert answer.status_code == 403
    assert answer.json() == {
        "code": 403,
        "error": "the event type 'sap.kyma.custom.crm.order.created.v1' names the application 'crm', not 'shop'",
    }
    assert harness.log.events == []


async def test_a_binary_source_naming_another_application_is_403(harness: Harness) -> None:
    answer = await binary(harness, b"{}", **{"ce-source": "/crm"})

    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("source", "expected"), [("shop", True), ("a/shop", True), ("", False), ("/", False)]
)
def test_names_application(source: str, expected: bool) -> None:
    assert names_application(source, "shop") is expected


# -- limits and the store


async def test_a_body_over_the_limit_is_413_in_plain_text(tmp_path: Path) -> None:
    # given
    harness = Harness.create(tmp_path, EVENTS_MAX_BODY=100)
    harness.manifests.put(application("shop"))

    # when
    answer = await binary(harness, b"x" * 101)

    # then
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text == "http: request body too large"


async def test_the_store_being_down_is_503_without_a_body(harness: Harness) -> None:
    harness.log.unavailable = True

    answer = await structured(harness, EVENT)

    assert answer.status_code == 503
    assert answer.content == b""
