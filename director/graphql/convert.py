"""Strawberry inputs into the services' own plain inputs: the one place the GraphQL layer translates arguments.

Services declare their inputs as dataclasses with the GraphQL inputs' field names (snake case); ``plain`` copies a
strawberry input into one, recursively, guided by the target's annotations, so no field list is written twice.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence
from enum import Enum
from typing import Any, TypeVar, Union

from strawberry.types.unset import UnsetType

T = TypeVar("T")

# get_type_hints evaluates the string annotations anew on every call: once per input class is enough.
_HINTS: dict[type[Any], dict[str, Any]] = {}


def _convert(value: Any, annotation: Any) -> Any:
    if value is None or isinstance(value, UnsetType):
        return None
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _convert(value, options[0]) if len(options) == 1 else value
    if origin in (list, tuple, Sequence):
        item = typing.get_args(annotation)[0]
        converted = [_convert(element, item) for element in value]
        return tuple(converted) if origin is tuple else converted
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return plain(value, annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum) and not isinstance(value, annotation):
        return annotation(value.value if isinstance(value, Enum) else value)
    return value


def plain(value: object, into: type[T]) -> T:
    """``value`` (a strawberry input) as an instance of the dataclass ``into``; unset fields become None."""
    hints = _HINTS.get(into)
    if hints is None:
        hints = _HINTS[into] = typing.get_type_hints(into)
    arguments = {
        field.name: _convert(getattr(value, field.name, None), hints[field.name])
        for field in dataclasses.fields(into)  # type: ignore[arg-type]
        if field.init
    }
    return into(**arguments)
