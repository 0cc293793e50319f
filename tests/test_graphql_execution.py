"""kernel.graphql.execution: plain fields take a short path and answer exactly as graphql-core's path does."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.types import ExecutionResult

from kernel.graphql.execution import PlainFieldsExecutionContext


@strawberry.enum
class Color(Enum):
    RED = "red"


@strawberry.type
class Item:
    name: str
    count: int
    note: str | None
    color: Color
    tags: list[str]

    @strawberry.field
    def shout(self, suffix: str = "!") -> str:
        return self.name.upper() + suffix


class CountingContext(PlainFieldsExecutionContext):
    others: list[str] = []  # noqa: RUF012 - one list per test run, reset by each test

    def execute_other_field(self, parent_type: Any, source: Any, field_details_list: Any, *rest: Any) -> Any:
        self.others.append(f"{parent_type.name}.{field_details_list[0].node.name.value}")
        return super().execute_other_field(parent_type, source, field_details_list, *rest)


def _schema(items: list[Any], context_class: type[Any] | None) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item]:
            return items

    return strawberry.Schema(query=Query, execution_context_class=context_class)


QUERY = "{ items { name count note color tags shout } }"


def _both(items: list[Any]) -> tuple[ExecutionResult, ExecutionResult]:
    return (
        _schema(items, CountingContext).execute_sync(QUERY),
        _schema(items, None).execute_sync(QUERY),
    )


def test_plain_fields_answer_what_graphql_cores_path_answers() -> None:
    items = [
        Item(name="a", count=1, note=None, color=Color.RED, tags=["x"]),
        Item(name="b", count=2, note="n", color=Color.RED, tags=[]),
    ]

    short, usual = _both(items)

    assert short.errors is None
    assert short.data == usual.data == {
        "items": [
            {"name": "a", "count": 1, "note": None, "color": "RED", "tags": ["x"], "shout": "A!"},
            {"name": "b", "count": 2, "note": "n", "color": "RED", "tags": [], "shout": "B!"},
        ]
    }


def test_only_fields_with_a_resolver_or_a_list_take_graphql_cores_path() -> None:
    CountingContext.others = []

    _both([Item(name="a", count=1, note=None, color=Color.RED, tags=[])])

    assert sorted(CountingContext.others) == ["Item.shout", "Item.tags", "Query.items"]


def test_null_in_a_non_null_plain_field_is_graphql_cores_error() -> None:
    short, usual = _both([Item(name=None, count=1, note=None, color=Color.RED, tags=[])])  # type: ignore[arg-type]

    assert short.data is None
    assert usual.data is None
    assert [error.formatted for error in short.errors or []] == [error.formatted for error in usual.errors or []]
    assert "Cannot return null for non-nullable field Item.name" in str(short.errors)


def test_a_value_the_scalar_refuses_is_graphql_cores_error() -> None:
    short, usual = _both([Item(name="a", count="many", note=None, color=Color.RED, tags=[])])  # type: ignore[arg-type]

    assert short.data is None
    assert usual.data is None
    assert [error.formatted for error in short.errors or []] == [error.formatted for error in usual.errors or []]
