"""Runtimes: registration (labelled isNormalized unless told), updates, deletion, status and labels."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from director.normalization import normalize_name
from kernel.db import Database
from testing.statements import count_statements
from tests.support import Operator, TenantFactory

RUNTIME_FIELDS = "id name description labels status { condition timestamp } metadata { creationTimestamp }"

REGISTER = f"""
mutation($in: RuntimeRegisterInput!) {{ result: registerRuntime(in: $in) {{ {RUNTIME_FIELDS} }} }}
"""
UPDATE = f"""
mutation($id: ID!, $in: RuntimeUpdateInput!) {{
  result: updateRuntime(id: $id, in: $in) {{ {RUNTIME_FIELDS} }}
}}
"""
UNREGISTER = "mutation($id: ID!) { result: unregisterRuntime(id: $id) { id name } }"
RUNTIME = f"query($id: ID!) {{ result: runtime(id: $id) {{ {RUNTIME_FIELDS} }} }}"
RUNTIME_LABEL = "query($id: ID!, $key: String!) { result: runtime(id: $id) { labels(key: $key) } }"
RUNTIMES = "{ result: runtimes { data { id name labels } totalCount } }"
SET_LABEL = """
mutation($id: ID!, $key: String!, $value: Any!) {
  result: setRuntimeLabel(runtimeID: $id, key: $key, value: $value) { key value }
}
"""
DELETE_LABEL = """
mutation($id: ID!, $key: String!) { result: deleteRuntimeLabel(runtimeID: $id, key: $key) { key value } }
"""
UNKNOWN_ID = "7b1c3c4e-0000-4000-8000-000000000000"
# Written the way Compass clients write it: values inside the document, no variables.
REGISTER_INLINE = """
mutation {
  result: registerRuntime(in: {name: "inline", labels: {isNormalized: "false", region: ["eu", "us"]}}) {
    id labels
  }
}
"""


async def register(operator: Operator, name: str = "cluster", **fields: Any) -> dict[str, Any]:
    data = await operator.query(REGISTER, {"in": {"name": name, **fields}})
    return data["result"]


def parse_timestamp(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value)


class TestRegisterRuntime:
    async def test_labels_the_runtime_normalized_by_default(self, operator: Operator) -> None:
        runtime = await register(operator)

        assert runtime["labels"] == {"isNormalized": "true"}

    async def test_keeps_a_given_is_normalized_false(self, operator: Operator) -> None:
        runtime = await register(operator, labels={"isNormalized": "false"})

        assert runtime["labels"] == {"isNormalized": "false"}

    async def test_keeps_the_given_labels_beside_is_normalized(self, operator: Operator) -> None:
        runtime = await register(operator, labels={"region": "eu", "zones": [1, 2]})

        assert runtime["labels"] == {"isNormalized": "true", "region": "eu", "zones": [1, 2]}

    async def test_accepts_values_written_into_the_document(self, operator: Operator) -> None:
        data = await operator.query(REGISTER_INLINE)

        assert data["result"]["labels"] == {"isNormalized": "false", "region": ["eu", "us"]}

    async def test_stores_name_and_description(self, operator: Operator) -> None:
        created = await register(operator, "prod-eu", description="the production cluster")

        stored = (await operator.query(RUNTIME, {"id": created["id"]}))["result"]

        assert (stored["name"], stored["description"]) == ("prod-eu", "the production cluster")

    async def test_starts_in_initial_status_with_a_creation_timestamp(self, operator: Operator) -> None:
        runtime = await register(operator)

        assert runtime["status"]["condition"] == "INITIAL"
        parse_timestamp(runtime["status"]["timestamp"])
        parse_timestamp(runtime["metadata"]["creationTimestamp"])

    async def test_takes_a_given_status_condition(self, operator: Operator) -> None:
        runtime = await register(operator, statusCondition="PROVISIONING")

        assert runtime["status"]["condition"] == "PROVISIONING"

    async def test_with_a_taken_name_is_a_conflict(self, operator: Operator) -> None:
        await register(operator, "twin")

        codes = await operator.error_codes(REGISTER, {"in": {"name": "twin"}})

        assert codes == ["CONFLICT"]

    async def test_racing_for_one_name_lets_exactly_one_win_and_the_others_conflict(
        self, operator: Operator
    ) -> None:
        racers = [operator.execute(REGISTER, {"in": {"name": "race"}}) for _ in range(5)]

        bodies = await asyncio.gather(*racers)

        codes = sorted(error["extensions"]["code"] for body in bodies for error in body.get("errors", []))
        assert codes == ["CONFLICT"] * 4
        assert (await operator.query(RUNTIMES))["result"]["totalCount"] == 1

    async def test_with_a_name_taken_in_another_tenant_succeeds(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        other = await tenants.operator()
        await register(other, "shared-name")

        runtime = await register(operator, "shared-name")

        assert runtime["name"] == "shared-name"

    async def test_with_a_blank_name_is_invalid_input(self, operator: Operator) -> None:
        codes = await operator.error_codes(REGISTER, {"in": {"name": "   "}})

        assert codes == ["INVALID_INPUT"]

    async def test_with_a_label_key_out_of_the_alphabet_is_invalid_input_and_registers_nothing(
        self, operator: Operator
    ) -> None:
        variables = {"in": {"name": "bad-labels", "labels": {"no spaces": 1}}}

        codes = await operator.error_codes(REGISTER, variables)

        assert codes == ["INVALID_INPUT"]
        assert (await operator.query(RUNTIMES))["result"]["totalCount"] == 0


class TestRuntimeQuery:
    async def test_returns_null_for_an_unknown_id(self, operator: Operator) -> None:
        body = await operator.execute(RUNTIME, {"id": UNKNOWN_ID})

        assert body == {"data": {"result": None}}

    async def test_returns_null_for_a_runtime_of_another_tenant(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        other = await tenants.operator()
        foreign = await register(other, "foreign")

        body = await operator.execute(RUNTIME, {"id": foreign["id"]})

        assert body == {"data": {"result": None}}

    async def test_labels_with_a_key_returns_only_that_label(self, operator: Operator) -> None:
        runtime = await register(operator, labels={"x": "wanted", "y": "other"})

        data = await operator.query(RUNTIME_LABEL, {"id": runtime["id"], "key": "x"})

        assert data["result"]["labels"] == {"x": "wanted"}

    async def test_labels_with_a_key_the_runtime_lacks_is_empty(self, operator: Operator) -> None:
        runtime = await register(operator)

        data = await operator.query(RUNTIME_LABEL, {"id": runtime["id"], "key": "absent"})

        assert data["result"]["labels"] == {}


class TestUpdateRuntime:
    async def test_changes_name_description_and_status(self, operator: Operator) -> None:
        runtime = await register(operator, "old", description="old text")
        changes = {"name": "new", "description": "new text", "statusCondition": "CONNECTED"}

        updated = (await operator.query(UPDATE, {"id": runtime["id"], "in": changes}))["result"]

        stored = (await operator.query(RUNTIME, {"id": runtime["id"]}))["result"]
        for answer in (updated, stored):
            assert (answer["name"], answer["description"]) == ("new", "new text")
            assert answer["status"]["condition"] == "CONNECTED"

    async def test_keeps_the_creation_timestamp(self, operator: Operator) -> None:
        runtime = await register(operator)

        updated = (await operator.query(UPDATE, {"id": runtime["id"], "in": {"name": "renamed"}}))["result"]

        assert updated["metadata"] == runtime["metadata"]

    async def test_without_status_condition_keeps_the_status(self, operator: Operator) -> None:
        runtime = await register(operator, statusCondition="FAILED")

        updated = (await operator.query(UPDATE, {"id": runtime["id"], "in": {"name": "cluster"}}))["result"]

        assert updated["status"] == runtime["status"]

    async def test_sets_given_labels_and_keeps_the_others(self, operator: Operator) -> None:
        runtime = await register(operator, labels={"keep": 1, "change": "before"})
        changes = {"name": "cluster", "labels": {"change": "after"}}

        updated = (await operator.query(UPDATE, {"id": runtime["id"], "in": changes}))["result"]

        assert updated["labels"] == {"isNormalized": "true", "keep": 1, "change": "after"}

    async def test_to_a_name_another_runtime_has_is_a_conflict(self, operator: Operator) -> None:
        await register(operator, "taken")
        runtime = await register(operator, "mine")

        codes = await operator.error_codes(UPDATE, {"id": runtime["id"], "in": {"name": "taken"}})

        assert codes == ["CONFLICT"]
        assert (await operator.query(RUNTIME, {"id": runtime["id"]}))["result"]["name"] == "mine"

    async def test_racing_to_one_name_lets_exactly_one_win_and_the_others_conflict(
        self, operator: Operator
    ) -> None:
        runtimes = [await register(operator, f"racer-{index}") for index in range(4)]

        bodies = await asyncio.gather(
            *(operator.execute(UPDATE, {"id": each["id"], "in": {"name": "finish"}}) for each in runtimes)
        )

        codes = sorted(error["extensions"]["code"] for body in bodies for error in body.get("errors", []))
        assert codes == ["CONFLICT"] * 3
        names = [row["name"] for row in (await operator.query(RUNTIMES))["result"]["data"]]
        assert names.count("finish") == 1

    async def test_keeping_its_own_name_is_no_conflict(self, operator: Operator) -> None:
        runtime = await register(operator, "same")
        changes = {"name": "same", "description": "d"}

        updated = (await operator.query(UPDATE, {"id": runtime["id"], "in": changes}))["result"]

        assert updated["description"] == "d"

    async def test_of_an_unknown_runtime_is_not_found(self, operator: Operator) -> None:
        codes = await operator.error_codes(UPDATE, {"id": UNKNOWN_ID, "in": {"name": "ghost"}})

        assert codes == ["NOT_FOUND"]

    async def test_of_a_runtime_of_another_tenant_is_not_found(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        other = await tenants.operator()
        foreign = await register(other, "foreign")

        codes = await operator.error_codes(UPDATE, {"id": foreign["id"], "in": {"name": "hijacked"}})

        assert codes == ["NOT_FOUND"]
        assert (await other.query(RUNTIME, {"id": foreign["id"]}))["result"]["name"] == "foreign"


class TestUnregisterRuntime:
    async def test_returns_the_runtime_and_removes_it(self, operator: Operator) -> None:
        runtime = await register(operator, "doomed")

        data = await operator.query(UNREGISTER, {"id": runtime["id"]})

        assert data["result"] == {"id": runtime["id"], "name": "doomed"}
        assert (await operator.query(RUNTIME, {"id": runtime["id"]}))["result"] is None
        assert (await operator.query(RUNTIMES))["result"]["totalCount"] == 0

    async def test_frees_the_name(self, operator: Operator) -> None:
        runtime = await register(operator, "reused")
        await operator.query(UNREGISTER, {"id": runtime["id"]})

        again = await register(operator, "reused")

        assert again["id"] != runtime["id"]
        assert again["labels"] == {"isNormalized": "true"}

    async def test_of_an_unknown_runtime_is_not_found(self, operator: Operator) -> None:
        codes = await operator.error_codes(UNREGISTER, {"id": UNKNOWN_ID})

        assert codes == ["NOT_FOUND"]

    async def test_of_a_runtime_of_another_tenant_is_not_found_and_keeps_it(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        other = await tenants.operator()
        foreign = await register(other, "foreign")

        codes = await operator.error_codes(UNREGISTER, {"id": foreign["id"]})

        assert codes == ["NOT_FOUND"]
        assert (await other.query(RUNTIME, {"id": foreign["id"]}))["result"] is not None


class TestRuntimeLabels:
    async def test_set_returns_the_label_and_stores_it(self, operator: Operator) -> None:
        runtime = await register(operator)

        data = await operator.query(SET_LABEL, {"id": runtime["id"], "key": "tier", "value": {"level": 2}})

        assert data["result"] == {"key": "tier", "value": {"level": 2}}
        stored = await operator.query(RUNTIME_LABEL, {"id": runtime["id"], "key": "tier"})
        assert stored["result"]["labels"] == {"tier": {"level": 2}}

    async def test_set_keeps_any_json_value_as_given(self, operator: Operator) -> None:
        runtime = await register(operator)
        values: dict[str, Any] = {"s": "text", "n": 1.5, "b": False, "a": ["x", 1, None], "o": {"k": [True]}}

        for key, value in values.items():
            await operator.query(SET_LABEL, {"id": runtime["id"], "key": key, "value": value})

        stored = (await operator.query(RUNTIME, {"id": runtime["id"]}))["result"]["labels"]
        assert stored == {"isNormalized": "true", **values}

    async def test_set_racing_on_one_new_key_keeps_one_of_the_values(self, operator: Operator) -> None:
        runtime = await register(operator)
        values = [f"v{index}" for index in range(5)]

        bodies = await asyncio.gather(
            *(
                operator.execute(SET_LABEL, {"id": runtime["id"], "key": "owner", "value": value})
                for value in values
            )
        )

        assert [body.get("errors") for body in bodies] == [None] * 5
        stored = await operator.query(RUNTIME_LABEL, {"id": runtime["id"], "key": "owner"})
        assert stored["result"]["labels"]["owner"] in values

    async def test_set_replaces_the_value_of_an_existing_label(self, operator: Operator) -> None:
        runtime = await register(operator, labels={"tier": "bronze"})

        await operator.query(SET_LABEL, {"id": runtime["id"], "key": "tier", "value": "gold"})

        stored = await operator.query(RUNTIME_LABEL, {"id": runtime["id"], "key": "tier"})
        assert stored["result"]["labels"] == {"tier": "gold"}

    async def test_set_on_an_unknown_runtime_is_not_found(self, operator: Operator) -> None:
        codes = await operator.error_codes(SET_LABEL, {"id": UNKNOWN_ID, "key": "k", "value": "v"})

        assert codes == ["NOT_FOUND"]

    async def test_set_on_a_runtime_of_another_tenant_is_not_found(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        other = await tenants.operator()
        foreign = await register(other, "foreign")

        codes = await operator.error_codes(SET_LABEL, {"id": foreign["id"], "key": "k", "value": "v"})

        assert codes == ["NOT_FOUND"]
        stored = (await other.query(RUNTIME, {"id": foreign["id"]}))["result"]
        assert stored["labels"] == {"isNormalized": "true"}

    async def test_set_with_a_key_out_of_the_alphabet_is_invalid_input(self, operator: Operator) -> None:
        runtime = await register(operator)

        codes = await operator.error_codes(SET_LABEL, {"id": runtime["id"], "key": "bad key!", "value": "v"})

        assert codes == ["INVALID_INPUT"]

    async def test_set_scenarios_with_an_existing_formation_assigns_it(self, operator: Operator) -> None:
        runtime = await register(operator)
        variables = {"id": runtime["id"], "key": "scenarios", "value": ["DEFAULT"]}

        data = await operator.query(SET_LABEL, variables)

        assert data["result"] == {"key": "scenarios", "value": ["DEFAULT"]}

    async def test_set_scenarios_with_an_unknown_formation_is_invalid_input(self, operator: Operator) -> None:
        runtime = await register(operator)
        variables = {"id": runtime["id"], "key": "scenarios", "value": ["NOPE"]}

        codes = await operator.error_codes(SET_LABEL, variables)

        assert codes == ["INVALID_INPUT"]

    async def test_delete_returns_the_label_and_removes_only_it(self, operator: Operator) -> None:
        runtime = await register(operator, labels={"gone": "soon", "stays": "here"})

        data = await operator.query(DELETE_LABEL, {"id": runtime["id"], "key": "gone"})

        assert data["result"] == {"key": "gone", "value": "soon"}
        stored = (await operator.query(RUNTIME, {"id": runtime["id"]}))["result"]["labels"]
        assert stored == {"isNormalized": "true", "stays": "here"}

    async def test_delete_of_a_label_the_runtime_lacks_is_not_found(self, operator: Operator) -> None:
        runtime = await register(operator)

        codes = await operator.error_codes(DELETE_LABEL, {"id": runtime["id"], "key": "absent"})

        assert codes == ["NOT_FOUND"]

    async def test_delete_on_an_unknown_runtime_is_not_found(self, operator: Operator) -> None:
        codes = await operator.error_codes(DELETE_LABEL, {"id": UNKNOWN_ID, "key": "k"})

        assert codes == ["NOT_FOUND"]


class TestRuntimesQuery:
    async def test_lists_only_the_runtimes_of_the_callers_tenant(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        other = await tenants.operator()
        await register(other, "foreign")
        mine = [await register(operator, name) for name in ("b-cluster", "a-cluster")]

        data = await operator.query(RUNTIMES)

        assert data["result"]["totalCount"] == 2
        assert [row["name"] for row in data["result"]["data"]] == ["a-cluster", "b-cluster"]
        assert {row["id"] for row in data["result"]["data"]} == {runtime["id"] for runtime in mine}

    async def test_with_labels_runs_the_same_statements_for_few_and_many_runtimes(
        self, tenants: TenantFactory, database: Database
    ) -> None:
        """Count, page and labels: one statement each, whatever the number of runtimes."""
        # given
        few, many = await tenants.operator(), await tenants.operator()
        for index in range(2):
            await register(few, f"few-{index}", labels={"index": index})
        for index in range(6):
            await register(many, f"many-{index}", labels={"index": index})

        # when
        with count_statements(database) as few_statements:
            await few.query(RUNTIMES)
        with count_statements(database) as many_statements:
            await many.query(RUNTIMES)

        # then
        assert len(few_statements) == len(many_statements) == 3


SAFE_NAMES = st.from_regex(r"[a-z0-9]+(-[a-z0-9]+)*", fullmatch=True)


class TestNormalizeName:
    """The names a runtime labelled isNormalized: "true" sees, as Compass's pkg/normalizer forms them."""

    @pytest.mark.parametrize(
        ("name", "normalized"),
        [
            ("My App_1", "mp-my-app-1"),
            ("Shop!!", "mp-shop"),
            ("a--b", "mp-a-b"),
            ("shop", "mp-shop"),
            ("ERP 2000", "mp-erp-2000"),
            ("Zürich", "mp-z-rich"),
            ("İstanbul", "mp-istanbul"),
        ],
    )
    def test_prefixes_lowers_and_replaces(self, name: str, normalized: str) -> None:
        assert normalize_name(name) == normalized

    @pytest.mark.parametrize(
        "name",
        [
            "tEsT-ApPlIcAtIoN",
            "test.application",
            "test$application",
            "test%.-&application",
            "!@#$%test-application",
            "test-application&*^%",
            "[test@application]",
            "---test---application---",
            "test-application-",
            "test-application&--*^-%",
            "---tEsT@ApPlIcAtIoN.!$",
            "test-application",
        ],
    )
    def test_agrees_with_the_cases_of_compass_normalizer_test(self, name: str) -> None:
        assert normalize_name(name) == "mp-test-application"

    @pytest.mark.parametrize("name", ["", "!!!", "-", "___"])
    def test_of_nothing_but_separators_is_the_bare_prefix(self, name: str) -> None:
        """Compass trims the one trailing "-" that "mp-" + "" leaves."""
        assert normalize_name(name) == "mp"

    @pytest.mark.parametrize("name", ["mp-shop", "mp-a-1", "mp-x"])
    def test_keeps_a_name_that_is_already_normalized(self, name: str) -> None:
        assert normalize_name(name) == name

    @pytest.mark.parametrize(
        ("name", "normalized"),
        [("MP-Shop", "mp-mp-shop"), ("mp-shop-", "mp-mp-shop"), ("mp--shop", "mp-mp-shop"), ("mp", "mp-mp")],
    )
    def test_prefixes_a_name_that_only_looks_normalized(self, name: str, normalized: str) -> None:
        assert normalize_name(name) == normalized

    @settings(max_examples=200, deadline=None)
    @given(name=st.text())
    def test_always_gives_a_kubernetes_safe_name(self, name: str) -> None:
        normalized = normalize_name(name)

        assert normalized == "mp" or (
            re.fullmatch(r"mp-[a-z0-9-]*", normalized) is not None
            and "--" not in normalized
            and not normalized.endswith("-")
        )

    @settings(max_examples=200, deadline=None)
    @given(name=st.text())
    def test_is_idempotent_on_what_it_gives(self, name: str) -> None:
        normalized = normalize_name(name)

        if normalized != "mp":
            assert normalize_name(normalized) == normalized

    @settings(max_examples=50, deadline=None)
    @given(name=SAFE_NAMES.filter(lambda name: not name.startswith("mp-")))
    def test_only_prefixes_a_name_that_is_already_safe(self, name: str) -> None:
        assert normalize_name(name) == f"mp-{name}"
