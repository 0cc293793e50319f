"""Label filters on ``applications(filter:)`` and ``runtimes(filter:)``, and the parser of their queries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from director.label.filters import LabelCondition, parse_label_filter
from kernel.errors import InvalidInputError
from tests.support import Operator, TenantFactory

REGISTER = {
    kind: f"""
mutation($name: String!, $labels: Labels) {{
  result: {mutation}(in: {{name: $name, labels: $labels}}) {{ id }}
}}
"""
    for kind, mutation in (("application", "registerApplication"), ("runtime", "registerRuntime"))
}
LIST = {
    kind: f"""
query($filter: [LabelFilter!], $first: Int! = 200) {{
  result: {field}(filter: $filter, first: $first) {{ data {{ name }} totalCount }}
}}
"""
    for kind, field in (("application", "applications"), ("runtime", "runtimes"))
}
# Written the way Compass clients write it: the filter inside the document.
RUNTIMES_IN_PROD = """
{ result: runtimes(filter: [{key: "env", query: "\\"prod\\""}]) { data { name } totalCount } }
"""
APPLICATIONS_IN_EU = """
{
  result: applications(filter: [{key: "regions", query: "$[*] ? (@ == \\"eu\\")"}]) {
    data { name } totalCount
  }
}
"""

KINDS = ["application", "runtime"]


async def create(operator: Operator, kind: str, name: str, labels: dict[str, Any] | None = None) -> None:
    await operator.query(REGISTER[kind], {"name": name, "labels": labels})


async def names(operator: Operator, kind: str, *filters: dict[str, Any]) -> list[str]:
    data = await operator.query(LIST[kind], {"filter": list(filters)})
    page = data["result"]
    assert page["totalCount"] == len(page["data"])
    return [row["name"] for row in page["data"]]


def key(name: str, query: str | None = None) -> dict[str, Any]:
    return {"key": name, "query": query}


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestKeyOnlyFilter:
    async def test_selects_the_objects_that_have_the_label_whatever_its_value(
        self, operator: Operator, kind: str
    ) -> None:
        await create(operator, kind, "string", {"team": "a"})
        await create(operator, kind, "array", {"team": ["b"]})
        await create(operator, kind, "object", {"team": {"c": 1}})
        await create(operator, kind, "other-key", {"owner": "a"})
        await create(operator, kind, "unlabelled")

        assert await names(operator, kind, key("team")) == ["array", "object", "string"]

    async def test_with_an_empty_query_is_a_key_only_filter(self, operator: Operator, kind: str) -> None:
        await create(operator, kind, "labelled", {"team": False})
        await create(operator, kind, "unlabelled")

        assert await names(operator, kind, key("team", "")) == ["labelled"]

    async def test_for_a_key_nobody_has_selects_nothing(self, operator: Operator, kind: str) -> None:
        await create(operator, kind, "labelled", {"team": "a"})

        assert await names(operator, kind, key("absent")) == []


class TestArrayFilter:
    async def test_selects_the_arrays_holding_the_value(self, operator: Operator, kind: str) -> None:
        await create(operator, kind, "a-and-b", {"tags": ["A", "B"]})
        await create(operator, kind, "only-a", {"tags": ["A"]})
        await create(operator, kind, "only-b", {"tags": ["B"]})
        await create(operator, kind, "empty", {"tags": []})

        assert await names(operator, kind, key("tags", '$[*] ? (@ == "A")')) == ["a-and-b", "only-a"]

    async def test_with_alternatives_selects_the_arrays_holding_any_of_them(
        self, operator: Operator, kind: str
    ) -> None:
        await create(operator, kind, "a", {"tags": ["A", "X"]})
        await create(operator, kind, "b", {"tags": ["B"]})
        await create(operator, kind, "c", {"tags": ["C"]})

        assert await names(operator, kind, key("tags", '$[*] ? (@ == "A" || @ == "B")')) == ["a", "b"]

    async def test_matches_whole_elements_only(self, operator: Operator, kind: str) -> None:
        await create(operator, kind, "longer", {"tags": ["AB"]})
        await create(operator, kind, "case", {"tags": ["a"]})
        await create(operator, kind, "nested", {"tags": [["A"]]})

        assert await names(operator, kind, key("tags", '$[*] ? (@ == "A")')) == []

    async def test_looks_at_the_filtered_key_only(self, operator: Operator, kind: str) -> None:
        await create(operator, kind, "other-key", {"colours": ["A"]})

        assert await names(operator, kind, key("tags", '$[*] ? (@ == "A")')) == []

    async def test_selects_no_label_that_is_not_an_array(self, operator: Operator, kind: str) -> None:
        """The same answer on both databases: PostgreSQL's ?| alone would match a string or an object key."""
        await create(operator, kind, "string", {"tags": "A"})
        await create(operator, kind, "object", {"tags": {"A": 1}})
        await create(operator, kind, "number", {"tags": 1})

        assert await names(operator, kind, key("tags", '$[*] ? (@ == "A" || @ == 1)')) == []

    async def test_compares_numbers_by_value(self, operator: Operator, kind: str) -> None:
        await create(operator, kind, "integer", {"ports": [80, 443]})
        await create(operator, kind, "decimal", {"ports": [8080.0]})
        await create(operator, kind, "string", {"ports": ["80"]})

        selected = await names(operator, kind, key("ports", "$[*] ? (@ == 80 || @ == 8080)"))

        assert selected == ["decimal", "integer"]

    async def test_compares_booleans_as_booleans(self, operator: Operator, kind: str) -> None:
        await create(operator, kind, "true", {"flags": [True]})
        await create(operator, kind, "false", {"flags": [False]})
        await create(operator, kind, "one", {"flags": [1]})
        await create(operator, kind, "text", {"flags": ["true"]})

        assert await names(operator, kind, key("flags", "$[*] ? (@ == true)")) == ["true"]

    async def test_compares_strings_with_quotes_and_non_ascii_letters(
        self, operator: Operator, kind: str
    ) -> None:
        await create(operator, kind, "quoted", {"tags": ['say "hi"', "Zürich"]})
        await create(operator, kind, "plain", {"tags": ["say hi", "Zurich"]})

        assert await names(operator, kind, key("tags", '$[*] ? (@ == "say \\"hi\\"")')) == ["quoted"]
        assert await names(operator, kind, key("tags", '$[*] ? (@ == "Zürich")')) == ["quoted"]

    async def test_compares_strings_holding_the_alternative_operator(
        self, operator: Operator, kind: str
    ) -> None:
        await create(operator, kind, "odd", {"tags": ["a || b"]})

        assert await names(operator, kind, key("tags", '$[*] ? (@ == "a || b")')) == ["odd"]

    async def test_in_the_document_selects_the_arrays_holding_the_value(self, operator: Operator) -> None:
        await create(operator, "application", "shop", {"regions": ["eu", "us"]})
        await create(operator, "application", "erp", {"regions": ["us"]})

        data = await operator.query(APPLICATIONS_IN_EU)

        assert data["result"] == {"data": [{"name": "shop"}], "totalCount": 1}


