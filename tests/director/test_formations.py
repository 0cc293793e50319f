"""Formations: DEFAULT, create and delete, assign and unassign, and the older way (the ``scenarios`` label)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.support import Operator, TenantFactory

FORMATIONS = """
query { result: formations { data { id name state } pageInfo { startCursor endCursor hasNextPage } totalCount } }
"""
FORMATIONS_PAGE = """
query ($first: Int!, $after: PageCursor) {
  result: formations(first: $first, after: $after) { data { name } pageInfo { endCursor hasNextPage } totalCount }
}
"""
FORMATION_BY_NAME = "query ($name: String!) { result: formationByName(name: $name) { id name state } }"
FORMATIONS_FOR_OBJECT = "query ($id: String!) { result: formationsForObject(objectID: $id) { name } }"
CREATE_FORMATION = """
mutation ($name: String!) { result: createFormation(formation: {name: $name}) { id name state } }
"""
DELETE_FORMATION = "mutation ($name: String!) { result: deleteFormation(formation: {name: $name}) { id name } }"
ASSIGN_FORMATION = """
mutation ($id: ID!, $type: FormationObjectType!, $name: String!) {
  result: assignFormation(objectID: $id, objectType: $type, formation: {name: $name}) { id name }
}
"""
UNASSIGN_FORMATION = """
mutation ($id: ID!, $type: FormationObjectType!, $name: String!) {
  result: unassignFormation(objectID: $id, objectType: $type, formation: {name: $name}) { id name }
}
"""
REGISTER_APPLICATION = "mutation ($name: String!) { result: registerApplication(in: {name: $name}) { id } }"
REGISTER_RUNTIME = "mutation ($name: String!) { result: registerRuntime(in: {name: $name}) { id } }"
REGISTER_APPLICATION_WITH_LABELS = """
mutation ($name: String!, $labels: Labels) { result: registerApplication(in: {name: $name, labels: $labels}) { id } }
"""
REGISTER_RUNTIME_WITH_LABELS = """
mutation ($name: String!, $labels: Labels) { result: registerRuntime(in: {name: $name, labels: $labels}) { id } }
"""
APPLICATION_LABELS = "query ($id: ID!) { result: application(id: $id) { labels } }"
RUNTIME_LABELS = "query ($id: ID!) { result: runtime(id: $id) { labels } }"
SET_APPLICATION_LABEL = """
mutation ($id: ID!, $value: Any!) {
  result: setApplicationLabel(applicationID: $id, key: "scenarios", value: $value) { key value }
}
"""
SET_RUNTIME_LABEL = """
mutation ($id: ID!, $value: Any!) {
  result: setRuntimeLabel(runtimeID: $id, key: "scenarios", value: $value) { key value }
}
"""

OBJECT_TYPES = ["APPLICATION", "RUNTIME"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def create_formation(operator: Operator, name: str | None = None) -> str:
    data = await operator.query(CREATE_FORMATION, {"name": name or unique("formation")})
    return str(data["result"]["name"])


async def register(operator: Operator, object_type: str) -> str:
    document = REGISTER_APPLICATION if object_type == "APPLICATION" else REGISTER_RUNTIME
    data = await operator.query(document, {"name": unique(object_type.lower())})
    return str(data["result"]["id"])


async def labels_of(operator: Operator, object_type: str, object_id: str) -> dict[str, Any]:
    document = APPLICATION_LABELS if object_type == "APPLICATION" else RUNTIME_LABELS
    data = await operator.query(document, {"id": object_id})
    return dict(data["result"]["labels"] or {})


async def assign(operator: Operator, object_type: str, object_id: str, name: str) -> dict[str, Any]:
    return await operator.query(ASSIGN_FORMATION, {"id": object_id, "type": object_type, "name": name})


async def assign_body(operator: Operator, object_type: str, object_id: str, name: str) -> dict[str, Any]:
    return await operator.execute(ASSIGN_FORMATION, {"id": object_id, "type": object_type, "name": name})


async def set_scenarios(operator: Operator, object_type: str, object_id: str, value: Any) -> dict[str, Any]:
    document = SET_APPLICATION_LABEL if object_type == "APPLICATION" else SET_RUNTIME_LABEL
    return await operator.execute(document, {"id": object_id, "value": value})


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


class TestDefaultFormation:
    async def test_every_new_tenant_has_only_the_default_formation(self, operator: Operator) -> None:
        data = await operator.query(FORMATIONS)
        page = data["result"]
        assert [formation["name"] for formation in page["data"]] == ["DEFAULT"]
        assert page["totalCount"] == 1
        assert page["pageInfo"]["hasNextPage"] is False
        assert page["pageInfo"]["endCursor"] == ""

    async def test_default_formation_is_found_by_name(self, operator: Operator) -> None:
        data = await operator.query(FORMATION_BY_NAME, {"name": "DEFAULT"})
        assert data["result"]["name"] == "DEFAULT"
        assert data["result"]["id"]

    async def test_default_formation_cannot_be_deleted(self, operator: Operator) -> None:
        assert await operator.error_codes(DELETE_FORMATION, {"name": "DEFAULT"}) == ["INVALID_INPUT"]
        assert (await operator.query(FORMATION_BY_NAME, {"name": "DEFAULT"}))["result"] is not None


class TestCreateFormation:
    async def test_created_formation_is_listed_and_found_by_name(self, operator: Operator) -> None:
        # when
        created = (await operator.query(CREATE_FORMATION, {"name": "production"}))["result"]
        # then
        assert created["name"] == "production"
        assert (await operator.query(FORMATION_BY_NAME, {"name": "production"}))["result"] == created
        page = (await operator.query(FORMATIONS))["result"]
        assert [formation["name"] for formation in page["data"]] == ["DEFAULT", "production"]
        assert page["totalCount"] == 2

    async def test_formations_are_paged_by_name(self, operator: Operator) -> None:
        # given
        for name in ("c-formation", "a-formation", "b-formation"):
            await create_formation(operator, name)
        # when
        first = (await operator.query(FORMATIONS_PAGE, {"first": 3}))["result"]
        after = first["pageInfo"]["endCursor"]
        second = (await operator.query(FORMATIONS_PAGE, {"first": 3, "after": after}))["result"]
        # then
        assert [f["name"] for f in first["data"]] == ["DEFAULT", "a-formation", "b-formation"]
        assert first["pageInfo"]["hasNextPage"] is True
        assert [f["name"] for f in second["data"]] == ["c-formation"]
        assert second["pageInfo"] == {"endCursor": "", "hasNextPage": False}
        assert first["totalCount"] == second["totalCount"] == 4

    async def test_unknown_formation_by_name_is_null(self, operator: Operator) -> None:
        assert (await operator.query(FORMATION_BY_NAME, {"name": "nothing-here"}))["result"] is None

    async def test_creating_a_formation_twice_is_a_conflict(self, operator: Operator) -> None:
        await create_formation(operator, "twice")
        assert await operator.error_codes(CREATE_FORMATION, {"name": "twice"}) == ["CONFLICT"]

    async def test_creating_default_again_is_a_conflict(self, operator: Operator) -> None:
        assert await operator.error_codes(CREATE_FORMATION, {"name": "DEFAULT"}) == ["CONFLICT"]

    @pytest.mark.parametrize("name", ["", "-leading-dash", "trailing_", "with/slash", "x" * 257])
    async def test_a_malformed_name_is_invalid_input(self, operator: Operator, name: str) -> None:
        assert await operator.error_codes(CREATE_FORMATION, {"name": name}) == ["INVALID_INPUT"]

    async def test_formations_of_another_tenant_are_invisible(self, tenants: TenantFactory) -> None:
        # given
        owner = await tenants.operator()
        stranger = await tenants.operator()
        name = await create_formation(owner)
        # then
        assert (await stranger.query(FORMATION_BY_NAME, {"name": name}))["result"] is None
        assert [f["name"] for f in (await stranger.query(FORMATIONS))["result"]["data"]] == ["DEFAULT"]


@pytest.mark.parametrize("object_type", OBJECT_TYPES)
class TestAssignFormation:
    async def test_assigning_adds_the_formation_to_the_scenarios_label(
        self, operator: Operator, object_type: str
    ) -> None:
        # given
        object_id = await register(operator, object_type)
        name = await create_formation(operator)
        # when
        data = await assign(operator, object_type, object_id, name)
        # then
        assert data["result"]["name"] == name
        assert (await labels_of(operator, object_type, object_id))["scenarios"] == [name]

    async def test_assigning_a_second_formation_keeps_the_first(
        self, operator: Operator, object_type: str
    ) -> None:
        object_id = await register(operator, object_type)
        first, second = await create_formation(operator), await create_formation(operator)
        await assign(operator, object_type, object_id, first)
        await assign(operator, object_type, object_id, second)
        assert (await labels_of(operator, object_type, object_id))["scenarios"] == [first, second]

    async def test_assigning_twice_is_idempotent(self, operator: Operator, object_type: str) -> None:
        object_id = await register(operator, object_type)
        name = await create_formation(operator)
        await assign(operator, object_type, object_id, name)
        data = await assign(operator, object_type, object_id, name)
        assert data["result"]["name"] == name
        assert (await labels_of(operator, object_type, object_id))["scenarios"] == [name]

    async def test_assigning_to_a_formation_that_does_not_exist_is_not_found(
        self, operator: Operator, object_type: str
    ) -> None:
        object_id = await register(operator, object_type)
        variables = {"id": object_id, "type": object_type, "name": "missing"}
        body = await operator.execute(ASSIGN_FORMATION, variables)
        assert codes(body) == ["NOT_FOUND"]
        assert "scenarios" not in await labels_of(operator, object_type, object_id)

    async def test_assigning_to_a_formation_of_another_tenant_is_not_found(
        self, tenants: TenantFactory, object_type: str
    ) -> None:
        operator, other = await tenants.operator(), await tenants.operator()
        object_id = await register(operator, object_type)
        foreign = await create_formation(other)
        body = await operator.execute(ASSIGN_FORMATION, {"id": object_id, "type": object_type, "name": foreign})
        assert codes(body) == ["NOT_FOUND"]

    async def test_assigning_an_object_that_does_not_exist_is_not_found(
        self, operator: Operator, object_type: str
    ) -> None:
        variables = {"id": str(uuid.uuid4()), "type": object_type, "name": "DEFAULT"}
        assert await operator.error_codes(ASSIGN_FORMATION, variables) == ["NOT_FOUND"]

    async def test_assigning_an_object_of_another_tenant_is_not_found(
        self, tenants: TenantFactory, object_type: str
    ) -> None:
        operator, other = await tenants.operator(), await tenants.operator()
        foreign_id = await register(other, object_type)
        variables = {"id": foreign_id, "type": object_type, "name": "DEFAULT"}
        assert await operator.error_codes(ASSIGN_FORMATION, variables) == ["NOT_FOUND"]
        assert "scenarios" not in await labels_of(other, object_type, foreign_id)

    async def test_unassigning_removes_only_that_formation(
        self, operator: Operator, object_type: str
    ) -> None:
        # given
        object_id = await register(operator, object_type)
        first, second = await create_formation(operator), await create_formation(operator)
        await assign(operator, object_type, object_id, first)
        await assign(operator, object_type, object_id, second)
        # when
        variables = {"id": object_id, "type": object_type, "name": first}
        data = await operator.query(UNASSIGN_FORMATION, variables)
        # then
        assert data["result"]["name"] == first
        assert (await labels_of(operator, object_type, object_id))["scenarios"] == [second]

    async def test_unassigning_the_last_formation_removes_the_scenarios_label(
        self, operator: Operator, object_type: str
    ) -> None:
        object_id = await register(operator, object_type)
        name = await create_formation(operator)
        await assign(operator, object_type, object_id, name)
        await operator.query(UNASSIGN_FORMATION, {"id": object_id, "type": object_type, "name": name})
        assert "scenarios" not in await labels_of(operator, object_type, object_id)

    async def test_unassigning_a_formation_not_assigned_changes_nothing(
        self, operator: Operator, object_type: str
    ) -> None:
        object_id = await register(operator, object_type)
        assigned, other = await create_formation(operator), await create_formation(operator)
        await assign(operator, object_type, object_id, assigned)
        await operator.query(UNASSIGN_FORMATION, {"id": object_id, "type": object_type, "name": other})
        assert (await labels_of(operator, object_type, object_id))["scenarios"] == [assigned]

    async def test_formations_for_object_lists_its_formations(
        self, operator: Operator, object_type: str
    ) -> None:
        object_id = await register(operator, object_type)
        first, second = await create_formation(operator, "alpha"), await create_formation(operator, "beta")
        await assign(operator, object_type, object_id, second)
        await assign(operator, object_type, object_id, first)
        data = await operator.query(FORMATIONS_FOR_OBJECT, {"id": object_id})
        assert sorted(formation["name"] for formation in data["result"]) == ["alpha", "beta"]


@pytest.mark.parametrize("object_type", OBJECT_TYPES)
async def test_concurrent_assignments_to_one_object_keep_every_formation(operator: Operator, object_type: str) -> None:
    # given
    object_id = await register(operator, object_type)
    names = [await create_formation(operator) for _ in range(6)]
    # when
    bodies = await asyncio.gather(
        *(operator.execute(ASSIGN_FORMATION, {"id": object_id, "type": object_type, "name": name}) for name in names)
    )
    # then
    assert [codes(body) for body in bodies] == [[]] * len(names)
    assert sorted((await labels_of(operator, object_type, object_id))["scenarios"]) == sorted(names)


async def test_a_formation_deleted_while_being_assigned_is_never_left_in_a_label(operator: Operator) -> None:
    # given
    object_ids = [await register(operator, "RUNTIME") for _ in range(4)]
    name = await create_formation(operator)
    # when
    *assigned, deleted = await asyncio.gather(
        *(assign_body(operator, "RUNTIME", object_id, name) for object_id in object_ids),
        operator.execute(DELETE_FORMATION, {"name": name}),
    )
    # then either the deletion lost, or every assignment that came after it did
    in_label = [name in (await labels_of(operator, "RUNTIME", object_id)).get("scenarios", []) for object_id in object_ids]
    if codes(deleted) == ["CONFLICT"]:
        assert (await operator.query(FORMATION_BY_NAME, {"name": name}))["result"] is not None
        assert any(in_label)
    else:
        assert codes(deleted) == []
        assert not any(in_label)
        assert {tuple(codes(body)) for body in assigned} <= {("NOT_FOUND",)}


async def test_assign_formation_written_inline_as_compass_clients_send_it(operator: Operator) -> None:
    runtime_id = await register(operator, "RUNTIME")
    document = f"""mutation {{
      result: assignFormation(objectID: "{runtime_id}", objectType: RUNTIME, formation: {{name: "DEFAULT"}}) {{
        id name state
      }}
    }}"""
    data = await operator.query(document)
    assert data["result"]["name"] == "DEFAULT"
    assert (await labels_of(operator, "RUNTIME", runtime_id))["scenarios"] == ["DEFAULT"]


async def test_assigning_a_whole_tenant_is_invalid_input(operator: Operator) -> None:
    variables = {"id": operator.tenant_id, "type": "TENANT", "name": "DEFAULT"}
    assert await operator.error_codes(ASSIGN_FORMATION, variables) == ["INVALID_INPUT"]


async def test_formations_for_an_object_without_formations_is_empty(operator: Operator) -> None:
    object_id = await register(operator, "APPLICATION")
    assert (await operator.query(FORMATIONS_FOR_OBJECT, {"id": object_id}))["result"] == []


class TestDeleteFormation:
    @pytest.mark.parametrize("object_type", OBJECT_TYPES)
    async def test_deleting_a_formation_with_assigned_objects_is_a_conflict(
        self, operator: Operator, object_type: str
    ) -> None:
        # given
        object_id = await register(operator, object_type)
        name = await create_formation(operator)
        await assign(operator, object_type, object_id, name)
        # when
        codes_ = await operator.error_codes(DELETE_FORMATION, {"name": name})
        # then
        assert codes_ == ["CONFLICT"]
        assert (await operator.query(FORMATION_BY_NAME, {"name": name}))["result"] is not None

    async def test_deleting_a_formation_after_unassigning_everything_succeeds(
        self, operator: Operator
    ) -> None:
        # given
        application_id = await register(operator, "APPLICATION")
        runtime_id = await register(operator, "RUNTIME")
        name = await create_formation(operator)
        await assign(operator, "APPLICATION", application_id, name)
        await assign(operator, "RUNTIME", runtime_id, name)
        await operator.query(UNASSIGN_FORMATION, {"id": application_id, "type": "APPLICATION", "name": name})
        await operator.query(UNASSIGN_FORMATION, {"id": runtime_id, "type": "RUNTIME", "name": name})
        # when
        data = await operator.query(DELETE_FORMATION, {"name": name})
        # then
        assert data["result"]["name"] == name
        assert (await operator.query(FORMATION_BY_NAME, {"name": name}))["result"] is None

    async def test_deleting_a_formation_that_does_not_exist_is_not_found(self, operator: Operator) -> None:
        assert await operator.error_codes(DELETE_FORMATION, {"name": "missing"}) == ["NOT_FOUND"]

    async def test_a_formation_in_use_elsewhere_does_not_block_deleting_one_of_the_same_name(
        self, tenants: TenantFactory
    ) -> None:
        # given: the same formation name in two tenants, in use only in the other one
        operator, other = await tenants.operator(), await tenants.operator()
        await create_formation(operator, "shared-name")
        await create_formation(other, "shared-name")
        await assign(other, "RUNTIME", await register(other, "RUNTIME"), "shared-name")
        # then
        data = await operator.query(DELETE_FORMATION, {"name": "shared-name"})
        assert data["result"]["name"] == "shared-name"


@pytest.mark.parametrize("object_type", OBJECT_TYPES)
class TestScenariosLabel:
    async def test_setting_the_scenarios_label_assigns_formations(
        self, operator: Operator, object_type: str
    ) -> None:
        # given
        object_id = await register(operator, object_type)
        name = await create_formation(operator)
        # when
        body = await set_scenarios(operator, object_type, object_id, ["DEFAULT", name])
        # then
        assert codes(body) == []
        assert body["data"]["result"] == {"key": "scenarios", "value": ["DEFAULT", name]}
        assert (await labels_of(operator, object_type, object_id))["scenarios"] == ["DEFAULT", name]
        formations = (await operator.query(FORMATIONS_FOR_OBJECT, {"id": object_id}))["result"]
        assert sorted(formation["name"] for formation in formations) == sorted(["DEFAULT", name])

    async def test_formations_assigned_by_label_block_deleting_them(
        self, operator: Operator, object_type: str
    ) -> None:
        object_id = await register(operator, object_type)
        name = await create_formation(operator)
        await set_scenarios(operator, object_type, object_id, [name])
        assert await operator.error_codes(DELETE_FORMATION, {"name": name}) == ["CONFLICT"]

    async def test_assign_formation_adds_to_a_label_set_the_older_way(
        self, operator: Operator, object_type: str
    ) -> None:
        object_id = await register(operator, object_type)
        name = await create_formation(operator)
        await set_scenarios(operator, object_type, object_id, ["DEFAULT"])
        await assign(operator, object_type, object_id, name)
        assert (await labels_of(operator, object_type, object_id))["scenarios"] == ["DEFAULT", name]

    async def test_an_unknown_formation_name_is_invalid_input(
        self, operator: Operator, object_type: str
    ) -> None:
        # given
        object_id = await register(operator, object_type)
        await set_scenarios(operator, object_type, object_id, ["DEFAULT"])
        # when
        body = await set_scenarios(operator, object_type, object_id, ["DEFAULT", "no-such-formation"])
        # then
        assert codes(body) == ["INVALID_INPUT"]
        assert "no-such-formation" in body["errors"][0]["message"]
        assert (await labels_of(operator, object_type, object_id))["scenarios"] == ["DEFAULT"]

    async def test_registering_with_a_scenarios_label_assigns_formations(
        self, operator: Operator, object_type: str
    ) -> None:
        # given
        name = await create_formation(operator)
        document = REGISTER_APPLICATION_WITH_LABELS if object_type == "APPLICATION" else REGISTER_RUNTIME_WITH_LABELS
        # when
        data = await operator.query(document, {"name": unique("object"), "labels": {"scenarios": [name]}})
        # then
        object_id = data["result"]["id"]
        assert (await labels_of(operator, object_type, object_id))["scenarios"] == [name]
        formations = (await operator.query(FORMATIONS_FOR_OBJECT, {"id": object_id}))["result"]
        assert [formation["name"] for formation in formations] == [name]

    async def test_registering_with_an_unknown_formation_in_the_scenarios_label_is_invalid_input(
        self, operator: Operator, object_type: str
    ) -> None:
        document = REGISTER_APPLICATION_WITH_LABELS if object_type == "APPLICATION" else REGISTER_RUNTIME_WITH_LABELS
        variables = {"name": unique("object"), "labels": {"scenarios": ["no-such-formation"]}}
        assert await operator.error_codes(document, variables) == ["INVALID_INPUT"]

    @pytest.mark.parametrize("value", ["DEFAULT", {"name": "DEFAULT"}, 1, [1], [["DEFAULT"]]])
    async def test_a_value_that_is_not_a_list_of_names_is_invalid_input(
        self, operator: Operator, object_type: str, value: Any
    ) -> None:
        object_id = await register(operator, object_type)
        assert codes(await set_scenarios(operator, object_type, object_id, value)) == ["INVALID_INPUT"]
        assert "scenarios" not in await labels_of(operator, object_type, object_id)
