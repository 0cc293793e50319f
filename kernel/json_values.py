"""JSON values that a database or a JSON reader downstream cannot hold, found without GraphQL: the services that
decode JSON strings use these, and `kernel.graphql.input` applies them to every operation's input."""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 100
"""Levels of nested lists and objects a value may have; Compass's own inputs and label values need far fewer."""

_UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
TOO_LARGE = "is a number larger than a double holds"

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
        return TOO_LARGE
    return None


def string_problem(text: str) -> str | None:
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
            reason = string_problem(item)
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            reason = _number_problem(item)
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                return f"{_path_text(path)} is nested more than {MAX_DEPTH} levels deep"
            for key, child in item.items() if isinstance(item, dict) else enumerate(item):
                if isinstance(key, str) and (key_reason := string_problem(key)):
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