class TestJsonLiteralFilter:
    async def test_selects_the_string_labels_equal_to_it(self, operator: Operator, kind: str) -> None:
        await create(operator, kind, "prod", {"env": "prod"})
        await create(operator, kind, "production", {"env": "production"})
        await create(operator, kind, "dev", {"env": "dev"})

        assert await names(operator, kind, key("env", '"prod"')) == ["prod"]

    async def test_in_the_document_selects_the_string_labels_equal_to_it(self, operator: Operator) -> None:
        await create(operator, "runtime", "prod-cluster", {"env": "prod"})
        await create(operator, "runtime", "dev-cluster", {"env": "dev"})

        data = await operator.query(RUNTIMES_IN_PROD)

        assert data["result"] == {"data": [{"name": "prod-cluster"}], "totalCount": 1}

    async def test_of_a_number_selects_equal_numbers_only(self, operator: Operator, kind: str) -> None:
        await create(operator, kind, "three", {"replicas": 3})
        await create(operator, kind, "three-point-zero", {"replicas": 3.0})
        await create(operator, kind, "four", {"replicas": 4})
        await create(operator, kind, "string", {"replicas": "3"})

        assert await names(operator, kind, key("replicas", "3")) == ["three", "three-point-zero"]

    async def test_of_a_string_of_digits_selects_strings_only(self, operator: Operator, kind: str) -> None:
        await create(operator, kind, "number", {"replicas": 3})
        await create(operator, kind, "string", {"replicas": "3"})

        assert await names(operator, kind, key("replicas", '"3"')) == ["string"]

    async def test_of_a_boolean_selects_that_boolean_only(self, operator: Operator, kind: str) -> None:
        await create(operator, kind, "true", {"managed": True})
        await create(operator, kind, "false", {"managed": False})
        await create(operator, kind, "one", {"managed": 1})
        await create(operator, kind, "text", {"managed": "true"})

        assert await names(operator, kind, key("managed", "true")) == ["true"]
        assert await names(operator, kind, key("managed", "false")) == ["false"]

    async def test_of_an_object_selects_equal_objects(self, operator: Operator, kind: str) -> None:
        await create(operator, kind, "same", {"owner": {"team": "core", "size": 3}})
        await create(operator, kind, "different", {"owner": {"team": "edge", "size": 3}})

        assert await names(operator, kind, key("owner", '{"team": "core", "size": 3}')) == ["same"]

    @pytest.mark.parametrize("query", ["NaN", "Infinity", "-Infinity", "1e999"])
    async def test_of_a_number_json_cannot_hold_is_invalid_input(
        self, operator: Operator, kind: str, query: str
    ) -> None:
        codes = await operator.error_codes(LIST[kind], {"filter": [key("replicas", query)]})

        assert codes == ["INVALID_INPUT"]


