"""JSON schemas written by operators (label definitions, bundles' instance auth input), checked safely.

Patterns (``pattern``, ``patternProperties``) run on RE2, as Compass's Go validator runs them: matching takes
time linear in the input, so a schema like ``{"pattern": "^(a+)+$"}`` cannot stall the server on a long label
value, as it would with Python's backtracking ``re``. What RE2 does not have (backreferences, lookaround) is
refused when the schema is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import jsonschema
import re2
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.exceptions import Unresolvable

from compass.errors import InvalidInputError

# Without a registry jsonschema fetches any remote "$ref" over HTTP while validating, on behalf of whoever
# wrote the schema; an empty registry resolves only refs inside the schema itself.
_NO_RETRIEVAL: Registry[Any] = Registry()
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the writer's error, answered as such, not a log line


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> Any:
    return re2.compile(pattern, _RE2_OPTIONS)


def _matches(pattern: str, text: str) -> bool:
    return _regex(pattern).search(text) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _matches(pattern, instance):
        shown = instance if len(instance) <= 64 else instance[:64] + "..."
        yield ValidationError(f"{shown!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _matches(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    extras = sorted(
        key for key in instance if key not in properties and not any(_matches(pattern, key) for pattern in patterns)
    )
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        yield ValidationError(f"additional properties are not allowed ({', '.join(map(repr, extras))} unexpected)")


_Validator = jsonschema.validators.extend(
    jsonschema.Draft7Validator,
    {"pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties},
)


def _subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    """Every object of the schema that is a schema, not data (enum values, defaults...)."""
    if isinstance(schema, list):
        for item in schema:
            yield from _subschemas(item)
    elif isinstance(schema, dict):
        yield schema
        for key, item in schema.items():
            if key not in _DATA_KEYWORDS:
                yield from _subschemas(item)


def _remote_refs(schema: Any) -> list[str]:
    refs = (part.get("$ref") for part in _subschemas(schema))
    return [ref for ref in refs if isinstance(ref, str) and not ref.startswith("#")]


def _patterns(schema: Any) -> Iterator[str]:
    for part in _subschemas(schema):
        if isinstance(part.get("pattern"), str):
            yield part["pattern"]
        if isinstance(part.get("patternProperties"), dict):
            yield from part["patternProperties"]


def check_schema(schema: Any, field: str = "schema") -> None:
    try:
        jsonschema.Draft7Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise InvalidInputError(f"{field} is not a valid JSON schema: {error.message}") from None
    if refs := _remote_refs(schema):
        raise InvalidInputError(f"{field} may only refer to itself ($ref starting with #), not {refs[0]!r}")
    for pattern in _patterns(schema):
        try:
            _regex(pattern)
        except re2.error as error:
            reason = error.args[0].decode(errors="replace") if error.args and isinstance(error.args[0], bytes) else error
            raise InvalidInputError(
                f"{field} has a pattern RE2 cannot run (no backreferences or lookaround): {pattern!r}: {reason}"
            ) from None


def violation(schema: Any, value: Any, what: str) -> str | None:
    """The first way ``value`` breaks ``schema``, or None; ``what`` names the schema in errors."""
    try:
        error = jsonschema.exceptions.best_match(
            _Validator(schema, registry=_NO_RETRIEVAL).iter_errors(value)
        )
    except Unresolvable as unresolvable:
        raise InvalidInputError(f"{what} has a reference that cannot be resolved: {unresolvable}") from None
    return error.message if error is not None else None
