"""Scenario groups: recorded on an application's one-time tokens from the request's ``scenario_groups`` header, and
the ContainsScenarioGroups formation constraint that reads the application's latest token."""

from __future__ import annotations

import json

import pytest

from kernel.principal import ALL_SCOPES, PLATFORM_SCOPES
from tests.director.examples.test_formations import unique
from tests.director.test_formation_templates import attach, typed_formation
from tests.support import DIRECTOR, Operator, TenantFactory

TOKEN = 'mutation {{ result: requestOneTimeTokenForApplication(id: "{id}") {{ scenarioGroups }} }}'
RAW = 'mutation {{ result: requestOneTimeTokenForApplication(id: "{id}") {{ raw }} }}'
REQUIRED = ["group-a", "group-b"]


@pytest.fixture
async def operator(tenants: TenantFactory) -> Operator:
    """Every scope, the platform scope formation_constraint:write too: formation constraints are global."""
    return await tenants.operator(scopes=sorted(ALL_SCOPES | PLATFORM_SCOPES))


async def request_token(operator: Operator, application_id: str, groups: str | None) -> list[str]:
    headers = operator.headers if groups is None else {**operator.headers, "scenario_groups": groups}
    response = await operator.client.post(DIRECTOR, json={"query": TOKEN.format(id=application_id)}, headers=headers)
    body = response.json()
    assert "errors" not in body, body
    groups_back: list[str] = body["data"]["result"]["scenarioGroups"]
    return groups_back


async def application(operator: Operator, status: str = "CONNECTED") -> str:
    data = await operator.query(f"""
mutation {{
  result: registerApplication(in: {{
    name: "{unique("app")}", statusCondition: {status}, labels: {{ applicationType: "async-app-type-1" }}
  }}) {{ id }}
}}
""")
    return str(data["result"]["id"])


async def constrained_formation(operator: Operator, required: list[str] = REQUIRED) -> str:
    """A formation whose template carries a ContainsScenarioGroups constraint requiring ``required``."""
    name, template_id = await typed_formation(operator)
    template = json.dumps({
        "resource_type": "{{.ResourceType}}",
        "resource_subtype": "{{.ResourceSubtype}}",
        "resource_id": "{{.ResourceID}}",
        "tenant": "{{.TenantID}}",
        "requiredScenarioGroups": required,
    })
    data = await operator.query(f"""
mutation {{
  result: createFormationConstraint(formationConstraint: {{
    name: "{unique("groups")}", constraintType: PRE, targetOperation: ASSIGN_FORMATION,
    operator: "ContainsScenarioGroups", resourceType: APPLICATION, resourceSubtype: "async-app-type-1",
    constraintScope: FORMATION_TYPE, inputTemplate: {json.dumps(template)}
  }}) {{ id }}
}}
""")
    await attach(operator, data["result"]["id"], template_id)
    return name


async def assign_errors(operator: Operator, application_id: str, name: str) -> list[dict[str, object]]:
    body = await operator.execute(f"""
mutation {{ result: assignFormation(objectID: "{application_id}", objectType: APPLICATION, formation: {{ name: "{name}" }}) {{ name }} }}
""")
    errors: list[dict[str, object]] = body.get("errors", [])
    return errors


class TestTokens:
    async def test_the_header_groups_are_recorded_on_the_token(self, operator: Operator) -> None:
        groups = await request_token(operator, await application(operator), "group-a, group-b")
        assert groups == ["group-a", "group-b"]

    async def test_a_token_without_the_header_has_no_groups(self, operator: Operator) -> None:
        assert await request_token(operator, await application(operator), None) == []

    async def test_raw_carries_the_groups_as_compass_writes_them(self, operator: Operator) -> None:
        document = RAW.format(id=await application(operator))
        headers = {**operator.headers, "scenario_groups": "group-a"}
        body = (await operator.client.post(DIRECTOR, json={"query": document}, headers=headers)).json()
        assert json.loads(body["data"]["result"]["raw"])["scenario_groups"] == ["group-a"]