class TestCombinedFilters:
    async def test_select_the_objects_matching_all_of_them(self, operator: Operator, kind: str) -> None:
        await create(operator, kind, "both", {"env": "prod", "tags": ["A"]})
        await create(operator, kind, "env-only", {"env": "prod", "tags": ["B"]})
        await create(operator, kind, "tags-only", {"env": "dev", "tags": ["A"]})

        selected = await names(operator, kind, key("env", '"prod"'), key("tags", '$[*] ? (@ == "A")'))

        assert selected == ["both"]

    async def test_with_a_key_only_filter_require_that_label_too(self, operator: Operator, kind: str) -> None:
        await create(operator, kind, "owned", {"env": "prod", "owner": "me"})
        await create(operator, kind, "unowned", {"env": "prod"})

        assert await names(operator, kind, key("env", '"prod"'), key("owner")) == ["owned"]

    async def test_count_only_the_matching_objects(self, operator: Operator, kind: str) -> None:
        for index in range(3):
            await create(operator, kind, f"prod-{index}", {"env": "prod"})
        await create(operator, kind, "dev", {"env": "dev"})

        data = await operator.query(LIST[kind], {"filter": [key("env", '"prod"')], "first": 2})

        assert data["result"]["totalCount"] == 3
        assert len(data["result"]["data"]) == 2

    async def test_more_than_a_hundred_are_invalid_input(self, operator: Operator, kind: str) -> None:
        codes = await operator.error_codes(LIST[kind], {"filter": [key(f"k{index}") for index in range(101)]})

        assert codes == ["INVALID_INPUT"]


class TestMalformedFilter:
    @pytest.mark.parametrize(
        "query",
        [
            '$[*] ? (@ = "A")',
            '$[*] ? (@ == "A" && @ == "B")',
            '$[*] ? (@ == "A" ||)',
            "$[*] ? (@ == A)",
            "$[*] ? (@ == 1.2.3)",
            '$[*] ? (@ == "\\x")',
            "{not json",
            "prod",
        ],
    )
    async def test_is_invalid_input_and_still_answers_with_data(
        self, operator: Operator, kind: str, query: str
    ) -> None:
        body = await operator.execute(LIST[kind], {"filter": [key("tags", query)]})

        assert [error["extensions"]["code"] for error in body["errors"]] == ["INVALID_INPUT"]
        assert body["data"] is None


class TestFilterTenantIsolation:
    async def test_never_selects_objects_of_another_tenant(
        self, operator: Operator, tenants: TenantFactory, kind: str
    ) -> None:
        # given
        other = await tenants.operator()
        await create(other, kind, "foreign", {"env": "prod", "tags": ["A"]})
        await create(operator, kind, "mine", {"env": "prod", "tags": ["A"]})

        # when
        by_key = await names(operator, kind, key("env"))
        by_literal = await names(operator, kind, key("env", '"prod"'))
        by_array = await names(operator, kind, key("tags", '$[*] ? (@ == "A")'))

        # then
        assert by_key == by_literal == by_array == ["mine"]

    async def test_for_a_label_only_another_tenant_has_selects_nothing(
        self, operator: Operator, tenants: TenantFactory, kind: str
    ) -> None:
        other = await tenants.operator()
        await create(other, kind, "foreign", {"secret": "x"})
        await create(operator, kind, "mine")

        assert await names(operator, kind, key("secret")) == []


