from __future__ import annotations

import strawberry

from director.graphql.scalars import PageCursor
from director.pagination import Page


@strawberry.type(description="Where a page stands; endCursor is empty on the last page.")
class PageInfo:
    start_cursor: PageCursor
    end_cursor: PageCursor
    has_next_page: bool

    @classmethod
    def of(cls, page: Page[object]) -> PageInfo:
        return cls(start_cursor=page.start_cursor, end_cursor=page.end_cursor, has_next_page=page.has_next_page)
