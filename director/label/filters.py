"""Compass label filter queries: ``$[*] ? (@ == "A" || @ == "B")`` on arrays, a JSON literal otherwise."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kernel.errors import InvalidInputError
from kernel.json_values import strict_loads, unstorable

_ARRAY_QUERY = re.compile(r"^\$\[\*\]\s*\?\s*\((?P<body>.*)\)$", re.DOTALL)
_SCALAR_QUERY = re.compile(r"^\$\s*\?\s*\((?P<body>.*)\)$", re.DOTALL)
# One "@ == VALUE" and what follows it: "||" before the next one, or the end. Matched from left to right, so a
# string value may hold "||" or ")".
_COMPARISON = re.compile(
    r'\s*@\s*==\s*(?P<value>"(?:[^"\\]|\\.)*"|[-+0-9.eE]+|true|false|null)\s*(?P<next>\|\||\Z)', re.DOTALL
)


def _json(text: str) -> Any:
    """A JSON value both databases can compare: what ``strict_loads`` refuses raises ValueError, the rest of what
    ``unstorable`` names (a NUL or lone surrogate PostgreSQL cannot take as a parameter) InvalidInputError."""
    value = strict_loads(text)
    if reason := unstorable(value, "label filter value"):
        raise InvalidInputError(reason)
    return value


@dataclass(frozen=True)
class LabelCondition:
    """What a label must hold: any value (``query`` omitted), one of ``any_of`` in an array, or ``equals``."""

    key: str
    any_of: tuple[Any, ...] | None = None
    equals: Any = None
    has_equals: bool = False


def _comparisons(body: str) -> tuple[Any, ...]:
    values = []
    position = 0
    while True:
        match = _COMPARISON.match(body, position)
        if match is None:
            part = body[position:].strip()
            raise InvalidInputError(f"label filter query part {part!r} is not of the form @ == VALUE")
        try:
            values.append(_json(match.group("value")))
        except ValueError:
            value = match.group("value")
            raise InvalidInputError(f"label filter value {value!r} is not a JSON value") from None
        if not match.group("next"):
            return tuple(values)
        position = match.end()


def parse_label_filter(key: str, query: str | None) -> LabelCondition:
    if query is None or not query.strip():
        return LabelCondition(key=key)
    text = query.strip()
    if match := _ARRAY_QUERY.match(text):
        return LabelCondition(key=key, any_of=_comparisons(match.group("body")))
    if match := _SCALAR_QUERY.match(text):
        values = _comparisons(match.group("body"))
        if len(values) != 1:
            raise InvalidInputError("a label filter on a single value compares with exactly one value")
        return LabelCondition(key=key, equals=values[0], has_equals=True)
    try:
        return LabelCondition(key=key, equals=_json(text), has_equals=True)
    except ValueError:
        raise InvalidInputError(
            f'label filter query {query!r} is neither $[*] ? (@ == "VALUE") nor a JSON value'
        ) from None
