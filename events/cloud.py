"""CloudEvents 1.0 over HTTP (``POST /<app>/v2/events`` and ``/<app>/events``, DATAPLANE.md C.2): structured
mode (``Content-Type: application/cloudevents+json``) or binary mode (``ce-*`` headers, the body is the data),
read with the CloudEvents SDK; a refusal is 400 with a plain-text message, as Kyma's publisher answers.

Beyond Kyma, the event's ``source`` must name the application whose certificate sent it: the source is the
application's name itself (``shop``) or a URI reference whose last path segment is that name (``/shop``,
``/default/shop``, ``https://example.com/apps/shop``); anything else (``/shop/``, ``shop2``, ``/shop/orders``) is
refused with 403. The source is stored as sent.

The SDK's own event class is not used: it gives an event without ``time`` the time of reading, and the
subscriber would take that for the application's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from cloudevents.abstract import CloudEvent
from cloudevents.conversion import from_http
from cloudevents.exceptions import GenericException

from dataplane.catalog.model import Application
from events.model import Event
from events.types import EventTypeError, ForeignApplicationType, cloud_type, is_rfc3339
from events.validator import Refusal, kyma_error

CONTENT_TYPE = b"text/plain; charset=utf-8"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
REQUIRED = ("specversion", "id", "source", "type")

_OPTIONAL = ("time", "datacontenttype", "dataschema", "subject")
_EXTENSION_NAME = re.compile(r"[a-z0-9]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a header value may hold tabs, not these
_MESSAGE_LENGTH = 300  # the SDK quotes the whole body in some messages


class _Received(CloudEvent):
    """The attributes and the data exactly as the request carried them."""

    def __init__(self, attributes: Mapping[str, Any], data: Any) -> None:
        self._attributes = dict(attributes)
        self._data = data

    @classmethod
    def create(cls, attributes: Mapping[str, Any], data: Any | None) -> _Received:
        return cls(attributes, data)

    def _get_attributes(self) -> dict[str, Any]:
        return self._attributes

    def get_data(self) -> Any | None:
        return self._data


def bad_request(message: str) -> Refusal:
    if len(message) > _MESSAGE_LENGTH:
        message = message[:_MESSAGE_LENGTH] + "…"
    return Refusal(400, message.encode(), CONTENT_TYPE)


def too_large() -> Refusal:
    return Refusal(413, b"http: request body too large", CONTENT_TYPE)


def unavailable(status: int) -> Refusal:
    return Refusal(status, b"", CONTENT_TYPE)


def names_application(source: str, application: str) -> bool:
    return source == application or source.endswith("/" + application)


def parse(
    headers: Iterable[tuple[bytes, bytes]], body: bytes, application: Application, prefix: str
) -> Event:
    """The event the request carries, sent by ``application``.

    Raises:
        Refusal: 400 for anything that is no valid CloudEvent 1.0, 403 when its source or its prefixed type names another application.
    """
    fields = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in headers}
    media_type = fields.get("content-type", "").partition(";")[0].strip().lower()
    if media_type == BATCH:
        raise bad_request("batched CloudEvents are not supported: send one event per request")
    if media_type == STRUCTURED:
        # The SDK would read the ce-* headers instead of the body if all were there.
        fields = {"content-type": fields["content-type"]}
    else:
        if "ce-specversion" not in fields:
            raise bad_request(
                f"not a CloudEvent: send Content-Type {STRUCTURED} (structured mode), or the ce-specversion, "
                "ce-id, ce-source and ce-type headers (binary mode)"
            )
        absent = [name for name in REQUIRED if not fields.get(f"ce-{name}")]
        if absent:
            raise bad_request(f"missing required attributes: {', '.join(absent)}")
    try:
        received = from_http(_Received, fields, body, data_unmarshaller=_as_received)
    # The SDK's own errors, and what it lets through: text that is no UTF-8, an unhashable specversion.
    except (GenericException, ValueError, TypeError) as exc:
        raise bad_request(str(exc)) from None
    attributes = dict(received.get_attributes())
    required = {name: _text(attributes, name) or _missing(name) for name in REQUIRED}
    optional = {name: _text(attributes, name) for name in _OPTIONAL}
    if required["specversion"] != "1.0":
        raise bad_request(f"specversion must be 1.0, not {required['specversion']!r}")
    time = optional["time"]
    if time is not None and not is_rfc3339(time):
        raise bad_request(f"time is not an RFC 3339 timestamp: {time!r}")
    source = required["source"]
    event_type = _own_type(source, required["type"], application, prefix)
    content_type = optional["datacontenttype"]
    if content_type is not None and _CONTROL.search(content_type):
        # It becomes the Content-Type header of each delivery, where a line break would forge headers.
        raise bad_request("datacontenttype is not a media type: it holds a control character")
    data, content_type = _data(received.get_data(), content_type)
    return Event(
        id=required["id"],
        source=source,
        type=event_type,
        time=time,
        datacontenttype=content_type,
        dataschema=optional["dataschema"],
        subject=optional["subject"],
        extensions=_extensions(attributes),
        data=data,
    )


def _own_type(source: str, event_type: str, application: Application, prefix: str) -> str:
    """The stored type, once the source and a prefixed type are shown to name the sender's application (403)."""
    if not names_application(source, application.name):
        raise kyma_error(
            403, f"the event source '{source}' is not the application '{application.name}'", application.name
        )
    try:
        return cloud_type(prefix, application, event_type)
    except ForeignApplicationType as exc:
        raise kyma_error(403, str(exc), application.name) from None
    except EventTypeError as exc:
        raise bad_request(str(exc)) from None


def _as_received(data: Any) -> Any:
    """Binary mode: the body's bytes; structured: ``data_base64`` decoded (bytes), or ``data`` as JSON text."""
    return data


def _text(attributes: dict[str, Any], name: str) -> str | None:
    """A context attribute, taken out of ``attributes`` (what is left are the extensions)."""
    value = attributes.pop(name, None)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"{name} must be a string")
    return value


def _missing(name: str) -> str:
    raise bad_request(f"missing required attribute: {name}")


def _extensions(attributes: Mapping[str, Any]) -> dict[str, str]:
    extensions: dict[str, str] = {}
    for name, value in attributes.items():
        if value is None:  # JSON null: the attribute is absent
            continue
        if _EXTENSION_NAME.fullmatch(name) is None:
            raise bad_request(f"extension attribute names are lower-case letters and digits: {name!r}")
        if isinstance(value, bool):
            extensions[name] = "true" if value else "false"
        elif isinstance(value, str | int):
            extensions[name] = str(value)
        else:
            raise bad_request(f"extension {name} must be a string, a boolean or an integer")
    return extensions


def _data(data: Any, content_type: str | None) -> tuple[bytes, str | None]:
    """The data as bytes, and its content type: structured JSON data without one is ``application/json``."""
    if data is None:
        return b"", content_type
    if isinstance(data, bytes):
        return data, content_type
    # Structured mode's ``data`` member, which the SDK hands over as JSON text.
    value = json.loads(data)
    if isinstance(value, str) and not _is_json(content_type):
        return value.encode(), content_type
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return compact, content_type or "application/json"


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return True
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type in {"application/json", "text/json"} or media_type.endswith("+json")
