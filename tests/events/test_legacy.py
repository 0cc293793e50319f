"""Legacy events, ``POST /<app>/v1/events`` (DATAPLANE.md C.1): each check in Kyma's order with Kyma's exact body,
the conversion to a CloudEvent, and the ``{"event-id","status","reason"}`` answer."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from events.legacy import TYPE_VERSION_EXTENSION
from testing.applications import application
from tests.events.support import Harness

EVENT_ID = "31109198-4d69-4ae0-972d-76117f3748c8"
VALID = {
    "event-type": "order.created",
    "event-type-version": "v1",
    "event-id": EVENT_ID,
    "event-time": "2012-11-01T22:08:41+00:00",
    "data": {"order": 42, "lines": ["a", "b"]},
}
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def missing(field: str) -> dict[str, Any]:
    detail = {"field": field, "type": "missing_field", "message": "Missing field"}
    return {"status": 400, "type": "validation_violation", "message": "Missing field", "details": [detail]}


def invalid(field: str) -> dict[str, Any]:
    detail = {"field": field, "type": "invalid_field", "message": "Invalid field"}
    return {"status": 400, "type": "validation_violation", "message": "Invalid field", "details": [detail]}


def bad_payload(more_info: str) -> dict[str, Any]:
    return {
        "status": 400,
        "type": "bad_payload_syntax",
        "message": "Bad payload syntax",
        "moreInfo": more_info,
    }


def with_fields(**fields: Any) -> dict[str, Any]:
    """VALID with fields replaced; a field given as None is left out."""
    changed = {**VALID, **{name.replace("_", "-"): value for name, value in fields.items()}}
    return {name: value for name, value in changed.items() if value is not None}


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    built = Harness.create(tmp_path)
    built.manifests.put(application("shop"))
    return built


async def publish(harness: Harness, **options: Any) -> httpx.Response:
    async with harness.client("shop") as client:
        return await client.post("/shop/v1/events", **options)


def legacy_error(answer: httpx.Response) -> dict[str, Any]:
    assert answer.headers["content-type"] == "application/json"
    body: dict[str, Any] = answer.json()
    return body


# -- the answer and the conversion


async def test_a_valid_event_is_answered_with_its_id(harness: Harness) -> None:
    answer = await publish(harness, json=VALID)

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.content == b'{"event-id":"%s","status":"","reason":""}\n' % EVENT_ID.encode()


async def test_a_valid_event_is_stored_as_a_cloudevent(harness: Harness) -> None:
    await publish(harness, json=VALID)

    [event] = harness.log.events
    assert event.id == EVENT_ID
    assert event.source == "shop"
    assert event.type == "sap.kyma.custom.shop.order.created.v1"
    assert event.specversion == "1.0"
    assert event.time == "2012-11-01T22:08:41+00:00"
    assert event.datacontenttype == "application/json"
    assert dict(event.extensions) == {TYPE_VERSION_EXTENSION: "v1"}
    assert json.loads(event.data) == VALID["data"]


async def test_an_event_without_an_id_gets_a_new_uuid(harness: Harness) -> None:
    answer = await publish(harness, json=with_fields(event_id=None))

    event_id = answer.json()["event-id"]
    assert UUID4.fullmatch(event_id)
    assert harness.log.events[0].id == event_id


@pytest.mark.parametrize("data", ["some data", 0, False, [], {}])
async def test_any_json_data_but_null_and_the_empty_string_is_accepted(harness: Harness, data: Any) -> None:
    await publish(harness, json=with_fields(data=data))

    assert json.loads(harness.log.events[0].data) == data


async def test_fields_beyond_kymas_are_ignored(harness: Harness) -> None:
    answer = await publish(harness, json={**VALID, "extra": {"x": 1}})

    assert answer.status_code == 200


async def test_any_content_type_is_read_as_json(harness: Harness) -> None:
    answer = await publish(harness, content=json.dumps(VALID), headers={"content-type": "text/plain"})

    assert answer.status_code == 200


# -- refusals, in Kyma's order


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            with_fields(event_type="", event_type_version="", event_time=""),
            missing("event-type"),
            id="event-type-first",
        ),
        pytest.param(with_fields(event_type=None), missing("event-type"), id="event-type-absent"),
        pytest.param(with_fields(event_type=None, event_id="x"), missing("event-type"), id="before-event-id"),
        pytest.param(with_fields(event_type_version=""), missing("event-type-version"), id="version-empty"),
        pytest.param(
            with_fields(event_type_version="-.-", event_time=""),
            invalid("event-type-version"),
            id="version-invalid",
        ),
        pytest.param(with_fields(event_time=None), missing("event-time"), id="time-absent"),
        pytest.param(
            with_fields(event_time="yesterday", event_id="x"), invalid("event-time"), id="time-invalid"
        ),
        pytest.param(
            with_fields(event_time="2012-11-01 22:08:41Z"), invalid("event-time"), id="time-without-t"
        ),
        pytest.param(
            with_fields(event_time="2012-11-01T22:08:41"), invalid("event-time"), id="time-without-zone"
        ),
        pytest.param(
            with_fields(event_time="2012-02-30T22:08:41Z"), invalid("event-time"), id="time-out-of-range"
        ),
        pytest.param(
            with_fields(event_id="not-a-uuid", data=None), invalid("event-id"), id="event-id-invalid"
        ),
        pytest.param(
            with_fields(event_id=EVENT_ID + "\n"), invalid("event-id"), id="event-id-trailing-newline"
        ),
        pytest.param(with_fields(data=None), missing("data"), id="data-absent"),
        pytest.param(with_fields(data=""), missing("data"), id="data-empty-string"),
    ],
)
async def test_each_validation_error_has_kymas_body(
    harness: Harness, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    answer = await publish(harness, json=body)

    assert answer.status_code == 400
    assert legacy_error(answer) == expected
    assert harness.log.events == []


@pytest.mark.parametrize("version", ["v1", "1", "V2beta", "v1-beta"])
async def test_the_version_needs_only_one_letter_or_digit(harness: Harness, version: str) -> None:
    answer = await publish(harness, json=with_fields(event_type_version=version))

    assert answer.status_code == 200


@pytest.mark.parametrize("time", ["2012-11-01T22:08:41Z", "2012-11-01T22:08:41.123456789-07:00"])
async def test_rfc3339_times_with_a_zone_and_fractions_are_accepted(harness: Harness, time: str) -> None:
    answer = await publish(harness, json=with_fields(event_time=time))

    assert answer.status_code == 200


async def test_an_empty_body_is_bad_payload_syntax(harness: Harness) -> None:
    answer = await publish(harness, content=b"")

    assert answer.status_code == 400
    assert legacy_error(answer) == bad_payload("Bad payload syntax")


@pytest.mark.parametrize(
    "content",
    [
        b"{",
        b"not json",
        b"[1, 2]",
        b'"event"',
        b"null",
        b'{"event-type": 5}',
        b'{"data": NaN}',
        b"\xff\xfe{}",
    ],
)
async def test_a_body_that_is_no_json_object_is_bad_payload_syntax(harness: Harness, content: bytes) -> None:
    answer = await publish(harness, content=content)

    assert answer.status_code == 400
    body = legacy_error(answer)
    assert body["type"] == "bad_payload_syntax"
    assert body["moreInfo"]


async def test_a_body_over_the_limit_is_413_with_kymas_body(tmp_path: Path) -> None:
    # given
    harness = Harness.create(tmp_path, EVENTS_MAX_BODY=1024)
    harness.manifests.put(application("shop"))

    # when
    answer = await publish(harness, json=with_fields(data="x" * 1024))

    # then
    assert answer.status_code == 413
    assert legacy_error(answer) == {
        "status": 413,
        "type": "request_body_too_large",
        "message": "Request body too large",
        "moreInfo": "http: request body too large",
    }


async def test_an_event_type_with_an_empty_segment_is_bad_payload_syntax(harness: Harness) -> None:
    answer = await publish(harness, json=with_fields(event_type="order..created"))

    assert answer.status_code == 400
    assert legacy_error(answer) == bad_payload(
        "event type cannot have empty segments after cleaning: sap.kyma.custom.shop.order..created.v1"
    )


async def test_the_store_being_down_is_503_with_kymas_backend_body(harness: Harness) -> None:
    harness.log.unavailable = True

    answer = await publish(harness, json=VALID)

    assert answer.status_code == 503
    assert legacy_error(answer) == {"status": 503, "message": "the bus is down"}