# No NUL or lone surrogate: a filter value holding one is refused (tests/hostile/test_label_input.py).
storable_characters = st.characters(codec="utf-8", exclude_characters="\x00")
json_scalars = st.one_of(
    st.text(storable_characters, max_size=20),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(storable_characters), inner), max_leaves=8
)


class TestParseLabelFilter:
    def test_without_a_query_asks_for_the_key_only(self) -> None:
        assert parse_label_filter("env", None) == LabelCondition(key="env")

    @pytest.mark.parametrize("query", ["", "   "])
    def test_with_a_blank_query_asks_for_the_key_only(self, query: str) -> None:
        assert parse_label_filter("env", query) == LabelCondition(key="env")

    def test_reads_an_array_query_with_one_value(self) -> None:
        assert parse_label_filter("tags", '$[*] ? (@ == "A")') == LabelCondition(key="tags", any_of=("A",))

    def test_reads_an_array_query_with_alternatives(self) -> None:
        condition = parse_label_filter("tags", '$[*] ? (@ == "A" || @ == "B" || @ == 3)')

        assert condition == LabelCondition(key="tags", any_of=("A", "B", 3))

    def test_reads_an_array_query_without_spaces(self) -> None:
        condition = parse_label_filter("tags", '$[*]?(@=="A"||@==true)')

        assert condition == LabelCondition(key="tags", any_of=("A", True))

    def test_reads_escaped_quotes_in_a_string(self) -> None:
        assert parse_label_filter("tags", r'$[*] ? (@ == "a\"b")').any_of == ('a"b',)

    def test_reads_a_string_holding_the_alternative_operator(self) -> None:
        assert parse_label_filter("tags", '$[*] ? (@ == "a || b")').any_of == ("a || b",)

    def test_reads_a_single_value_path_as_equality(self) -> None:
        condition = parse_label_filter("env", '$ ? (@ == "prod")')

        assert condition == LabelCondition(key="env", equals="prod", has_equals=True)

    def test_refuses_alternatives_in_a_single_value_path(self) -> None:
        with pytest.raises(InvalidInputError):
            parse_label_filter("env", '$ ? (@ == "prod" || @ == "dev")')

    @pytest.mark.parametrize(
        ("query", "value"),
        [
            ('"prod"', "prod"),
            ("3", 3),
            ("2.5", 2.5),
            ("true", True),
            ("false", False),
            ("null", None),
            ('{"a": [1]}', {"a": [1]}),
            ("[1, 2]", [1, 2]),
        ],
    )
    def test_reads_a_json_literal_as_equality(self, query: str, value: Any) -> None:
        assert parse_label_filter("env", query) == LabelCondition(key="env", equals=value, has_equals=True)

    def test_tells_a_null_literal_from_a_key_only_filter(self) -> None:
        condition = parse_label_filter("env", "null")

        assert condition.has_equals and condition.equals is None

    @pytest.mark.parametrize(
        "query",
        [
            '$[*] ? (@ = "A")',
            '$[*] ? (@ != "A")',
            '$[*] ? (@ == "A" && @ == "B")',
            '$[*] ? (@ == "A" ||)',
            '$[*] ? (|| @ == "A")',
            "$[*] ? (@ == A)",
            '$[*] ? (@ == "A"',
            "$[*] ? ()",
            "$[*] ? (@ == 1.2.3)",
            "$[*] ? (@ == +1)",
            "$[*] ? (@ == -)",
            '$[*] ? (@ == "\\x")',
            "$.tags",
            "{not json",
            "prod",
            "NaN",
            "Infinity",
            "1e999",
        ],
    )
    def test_refuses_a_malformed_query(self, query: str) -> None:
        with pytest.raises(InvalidInputError):
            parse_label_filter("tags", query)

    @settings(max_examples=100, deadline=None)
    @given(values=st.lists(json_scalars, min_size=1, max_size=5))
    def test_reads_back_any_alternatives_written_as_json(self, values: list[Any]) -> None:
        query = "$[*] ? (" + " || ".join(f"@ == {json.dumps(value)}" for value in values) + ")"

        assert parse_label_filter("tags", query).any_of == tuple(values)

    @settings(max_examples=100, deadline=None)
    @given(value=json_values)
    def test_reads_back_any_json_literal(self, value: Any) -> None:
        condition = parse_label_filter("env", json.dumps(value))

        assert condition == LabelCondition(key="env", equals=value, has_equals=True)
