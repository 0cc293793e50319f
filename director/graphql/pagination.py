"""Compass's page types: one generic ``Page`` whose specializations carry Compass's names (``ApplicationPage``...)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, Self, TypeVar

import strawberry

from director import pagination
from director.graphql.scalars import PageCursor

T = TypeVar("T")
Row = TypeVar("Row")


@strawberry.type(description="Where a page stands; endCursor is empty on the last page.")
class PageInfo:
    start_cursor: PageCursor
    end_cursor: PageCursor
    has_next_page: bool

    @classmethod
    def of(cls, page: pagination.Page[Any]) -> PageInfo:
        return cls(
            start_cursor=PageCursor(page.start_cursor),
            end_cursor=PageCursor(page.end_cursor),
            has_next_page=page.has_next_page,
        )


@strawberry.interface(
    description="A page of a list: ask for `first` items `after` a cursor (pageInfo.endCursor of the page before)."
)
class Pageable:
    page_info: PageInfo
    total_count: int


@strawberry.type
class Page(Pageable, Generic[T]):
    """Subclass a specialization to name and describe it, as Compass's SDL does for each page:

    ``@strawberry.type(description="A page of runtimes.") class RuntimePage(Page[Runtime]): ...``
    (``Page[Runtime]`` alone would also be named ``RuntimePage``, but could not have its own description).
    """

    data: list[T]

    @classmethod
    def of(cls, page: pagination.Page[Row], convert: Callable[[Row], T]) -> Self:
        """The GraphQL page of a page of rows, each row converted by ``convert`` (e.g. ``Runtime.of``)."""
        return cls(data=[convert(row) for row in page.items], page_info=PageInfo.of(page), total_count=page.total_count)

    @classmethod
    def slice(cls, rows: Sequence[Row], request: pagination.PageRequest, convert: Callable[[Row], T]) -> Self:
        """The page of a list loaded whole: nested lists come per parent from a DataLoader."""
        return cls.of(pagination.Page.slice(rows, request), convert)
