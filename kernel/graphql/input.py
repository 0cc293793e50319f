"""Input both APIs refuse wherever it appears: values that a database or a JSON reader downstream cannot hold.

PostgreSQL's text and jsonb cannot hold NUL or a lone surrogate (it would fail the write with INTERNAL, while
SQLite stored it). NaN and ±Infinity are not JSON: Python writes them into answers anyway, and Go, browsers and jq
then fail to read the whole answer; a number past a double is ±Infinity to those same readers. A value nested
deeper than ``MAX_DEPTH`` would run out of recursion in the code that stores, validates or prints it.

Variables are walked once before execution (``RefuseUnstorableVariables``), literals of the document are checked
by a validation rule, so once per distinct document with the validation cache (``UnstorableLiteralRule``), and
strings that hold JSON decode through ``strict_loads`` and ``unstorable``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from graphql import (
    FloatValueNode,
    GraphQLError,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    StringValueNode,
)
from graphql.validation import ValidationContext, ValidationRule
from strawberry.extensions import SchemaExtension

from kernel.errors import InvalidInputError

MAX_DEPTH = 100
"""Levels of nested lists and objects a value may have; Compass's own inputs and label values need far fewer."""

_UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
_TOO_LARGE = "is a number larger than a double holds"

# A path to a value, kept as (parent path, key) links so that only a refused value's path is ever built.
_Path = tuple[Any, str | int] | str


def _path_text(path: _Path) -> str:
    parts: list[str | int] = []
    while isinstance(path, tuple):
        path, key = path
        parts.append(key)
    text = path
    for key in reversed(parts):
        text += f"[{key}]" if isinstance(key, int) else f".{key}"
    return text


def _number_problem(number: int | float) -> str | None:  # noqa: PYI041 - ints and floats get different checks
    if isinstance(number, float):
        return None if math.isfinite(number) else f"is {json.dumps(number)}, and JSON numbers must be finite"
    try:
        float(number)
    except OverflowError:
        return _TOO_LARGE
    return None


def _string_problem(text: str) -> str | None:
    found = _UNSTORABLE_CHARACTERS.search(text)
    if found is None:
        return None
    return "holds a NUL character" if found.group() == "\x00" else "holds a lone UTF-16 surrogate"


def unstorable(value: Any, name: str) -> str | None:
    """What in ``value`` (a decoded JSON value named ``name``) cannot be stored or answered, or None.

    Walks with its own stack: a deep value must not exhaust the recursion this check protects.
    """
    pending: list[tuple[Any, _Path, int]] = [(value, name, 0)]
    while pending:
        item, path, depth = pending.pop()
        reason: str | None = None
        if isinstance(item, str):
            reason = _string_problem(item)
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            reason = _number_problem(item)
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                return f"{_path_text(path)} is nested more than {MAX_DEPTH} levels deep"
            for key, child in item.items() if isinstance(item, dict) else enumerate(item):
                if isinstance(key, str) and (key_reason := _string_problem(key)):
                    return f"a key in {_path_text(path)} {key_reason}"
                pending.append((child, (path, key), depth + 1))
        if reason is not None:
            return f"{_path_text(path)} {reason}"
    return None


def _refuse_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _finite_number(parse: type[int | float]) -> Any:
    def parsed(text: str) -> int | float:
        number = parse(text)
        if reason := _number_problem(number):
            raise ValueError(f"{text[:20]} {reason}")
        return number

    return parsed


_parse_float = _finite_number(float)
_parse_int = _finite_number(int)


def strict_loads(text: str | bytes) -> Any:
    """JSON that every reader takes alike: NaN, Infinity and numbers past a double raise ValueError, as malformed
    JSON does (Python's decoder accepts the first two and turns the others into inf or a big integer)."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_parse_float, parse_int=_parse_int)


class RefuseUnstorableVariables(SchemaExtension):
    """Refuses an operation whose variables hold a value ``unstorable`` names, before anything runs or is stored."""

    def on_execute(self) -> Iterator[None]:
        for name, value in (self.execution_context.variables or {}).items():
            if reason := unstorable(value, f"${name}"):
                raise InvalidInputError(f"variable {reason}")
        yield


class UnstorableLiteralRule(ValidationRule):
    """The document's own values: strings with NUL, numbers past a double, lists and objects nested too deeply."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.depth = 0

    def _refuse(self, node: Any, reason: str) -> None:
        extensions = {"code": InvalidInputError.code}
        self.report_error(GraphQLError(f"a value in the document {reason}", node, extensions=extensions))

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if reason := _string_problem(node.value):
            self._refuse(node, reason)

    def enter_float_value(self, node: FloatValueNode, *_args: Any) -> None:
        self._check_number(node)

    def enter_int_value(self, node: IntValueNode, *_args: Any) -> None:
        self._check_number(node)

    def _check_number(self, node: FloatValueNode | IntValueNode) -> None:
        # float() rounds a decimal text correctly, of any length (int() refuses 4,300 digits and more)
        if math.isinf(float(node.value)):
            self._refuse(node, _TOO_LARGE)

    def enter_list_value(self, node: ListValueNode, *_args: Any) -> None:
        self._enter_nested(node)

    def leave_list_value(self, *_args: Any) -> None:
        self.depth -= 1

    def enter_object_value(self, node: ObjectValueNode, *_args: Any) -> None:
        self._enter_nested(node)

    def leave_object_value(self, *_args: Any) -> None:
        self.depth -= 1

    def _enter_nested(self, node: ListValueNode | ObjectValueNode) -> None:
        self.depth += 1
        if self.depth == MAX_DEPTH + 1:
            self._refuse(node, f"is nested more than {MAX_DEPTH} levels deep")