class TestContainsScenarioGroups:
    async def test_a_connected_application_whose_token_has_a_required_group_is_assigned(self, operator: Operator) -> None:
        name = await constrained_formation(operator)
        application_id = await application(operator)
        await request_token(operator, application_id, "group-b")
        assert await assign_errors(operator, application_id, name) == []

    async def test_a_token_of_no_required_group_is_refused(self, operator: Operator) -> None:
        name = await constrained_formation(operator)
        application_id = await application(operator)
        await request_token(operator, application_id, "group-c")
        errors = await assign_errors(operator, application_id, name)
        assert [error["extensions"] for error in errors] == [{"code": "CONFLICT"}]
        assert "Operator 'ContainsScenarioGroups' is not satisfied" in str(errors[0]["message"])

    async def test_an_application_without_a_token_is_refused(self, operator: Operator) -> None:
        name = await constrained_formation(operator)
        errors = await assign_errors(operator, await application(operator), name)
        assert "is not satisfied" in str(errors[0]["message"])

    async def test_an_application_that_is_not_connected_is_refused(self, operator: Operator) -> None:
        name = await constrained_formation(operator)
        application_id = await application(operator, "INITIAL")
        await request_token(operator, application_id, "group-a")
        errors = await assign_errors(operator, application_id, name)
        assert f"Application with ID {application_id!r} is not in status CONNECTED" in str(errors[0]["message"])

    async def test_a_token_requested_without_groups_admits_any(self, operator: Operator) -> None:
        """Compass reads such tokens as legacy ones: unrestricted."""
        name = await constrained_formation(operator)
        application_id = await application(operator)
        await request_token(operator, application_id, None)
        assert await assign_errors(operator, application_id, name) == []

    async def test_only_the_latest_token_counts(self, operator: Operator) -> None:
        name = await constrained_formation(operator)
        application_id = await application(operator)
        await request_token(operator, application_id, "group-a")
        await request_token(operator, application_id, "group-c")
        assert len(await assign_errors(operator, application_id, name)) == 1

    async def test_groups_sent_as_pairing_objects_match_by_key(self, operator: Operator) -> None:
        name = await constrained_formation(operator)
        application_id = await application(operator)
        # Compass splits the header at ", ", so the objects are written without that separator.
        await request_token(operator, application_id, '{"key":"group-a","description":"A"}, {"key":"group-x"}')
        assert await assign_errors(operator, application_id, name) == []

    async def test_no_required_groups_admit_any_application(self, operator: Operator) -> None:
        name = await constrained_formation(operator, [])
        assert await assign_errors(operator, await application(operator, "INITIAL"), name) == []

    async def test_a_runtime_is_an_unsupported_resource_type(self, operator: Operator) -> None:
        """The operator judges applications only: a constraint on runtimes errs, as Compass's does."""
        name, template_id = await typed_formation(operator)
        template = json.dumps({"resource_type": "{{.ResourceType}}", "resource_id": "{{.ResourceID}}", "requiredScenarioGroups": ["x"]})
        data = await operator.query(f"""
mutation {{
  result: createFormationConstraint(formationConstraint: {{
    name: "{unique("groups")}", constraintType: PRE, targetOperation: ASSIGN_FORMATION,
    operator: "ContainsScenarioGroups", resourceType: RUNTIME, resourceSubtype: "runtimeTypeTest",
    constraintScope: FORMATION_TYPE, inputTemplate: {json.dumps(template)}
  }}) {{ id }}
}}
""")
        await attach(operator, data["result"]["id"], template_id)
        runtime = await operator.query(f"""
mutation {{ result: registerRuntime(in: {{ name: "{unique("rt")}", labels: {{ runtimeType: "runtimeTypeTest" }} }}) {{ id }} }}
""")
        codes = await operator.error_codes(f"""
mutation {{ result: assignFormation(objectID: "{runtime["result"]["id"]}", objectType: RUNTIME, formation: {{ name: "{name}" }}) {{ name }} }}
""")
        assert codes == ["CONFLICT"]
