"""JSON schemas written by operators (label definitions, bundles' instance auth input), checked safely.

Patterns (``pattern``, ``patternProperties``) run on RE2, as Compass's Go validator runs them: matching takes
time linear in the input, so a schema like ``{"pattern": "^(a+)+$"}`` cannot stall the server on a long label
value, as it would with Python's backtracking ``re``. What RE2 does not have (backreferences, lookaround) is
refused when the schema is written.

``uniqueItems`` compares items by a hashable canonical form, in time linear in the array: jsonschema compares
objects pair by pair, on the event loop (2,000 objects held every tenant for 10 s, 6,000 for over a minute). A schema that applies itself to the very
value it checks (``{"$ref": "#"}``) would recurse without end: it is refused when written. Everything else is
bounded by ``VALIDATION_STEPS`` and runs in a worker thread, so a large value against a large schema neither
stalls the event loop for every tenant nor runs for as long as its writer likes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

import jsonschema
import re2
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT7

from kernel.errors import InvalidInputError
from kernel.offload import off_the_loop

if TYPE_CHECKING:
    from referencing._core import Resolver  # not exported; referencing's own modules import it from here

# Without a registry jsonschema fetches any remote "$ref" over HTTP while validating, on behalf of whoever
# wrote the schema; an empty registry resolves only refs inside the schema itself.
_NO_RETRIEVAL: Registry[Any] = Registry()
# Keywords that apply subschemas to the value their own schema applies to, rather than to a part of it.
_IN_PLACE_LISTS = ("allOf", "anyOf", "oneOf")
_IN_PLACE = ("not", "if", "then", "else")

VALIDATION_STEPS = 100_000
"""Keyword evaluations one check may take; more is refused as INVALID_INPUT. A label of 6,000 objects checked by a
schema of four keywords per item takes some 25,000 (0.1 s); 100,000 take 0.5 to 2 s of CPU, the most for keywords
that fail by the thousand under anyOf."""

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the writer's error, answered as such, not a log line


KEPT_PATTERN_CHARS = 1024
# How much of a string that does not match a refusal quotes.
_SHOWN_CHARS = 64
"""Longer patterns are compiled again at each use instead of kept: the cache's bound is then in bytes as well
(1,024 patterns of at most this length, each program within RE2's 8 MiB), not 1,024 patterns of a megabyte."""


@lru_cache(maxsize=1024)
def _kept_regex(pattern: str) -> Any:
    return re2.compile(pattern, _RE2_OPTIONS)


def _regex(pattern: str) -> Any:
    return _kept_regex(pattern) if len(pattern) <= KEPT_PATTERN_CHARS else re2.compile(pattern, _RE2_OPTIONS)


def _matches(pattern: str, text: str) -> bool:
    return _regex(pattern).search(text) is not None


# The keyword functions below keep jsonschema's signature (validator, value, instance, schema).
def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:  # noqa: ARG001
    if validator.is_type(instance, "string") and not _matches(pattern, instance):
        shown = instance if len(instance) <= _SHOWN_CHARS else instance[:_SHOWN_CHARS] + "..."
        yield ValidationError(f"{shown!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: Any) -> Iterator[ValidationError]:  # noqa: ARG001
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


def _canonical(value: Any) -> Any:
    """A hashable form equal for equal JSON values: 1 and 1.0 alike, true and 1 not, object keys in any order."""
    if isinstance(value, dict):
        return ("object", frozenset((key, _canonical(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("array", tuple(_canonical(item) for item in value))
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return ("number", value)
    return ("string", value)


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:  # noqa: ARG001
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[Any] = set()
    for index, item in enumerate(instance):
        key = _canonical(item)
        if key in seen:
            yield ValidationError(f"item {index} repeats an earlier item, and the items must be unique")
            return
        seen.add(key)


class _OverBudget(Exception):
    pass


@dataclass
class _Budget:
    steps_left: int = VALIDATION_STEPS

    def spend(self) -> None:
        self.steps_left -= 1
        if self.steps_left < 0:
            raise _OverBudget


_budget: ContextVar[_Budget] = ContextVar("json_schema_budget")


def _budgeted(keyword: Callable[..., Any]) -> Callable[..., Iterator[ValidationError]]:
    def check(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
        _budget.get().spend()
        yield from keyword(validator, value, instance, schema) or ()

    return check


_Validator = jsonschema.validators.extend(
    jsonschema.Draft7Validator,
    {
        keyword: _budgeted(check)
        for keyword, check in {
            **jsonschema.Draft7Validator.VALIDATORS,
            "pattern": _pattern,
            "patternProperties": _pattern_properties,
            "additionalProperties": _additional_properties,
            "uniqueItems": _unique_items,
        }.items()
    },
)


def _schema_objects(schema: Any) -> Iterator[tuple[dict[str, Any], Resolver[Any]]]:
    """Every object of the schema in a place jsonschema reads as a schema (not enum values, defaults, unknown
    keywords...), with the resolver its references resolve against there."""
    root = DRAFT7.create_resource(schema)
    pending = [(root, _NO_RETRIEVAL.resolver_with_root(root))]
    while pending:
        resource, resolver = pending.pop()
        resolver = resolver.in_subresource(resource)
        if isinstance(resource.contents, dict):
            yield resource.contents, resolver
        pending.extend((part, resolver) for part in resource.subresources())


def _remote_refs(schema: Any) -> list[str]:
    refs = (part.get("$ref") for part, _ in _schema_objects(schema))
    return [ref for ref in refs if isinstance(ref, str) and not ref.startswith("#")]


def _patterns(schema: Any) -> Iterator[str]:
    for part, _ in _schema_objects(schema):
        if isinstance(part.get("pattern"), str):
            yield part["pattern"]
        if isinstance(part.get("patternProperties"), dict):
            yield from part["patternProperties"]


def _applied_in_place(
    schema: dict[str, Any], resolver: Resolver[Any]
) -> Iterator[tuple[dict[str, Any], Resolver[Any]]]:
    """The schema objects Draft 7 applies to the very value ``schema`` is applied to."""
    if "$ref" in schema:  # Draft 7 ignores the keywords beside $ref
        try:
            resolved = resolver.lookup(schema["$ref"])
        except Unresolvable:
            return  # a dangling reference is refused when a value is checked through it
        if isinstance(resolved.contents, dict):
            yield resolved.contents, resolved.resolver
        return
    parts = [part for keyword in _IN_PLACE_LISTS if isinstance(schema.get(keyword), list) for part in schema[keyword]]
    parts += [schema[keyword] for keyword in _IN_PLACE if keyword in schema]
    if isinstance(schema.get("dependencies"), dict):
        parts += schema["dependencies"].values()
    for part in parts:
        if isinstance(part, dict):
            yield part, resolver.in_subresource(DRAFT7.create_resource(part))


def _refers_to_itself_in_place(schema: Any) -> bool:
    """Whether some subschema reaches itself through $ref and in-place keywords alone: checking a value there
    would recurse without end, whatever the value. Depth first with an explicit stack, as schemas may be long."""
    finished: set[int] = set()
    for start, resolver in _schema_objects(schema):
        if id(start) in finished:
            continue
        stack = [(start, _applied_in_place(start, resolver))]
        on_stack = {id(start)}
        while stack:
            node, parts = stack[-1]
            for part, part_resolver in parts:
                if id(part) in on_stack:
                    return True
                if id(part) not in finished:
                    stack.append((part, _applied_in_place(part, part_resolver)))
                    on_stack.add(id(part))
                    break
            else:
                stack.pop()
                on_stack.discard(id(node))
                finished.add(id(node))
    return False


def _check_schema(schema: Any, field: str) -> None:
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
    if _refers_to_itself_in_place(schema):
        raise InvalidInputError(
            f"{field} applies itself to the value it checks ($ref through allOf, anyOf, oneOf, not, if, then, "
            "else or dependencies only): checking any value would never end"
        )


async def check_schema(schema: Any, field: str = "schema") -> None:
    """Refuses what is not a Draft 7 schema jsonschema can run safely; in a worker thread, as it takes time
    linear in the schema."""
    await off_the_loop(partial(_check_schema, schema, field))


def _violation(schema: Any, value: Any, what: str) -> str | None:
    _budget.set(_Budget())
    try:
        error = jsonschema.exceptions.best_match(_Validator(schema, registry=_NO_RETRIEVAL).iter_errors(value))
    except Unresolvable as unresolvable:
        raise InvalidInputError(f"{what} has a reference that cannot be resolved: {unresolvable}") from None
    except _OverBudget:
        raise InvalidInputError(
            f"checking the value against {what} takes more than {VALIDATION_STEPS} steps; simplify one of them"
        ) from None
    except RecursionError:
        raise InvalidInputError(f"the value is nested too deeply to be checked against {what}") from None
    return error.message if error is not None else None


async def violation(schema: Any, value: Any, what: str) -> str | None:
    """The first way ``value`` breaks ``schema``, or None; ``what`` names the schema in errors. Runs in a worker
    thread (the budget is the call's: ``_violation`` sets a new one)."""
    return await off_the_loop(partial(_violation, schema, value, what))
