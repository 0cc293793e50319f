"""JSON schemas written by operators (label definitions, bundles' instance auth input), checked safely."""

from __future__ import annotations

from typing import Any

import jsonschema
from referencing import Registry
from referencing.exceptions import Unresolvable

from compass.errors import InvalidInputError

# Without a registry jsonschema fetches any remote "$ref" over HTTP while validating, on behalf of whoever
# wrote the schema; an empty registry resolves only refs inside the schema itself.
_NO_RETRIEVAL: Registry[Any] = Registry()
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})


def _remote_refs(schema: Any) -> list[str]:
    if isinstance(schema, list):
        return [ref for item in schema for ref in _remote_refs(item)]
    if not isinstance(schema, dict):
        return []
    ref = schema.get("$ref")
    refs = [ref] if isinstance(ref, str) and not ref.startswith("#") else []
    nested = [item for key, item in schema.items() if key not in _DATA_KEYWORDS]
    return refs + [found for item in nested for found in _remote_refs(item)]


def check_schema(schema: Any, field: str = "schema") -> None:
    try:
        jsonschema.Draft7Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise InvalidInputError(f"{field} is not a valid JSON schema: {error.message}") from None
    if refs := _remote_refs(schema):
        raise InvalidInputError(f"{field} may only refer to itself ($ref starting with #), not {refs[0]!r}")


def violation(schema: Any, value: Any, what: str) -> str | None:
    """The first way ``value`` breaks ``schema``, or None; ``what`` names the schema in errors."""
    try:
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft7Validator(schema, registry=_NO_RETRIEVAL).iter_errors(value)
        )
    except Unresolvable as unresolvable:
        raise InvalidInputError(f"{what} has a reference that cannot be resolved: {unresolvable}") from None
    return error.message if error is not None else None
