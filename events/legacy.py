"""Kyma's legacy events (``POST /<app>/v1/events``, DATAPLANE.md C.1): the JSON body checked in Kyma's order, each
refusal with Kyma's body, and the event converted to a CloudEvent.

Where the Go decoder's wording cannot be matched, ``moreInfo`` carries Python's; and a body with anything after
its JSON value, or a field of the wrong JSON type, is refused as bad payload syntax (Go ignores the former and
refuses the latter the same way).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from dataplane.catalog.model import Application
from events.model import Event
from events.types import EventTypeError, is_rfc3339, legacy_type
from events.validator import Refusal, json_body

CONTENT_TYPE = b"application/json"
TYPE_VERSION_EXTENSION = "eventtypeversion"

_VERSION = re.compile(r"[a-zA-Z0-9]+")  # unanchored, as Kyma's: "v1-beta" passes
_EVENT_ID = re.compile(r"[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}")
_BAD_PAYLOAD = "Bad payload syntax"
_TEXT_FIELDS = ("event-type", "event-type-version", "event-time", "event-id")


def _json(status: int, document: dict[str, Any]) -> Refusal:
    return Refusal(status, json_body(document), CONTENT_TYPE)


def bad_payload(more_info: str) -> Refusal:
    return _json(
        400, {"status": 400, "type": "bad_payload_syntax", "message": _BAD_PAYLOAD, "moreInfo": more_info}
    )


def too_large() -> Refusal:
    return _json(
        413,
        {
            "status": 413,
            "type": "request_body_too_large",
            "message": "Request body too large",
            "moreInfo": "http: request body too large",
        },
    )


def unavailable(status: int, message: str) -> Refusal:
    """The store failed: Kyma's backend-failure body."""
    return _json(status, {"status": status, "message": message})


def _violation(field: str, kind: str) -> Refusal:
    message = "Missing field" if kind == "missing_field" else "Invalid field"
    detail = {"field": field, "type": kind, "message": message}
    return _json(
        400, {"status": 400, "type": "validation_violation", "message": message, "details": [detail]}
    )


def missing(field: str) -> Refusal:
    return _violation(field, "missing_field")


def invalid(field: str) -> Refusal:
    return _violation(field, "invalid_field")


def accepted(event_id: str) -> bytes:
    """What ``json_body`` makes of the answer, without encoding JSON per event: the id is a UUID (``parse``
    checked or made it), which needs no escaping."""
    return b'{"event-id":"%s","status":"","reason":""}\n' % event_id.encode("ascii")


def parse(body: bytes, application: Application, prefix: str) -> Event:
    """The event the body describes, sent by ``application``.

    Raises:
        Refusal: the first check that failed, in Kyma's order, with Kyma's body.
    """
    request = _decode(body)
    event_type, version, time, event_id = (request.get(name) or "" for name in _TEXT_FIELDS)
    if not event_type:
        raise missing("event-type")
    if not version:
        raise missing("event-type-version")
    if _VERSION.search(version) is None:
        raise invalid("event-type-version")
    if not time:
        raise missing("event-time")
    if not is_rfc3339(time):
        raise invalid("event-time")
    if event_id and _EVENT_ID.fullmatch(event_id) is None:
        raise invalid("event-id")
    data = request.get("data")
    if data is None or data == "":
        raise missing("data")
    try:
        final_type = legacy_type(prefix, application, event_type, version)
    except EventTypeError as exc:
        raise bad_payload(str(exc)) from None
    return Event(
        id=event_id or str(uuid.uuid4()),
        source=application.name,
        type=final_type,
        time=time,
        datacontenttype="application/json",
        extensions={TYPE_VERSION_EXTENSION: version},
        data=json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(),
    )


def _decode(body: bytes) -> dict[str, Any]:
    if not body:
        raise bad_payload(_BAD_PAYLOAD)
    try:
        request = json.loads(body, parse_constant=_refuse_constant)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN and Infinity
        raise bad_payload(str(exc)) from None
    if not isinstance(request, dict):
        raise bad_payload("the body is not a JSON object")
    for name in _TEXT_FIELDS:
        if not isinstance(request.get(name, ""), str | None):
            raise bad_payload(f"{name} is not a string")
    return request


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
