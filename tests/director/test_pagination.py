"""Pages: ``first`` (1 to 200, default 200) and ``after`` cursors on list queries, and the page arithmetic."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from director.models import Application, Runtime
from director.pagination import MAX_PAGE_SIZE, Page, PageRequest, decode_cursor, encode_cursor
from kernel.db import Database
from kernel.errors import InvalidInputError
from tests.support import Operator

PAGE_FIELDS = "data { id name } pageInfo { startCursor endCursor hasNextPage } totalCount"
LIST = {
    kind: f"""
query($first: Int, $after: PageCursor) {{ result: {field}(first: $first, after: $after) {{ {PAGE_FIELDS} }} }}
"""
    for kind, field in (("application", "applications"), ("runtime", "runtimes"))
}
LIST_WITHOUT_ARGUMENTS = {
    "application": f"{{ result: applications {{ {PAGE_FIELDS} }} }}",
    "runtime": f"{{ result: runtimes {{ {PAGE_FIELDS} }} }}",
}
LIST_FIRST_0 = {
    "application": f"{{ result: applications(first: 0) {{ {PAGE_FIELDS} }} }}",
    "runtime": f"{{ result: runtimes(first: 0) {{ {PAGE_FIELDS} }} }}",
}
MODELS: dict[str, type[Application | Runtime]] = {"application": Application, "runtime": Runtime}


@pytest.fixture(params=["application", "runtime"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def create(database: Database, operator: Operator, kind: str, count: int) -> list[str]:
    """``count`` objects named so that their order is the order of creation; returns their ids."""
    model = MODELS[kind]
    async with database.transaction() as session:
        rows = [model(tenant_id=operator.tenant_id, name=f"{kind}-{index:04d}") for index in range(count)]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def page(
    operator: Operator, kind: str, first: int | None = None, after: str | None = None
) -> dict[str, Any]:
    """A page; ``None`` leaves the argument out of the request."""
    variables = {name: value for name, value in (("first", first), ("after", after)) if value is not None}
    data = await operator.query(LIST[kind], variables)
    result: dict[str, Any] = data["result"]
    return result


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


class TestPageSize:
    async def test_without_first_is_200(self, operator: Operator, database: Database, kind: str) -> None:
        await create(database, operator, kind, MAX_PAGE_SIZE + 1)

        result = (await operator.query(LIST_WITHOUT_ARGUMENTS[kind]))["result"]

        assert len(result["data"]) == 200
        assert result["totalCount"] == 201
        assert result["pageInfo"]["hasNextPage"] is True
        assert result["pageInfo"]["endCursor"] != ""

    async def test_200_is_allowed(self, operator: Operator, database: Database, kind: str) -> None:
        await create(database, operator, kind, 3)

        result = await page(operator, kind, first=200)

        assert len(result["data"]) == 3

    async def test_1_is_allowed(self, operator: Operator, database: Database, kind: str) -> None:
        await create(database, operator, kind, 3)

        result = await page(operator, kind, first=1)

        assert [row["name"] for row in result["data"]] == [f"{kind}-0000"]
        assert result["pageInfo"]["hasNextPage"] is True

    async def test_null_means_the_default(self, operator: Operator, database: Database, kind: str) -> None:
        await create(database, operator, kind, 2)

        data = await operator.query(LIST[kind], {"first": None})

        assert len(data["result"]["data"]) == 2

    @pytest.mark.parametrize("first", [0, 201, -1])
    async def test_outside_1_to_200_is_invalid_input_and_still_answers_with_data(
        self, operator: Operator, kind: str, first: int
    ) -> None:
        body = await operator.execute(LIST[kind], {"first": first})

        assert [error["extensions"]["code"] for error in body["errors"]] == ["INVALID_INPUT"]
        assert body["data"] is None

    async def test_outside_1_to_200_in_the_document_is_invalid_input(
        self, operator: Operator, kind: str
    ) -> None:
        codes = await operator.error_codes(LIST_FIRST_0[kind])

        assert codes == ["INVALID_INPUT"]


class TestWalkingPages:
    async def test_with_end_cursors_visits_every_object_exactly_once_in_order(
        self, operator: Operator, database: Database, kind: str
    ) -> None:
        # given
        ids = await create(database, operator, kind, 7)

        # when
        seen: list[str] = []
        pages: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            result = await page(operator, kind, first=3, after=after)
            pages.append(result)
            seen += [row["id"] for row in result["data"]]
            if not result["pageInfo"]["hasNextPage"]:
                break
            after = result["pageInfo"]["endCursor"]

        # then
        assert seen == ids
        assert [len(result["data"]) for result in pages] == [3, 3, 1]
        assert [result["totalCount"] for result in pages] == [7, 7, 7]

    async def test_last_page_has_an_empty_end_cursor_and_no_next_page(
        self, operator: Operator, database: Database, kind: str
    ) -> None:
        await create(database, operator, kind, 5)
        first_page = await page(operator, kind, first=3)

        last_page = await page(operator, kind, first=3, after=first_page["pageInfo"]["endCursor"])

        assert last_page["pageInfo"]["endCursor"] == ""
        assert last_page["pageInfo"]["hasNextPage"] is False

    async def test_a_page_ending_exactly_at_the_last_object_is_the_last_page(
        self, operator: Operator, database: Database, kind: str
    ) -> None:
        await create(database, operator, kind, 6)
        first_page = await page(operator, kind, first=3)

        second_page = await page(operator, kind, first=3, after=first_page["pageInfo"]["endCursor"])

        assert len(second_page["data"]) == 3
        assert second_page["pageInfo"] == {**second_page["pageInfo"], "endCursor": "", "hasNextPage": False}

    async def test_a_single_page_is_the_last_page(
        self, operator: Operator, database: Database, kind: str
    ) -> None:
        await create(database, operator, kind, 2)

        result = await page(operator, kind)

        assert result["pageInfo"]["endCursor"] == ""
        assert result["pageInfo"]["hasNextPage"] is False
        assert result["totalCount"] == 2

    async def test_of_nothing_is_one_empty_last_page(self, operator: Operator, kind: str) -> None:
        result = await page(operator, kind)

        assert result == {
            "data": [],
            "pageInfo": {"startCursor": "", "endCursor": "", "hasNextPage": False},
            "totalCount": 0,
        }

    async def test_an_empty_after_starts_from_the_beginning(
        self, operator: Operator, database: Database, kind: str
    ) -> None:
        ids = await create(database, operator, kind, 2)

        result = await page(operator, kind, after="")

        assert [row["id"] for row in result["data"]] == ids

    async def test_an_after_beyond_the_end_gives_an_empty_last_page(
        self, operator: Operator, database: Database, kind: str
    ) -> None:
        await create(database, operator, kind, 2)

        result = await page(operator, kind, after=encode_cursor(50))

        assert result["data"] == []
        assert result["pageInfo"]["hasNextPage"] is False
        assert result["totalCount"] == 2

    @pytest.mark.parametrize(
        "after",
        [
            "garbage",
            "!!!",
            cursor_of("offset:"),
            cursor_of("offset:x"),
            cursor_of("offset:-1"),
            cursor_of("offset:1.5"),
            cursor_of("offset:\u00b2"),
            cursor_of("offset:" + "9" * 40),
            cursor_of("page:1"),
        ],
    )
    async def test_a_garbage_after_is_invalid_input_and_still_answers_with_data(
        self, operator: Operator, kind: str, after: str
    ) -> None:
        body = await operator.execute(LIST[kind], {"after": after})

        assert [error["extensions"]["code"] for error in body["errors"]] == ["INVALID_INPUT"]
        assert body["data"] is None


class TestPageRequest:
    def test_without_first_asks_for_200_from_the_start(self) -> None:
        assert PageRequest.of(None, None) == PageRequest(limit=200, offset=0)

    @pytest.mark.parametrize("first", [1, 57, 200])
    def test_takes_first_from_1_to_200(self, first: int) -> None:
        assert PageRequest.of(first, None).limit == first

    @pytest.mark.parametrize("first", [0, -1, 201, 10**6])
    def test_refuses_first_outside_1_to_200(self, first: int) -> None:
        with pytest.raises(InvalidInputError, match="first"):
            PageRequest.of(first, None)

    def test_starts_after_the_cursor(self) -> None:
        assert PageRequest.of(10, encode_cursor(30)) == PageRequest(limit=10, offset=30)

    def test_treats_an_empty_after_as_the_start(self) -> None:
        assert PageRequest.of(10, "").offset == 0


class TestCursors:
    @settings(max_examples=100, deadline=None)
    @given(offset=st.integers(min_value=0, max_value=10**15))
    def test_decode_reads_back_what_encode_wrote(self, offset: int) -> None:
        assert decode_cursor(encode_cursor(offset)) == offset

    @settings(max_examples=100, deadline=None)
    @given(offset=st.integers(min_value=0, max_value=10**15))
    def test_are_url_safe(self, offset: int) -> None:
        assert re.fullmatch(r"[A-Za-z0-9_=-]+", encode_cursor(offset))

    @settings(max_examples=200, deadline=None)
    @given(cursor=st.text())
    def test_decode_refuses_any_garbage_with_invalid_input(self, cursor: str) -> None:
        try:
            offset = decode_cursor(cursor)
        except InvalidInputError:
            return
        assert offset >= 0

    @settings(max_examples=200, deadline=None)
    @given(text=st.text())
    def test_decode_refuses_any_garbage_inside_base64_with_invalid_input(self, text: str) -> None:
        try:
            offset = decode_cursor(cursor_of(text))
        except InvalidInputError:
            return
        assert text == f"offset:{offset}"

    def test_decode_refuses_an_offset_no_database_can_skip(self) -> None:
        with pytest.raises(InvalidInputError):
            decode_cursor(cursor_of("offset:" + "9" * 40))


class TestPage:
    def test_of_nothing_has_empty_cursors_and_no_next_page(self) -> None:
        empty: Page[int] = Page([], 0, 0)

        assert (empty.start_cursor, empty.end_cursor, empty.has_next_page) == ("", "", False)

    def test_before_the_end_points_its_end_cursor_after_its_last_item(self) -> None:
        first: Page[int] = Page([1, 2], 5, 0)

        assert first.has_next_page
        assert decode_cursor(first.end_cursor) == 2
        assert decode_cursor(first.start_cursor) == 0

    def test_at_the_end_has_an_empty_end_cursor(self) -> None:
        last: Page[int] = Page([4, 5], 5, 3)

        assert (last.end_cursor, last.has_next_page) == ("", False)

    @settings(max_examples=100, deadline=None)
    @given(size=st.integers(0, 60), first=st.integers(1, MAX_PAGE_SIZE))
    def test_slices_walked_with_end_cursors_visit_every_item_once(self, size: int, first: int) -> None:
        items = list(range(size))
        seen: list[int] = []
        after: str | None = None
        while True:
            current = Page.slice(items, PageRequest.of(first, after))
            assert current.total_count == size
            seen += current.items
            if not current.has_next_page:
                assert current.end_cursor == ""
                break
            after = current.end_cursor
        assert seen == items
