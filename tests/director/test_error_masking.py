"""ErrorCodes: expected failures keep their message and code; anything unexpected leaves as a generic INTERNAL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.types import ExecutionResult

from kernel.errors import NotFoundError
from kernel.graphql.errors import INTERNAL_MESSAGE, ErrorCodes

SECRET = "secret detail"


@strawberry.type
class Query:
    @strawberry.field
    def greeting(self) -> str:
        return "hello"

    @strawberry.field
    def broken(self) -> str | None:
        raise RuntimeError(SECRET)

    @strawberry.field
    def missing(self) -> str | None:
        raise NotFoundError("thing 42 does not exist")


class ExplodingValidation(SchemaExtension):
    """An extension that fails before any resolver runs, the way a buggy hook would."""

    def on_validate(self) -> Iterator[None]:
        raise RuntimeError(SECRET)
        yield  # pragma: no cover - makes this a generator hook


def _schema(*extensions: type[SchemaExtension] | Callable[[], SchemaExtension]) -> strawberry.Schema:
    return strawberry.Schema(query=Query, extensions=[ErrorCodes, *extensions])


def _answer(result: ExecutionResult) -> str:
    """What the HTTP view would send: the formatted data and errors."""
    return json.dumps({"data": result.data, "errors": [error.formatted for error in result.errors or []]})


async def test_unexpected_resolver_exception_is_answered_as_internal_with_the_generic_message() -> None:
    result = await _schema().execute("{ broken }")

    assert result.errors is not None
    assert [(error.message, error.extensions) for error in result.errors] == [(INTERNAL_MESSAGE, {"code": "INTERNAL"})]


async def test_unexpected_exception_text_never_reaches_the_answer() -> None:
    result = await _schema().execute("{ broken }")

    assert SECRET not in _answer(result)
    assert all(error.original_error is None for error in result.errors or [])


async def test_masked_field_is_null_while_its_siblings_are_answered() -> None:
    result = await _schema().execute("{ greeting broken }")

    assert result.data == {"greeting": "hello", "broken": None}


async def test_expected_error_keeps_its_message_and_code() -> None:
    result = await _schema().execute("{ missing }")

    assert result.errors is not None
    assert [(error.message, error.extensions) for error in result.errors] == [
        ("thing 42 does not exist", {"code": "NOT_FOUND"})
    ]


async def test_code_already_set_on_a_graphql_error_is_kept() -> None:
    @strawberry.type
    class CodedQuery:
        @strawberry.field
        def refused(self) -> str | None:
            raise GraphQLError("not for you", extensions={"code": "FORBIDDEN"})

    result = await strawberry.Schema(query=CodedQuery, extensions=[ErrorCodes]).execute("{ refused }")

    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "FORBIDDEN"}


async def test_exception_raised_by_an_extension_before_execution_is_masked() -> None:
    result = await _schema(ExplodingValidation).execute("{ greeting }")

    assert result.errors is not None
    assert [error.extensions for error in result.errors] == [{"code": "INTERNAL"}]
    assert SECRET not in _answer(result)


async def test_syntax_error_is_coded_parse_failed_when_the_parser_cache_parses() -> None:
    # ParserCache parses inside a hook, so the syntax error escapes the operation rather than the result.
    result = await _schema(lambda: ParserCache(maxsize=8)).execute("{ greeting")

    assert result.errors is not None
    assert [error.extensions for error in result.errors] == [{"code": "GRAPHQL_PARSE_FAILED"}]
