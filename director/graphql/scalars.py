"""Compass's custom scalars, with the same names and wire forms; ``scalar_map`` goes into the schema config."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NewType, TypeVar

import strawberry
from strawberry.types.scalar import ScalarDefinition

from kernel.errors import InvalidInputError
from kernel.json_values import strict_loads, unstorable
from kernel.settings import Settings


def _serialize_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_timestamp(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
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
        decoded = strict_loads(value)
    except (ValueError, RecursionError):
        raise InvalidInputError("expected a string holding valid JSON (with finite numbers)") from None
    if reason := unstorable(decoded, "the JSON in the string"):
        raise InvalidInputError(reason)
    return value


def _check_label_size(value: Any, what: str, max_bytes: int) -> None:
    # Lone surrogates are refused before values reach a scalar; "surrogatepass" only keeps this from failing.
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(errors="surrogatepass"))
    if size > max_bytes:
        raise InvalidInputError(f"{what} is {size} bytes of JSON; label values may have at most {max_bytes}")


def _parse_labels(max_bytes: int) -> Callable[[Any], dict[str, Any]]:
    def parse(value: Any) -> dict[str, Any]:
        labels = _parse_json_object(value)
        for key, label_value in labels.items():
            _check_label_size(label_value, f"the value of label {key!r}", max_bytes)
        return labels

    return parse


def _parse_label_value(max_bytes: int) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        _check_label_size(value, "the label value", max_bytes)
        return value

    return parse


def _identity(value: Any) -> Any:
    return value


Timestamp = NewType("Timestamp", datetime)
PageCursor = NewType("PageCursor", str)
Labels = NewType("Labels", object)
AnyScalar = NewType("AnyScalar", object)
HttpHeaders = NewType("HttpHeaders", object)
QueryParams = NewType("QueryParams", object)
HttpHeadersSerialized = NewType("HttpHeadersSerialized", str)
QueryParamsSerialized = NewType("QueryParamsSerialized", str)
JSONString = NewType("JSONString", str)
JSONSchema = NewType("JSONSchema", str)
CLOB = NewType("CLOB", str)


def _json_object(name: str, description: str, parse: Callable[[Any], Any] = _parse_json_object) -> ScalarDefinition:
    return strawberry.scalar(name=name, description=description, serialize=_identity, parse_value=parse)


def _json_string(name: str, description: str) -> ScalarDefinition:
    return strawberry.scalar(name=name, description=description, serialize=str, parse_value=_parse_json_string)


def scalar_map(settings: Settings) -> dict[object, ScalarDefinition]:
    """The scalars of one schema; Labels and Any (as inputs only label values) check the label size cap."""
    return {
        Timestamp: strawberry.scalar(
            name="Timestamp",
            description="An RFC 3339 timestamp in UTC.",
            serialize=_serialize_timestamp,
            parse_value=_parse_timestamp,
        ),
        PageCursor: strawberry.scalar(
            name="PageCursor", description="An opaque page cursor.", serialize=str, parse_value=str
        ),
        Labels: _json_object(
            "Labels", "A JSON object of label keys to values.", _parse_labels(settings.max_label_value_bytes)
        ),
        AnyScalar: strawberry.scalar(
            name="Any",
            description="Any JSON value.",
            serialize=_identity,
            parse_value=_parse_label_value(settings.max_label_value_bytes),
        ),
        HttpHeaders: _json_object("HttpHeaders", "A JSON object of header names to lists of values."),
        QueryParams: _json_object("QueryParams", "A JSON object of query parameter names to lists of values."),
        HttpHeadersSerialized: _json_string("HttpHeadersSerialized", "HttpHeaders as a string of JSON."),
        QueryParamsSerialized: _json_string("QueryParamsSerialized", "QueryParams as a string of JSON."),
        JSONString: _json_string("JSON", "A string holding JSON."),
        JSONSchema: _json_string("JSONSchema", "A string holding a JSON schema."),
        CLOB: strawberry.scalar(name="CLOB", description="A large string.", serialize=str, parse_value=str),
    }


Plain = TypeVar("Plain")
Scalar = TypeVar("Scalar")


def maybe(scalar: Callable[[Plain], Scalar], value: Plain | None) -> Scalar | None:
    """A stored value, possibly null, as the scalar its field declares (the scalars are NewTypes of it)."""
    return None if value is None else scalar(value)
