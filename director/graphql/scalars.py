"""Compass's custom scalars, with the same names and wire forms."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, NewType

import strawberry

from compass.errors import InvalidInputError


def _serialize_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_timestamp(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{value!r} is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise InvalidInputError(f"{value!r} has no time zone")
    return parsed


def _parse_json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInputError("expected a JSON object")
    return value


def _parse_json_string(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInputError("expected a string holding JSON")
    try:
        json.loads(value)
    except ValueError:
        raise InvalidInputError("expected a string holding valid JSON") from None
    return value


def _identity(value: Any) -> Any:
    return value


Timestamp = strawberry.scalar(
    NewType("Timestamp", datetime),
    description="An RFC 3339 timestamp in UTC.",
    serialize=_serialize_timestamp,
    parse_value=_parse_timestamp,
)
PageCursor = strawberry.scalar(
    NewType("PageCursor", str), description="An opaque page cursor.", serialize=str, parse_value=str
)
Labels = strawberry.scalar(
    NewType("Labels", object),
    description="A JSON object of label keys to values.",
    serialize=_identity,
    parse_value=_parse_json_object,
)
AnyScalar = strawberry.scalar(
    NewType("Any", object), name="Any", description="Any JSON value.", serialize=_identity, parse_value=_identity
)
HttpHeaders = strawberry.scalar(
    NewType("HttpHeaders", object),
    description="A JSON object of header names to lists of values.",
    serialize=_identity,
    parse_value=_parse_json_object,
)
QueryParams = strawberry.scalar(
    NewType("QueryParams", object),
    description="A JSON object of query parameter names to lists of values.",
    serialize=_identity,
    parse_value=_parse_json_object,
)
HttpHeadersSerialized = strawberry.scalar(
    NewType("HttpHeadersSerialized", str),
    description="HttpHeaders as a string of JSON.",
    serialize=str,
    parse_value=_parse_json_string,
)
QueryParamsSerialized = strawberry.scalar(
    NewType("QueryParamsSerialized", str),
    description="QueryParams as a string of JSON.",
    serialize=str,
    parse_value=_parse_json_string,
)
JSONString = strawberry.scalar(
    NewType("JSON", str), name="JSON", description="A string holding JSON.", serialize=str, parse_value=_parse_json_string
)
JSONSchema = strawberry.scalar(
    NewType("JSONSchema", str),
    description="A string holding a JSON schema.",
    serialize=str,
    parse_value=_parse_json_string,
)
CLOB = strawberry.scalar(NewType("CLOB", str), description="A large string.", serialize=str, parse_value=str)
