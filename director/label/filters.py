"""Compass label filter queries: ``$[*] ? (@ == "A" || @ == "B")`` on arrays, a JSON literal otherwise."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from compass.errors import InvalidInputError

_ARRAY_QUERY = re.compile(r"^\$\[\*\]\s*\?\s*\((?P<body>.*)\)$", re.DOTALL)
_SCALAR_QUERY = re.compile(r"^\$\s*\?\s*\((?P<body>.*)\)$", re.DOTALL)
_COMPARISON = re.compile(r'^\s*@\s*==\s*(?P<value>"(?:[^"\\]|\\.)*"|[-+0-9.eE]+|true|false|null)\s*$')


@dataclass(frozen=True)
class LabelCondition:
    """What a label must hold: any value (``query`` omitted), one of ``any_of`` in an array, or ``equals``."""

    key: str
    any_of: tuple[Any, ...] | None = None
    equals: Any = None
    has_equals: bool = False


def _comparisons(body: str) -> tuple[Any, ...]:
    values = []
    for part in body.split("||"):
        match = _COMPARISON.match(part)
        if match is None:
            raise InvalidInputError(f"label filter query part {part.strip()!r} is not of the form @ == VALUE")
        values.append(json.loads(match.group("value")))
    return tuple(values)


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
        return LabelCondition(key=key, equals=json.loads(text), has_equals=True)
    except ValueError:
        raise InvalidInputError(
            f'label filter query {query!r} is neither $[*] ? (@ == "VALUE") nor a JSON value'
        ) from None
