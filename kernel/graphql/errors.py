"""Every error leaves with a stable ``extensions.code``; unexpected ones are masked and logged, never shown."""

from __future__ import annotations

import re
from collections.abc import Iterator

import structlog
from graphql import GraphQLError
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from kernel.db import DatabaseUnavailableError, is_database_unavailable
from kernel.errors import CompassError

log = structlog.get_logger("compass.graphql")

INTERNAL_MESSAGE = "internal server error; the request id in the x-request-id header identifies it in the logs"

_LIMIT_PATTERNS = (
    re.compile(r"exceeds maximum operation depth"),
    re.compile(r"aliases found\. Allowed"),
    re.compile(r"more than \d+ tokens"),
)


def _root_cause(error: GraphQLError) -> BaseException | None:
    """graphql-core wraps a scalar's error in a GraphQLError when it checks variables: look through that."""
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    return original


def error_code(error: GraphQLError) -> str:  # noqa: PLR0911 - one return per kind of error, read as a table
    original = _root_cause(error)
    if isinstance(original, CompassError):
        return original.code
    if original is not None and is_database_unavailable(original):
        return DatabaseUnavailableError.code
    if error.extensions and isinstance(error.extensions.get("code"), str):
        return str(error.extensions["code"])
    if original is None or isinstance(original, GraphQLError):
        if any(pattern.search(error.message) for pattern in _LIMIT_PATTERNS):
            return "QUERY_TOO_COMPLEX"
        if error.message.startswith("Syntax Error"):
            return "GRAPHQL_PARSE_FAILED"
        return "GRAPHQL_VALIDATION_FAILED"
    return "INTERNAL"


class ErrorCodes(SchemaExtension):
    """Sets ``extensions.code`` on every error and masks the message of unexpected ones."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except GraphQLError as error:
            # CachedDocuments parses inside its on_parse hook, so a syntax error (the token limit included)
            # escapes the operation instead of landing in the result; strawberry answers with this object.
            raise self._coded(error) from None
        except (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError):
            raise  # strawberry's HTTP view turns these into 400/405 answers
        except Exception as error:  # noqa: BLE001 - re-raised, masked
            # Strawberry would answer str(error) as the message: mask it like a failing resolver.
            raise self._coded(GraphQLError(str(error), original_error=error)) from None
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        result.errors = [self._coded(error) for error in result.errors]

    def _coded(self, error: GraphQLError) -> GraphQLError:
        code = error_code(error)
        if code == DatabaseUnavailableError.code and not isinstance(_root_cause(error), CompassError):
            # The driver's text names hosts and SQL: say what it means instead.
            return GraphQLError(
                "the database is unavailable; retry shortly",
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                original_error=None,
                extensions={"code": code},
            )
        if code != "INTERNAL":
            error.extensions = {**(error.extensions or {}), "code": code}
            return error
        log.error("graphql_unexpected_error", path=error.path, exc_info=error.original_error)
        return GraphQLError(
            INTERNAL_MESSAGE,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL"},
        )
