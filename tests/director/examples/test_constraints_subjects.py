"""Compass-style documents (every field selected, values inline, a ``result:`` alias) for scenario groups on an
application's one-time token, the ContainsScenarioGroups formation constraint, and a certificate subject mapping
for an external certificate (its use by a certificate is tests/security/test_certificate_subject_mappings.py)."""

from __future__ import annotations

import pytest

from kernel.principal import ALL_SCOPES, PLATFORM_SCOPES
from tests.director.examples.test_formations import (
    CONSTRAINT,
    FORMATION,
    create_formation,
    create_template,
    unique,
)
from tests.director.examples.test_shared_types import ONE_TIME_TOKEN
from tests.support import DIRECTOR, Operator, TenantFactory

CONTAINS_SCENARIO_GROUPS_TEMPLATE = (
    r'"{\"resource_type\": \"{{.ResourceType}}\",\"resource_subtype\": \"{{.ResourceSubtype}}\",'
    r'\"resource_id\": \"{{.ResourceID}}\",\"tenant\": \"{{.TenantID}}\",\"requiredScenarioGroups\": [\"group-a\"]}"'
)


@pytest.fixture
async def operator(tenants: TenantFactory) -> Operator:
    """Every scope, the platform ones too: formation constraints and subject mappings are global."""
    return await tenants.operator(scopes=sorted(ALL_SCOPES | PLATFORM_SCOPES))


async def register_connected_application(operator: Operator) -> str:
    data = await operator.query(f"""
mutation {{
  result: registerApplication(in: {{
    name: "{unique("app")}", statusCondition: CONNECTED, labels: {{ applicationType: "async-app-type-1" }}
  }}) {{ id }}
}}
""")
    return str(data["result"]["id"])


async def token_with_groups(operator: Operator, application_id: str, groups: str) -> dict[str, object]:
    document = f'mutation {{ result: requestOneTimeTokenForApplication(id: "{application_id}") {{ {ONE_TIME_TOKEN} }} }}'
    headers = {**operator.headers, "scenario_groups": groups}
    body = (await operator.client.post(DIRECTOR, json={"query": document}, headers=headers)).json()
    assert "errors" not in body, body
    result: dict[str, object] = body["data"]["result"]
    return result


async def test_request_one_time_token_for_application_with_scenario_groups(operator: Operator) -> None:
    # given
    application_id = await register_connected_application(operator)

    # when
    token = await token_with_groups(operator, application_id, "group-a, group-b")

    # then
    assert (token["__typename"], token["scenarioGroups"]) == ("OneTimeTokenForApplication", ["group-a", "group-b"])


async def test_assign_formation_under_contains_scenario_groups(operator: Operator) -> None:
    # given
    template = await create_template(operator, unique("grouped"))
    name = unique("grouped")
    await create_formation(operator, name, f'templateName: "{template["name"]}"')
    data = await operator.query(f"""
mutation {{
  result: createFormationConstraint(
    formationConstraint: {{
      name: "{unique("contains_scenario_groups")}"
      description: "only applications paired for group-a"
      constraintType: PRE
      targetOperation: ASSIGN_FORMATION
      operator: "ContainsScenarioGroups"
      resourceType: APPLICATION
      resourceSubtype: "async-app-type-1"
      inputTemplate: {CONTAINS_SCENARIO_GROUPS_TEMPLATE}
      constraintScope: FORMATION_TYPE
      priority: 1
    }}
  ) {{ {CONSTRAINT} }}
}}
""")
    constraint = data["result"]
    await operator.query(f"""
mutation {{
  result: attachConstraintToFormationTemplate(constraintID: "{constraint["id"]}", formationTemplateID: "{template["id"]}") {{
    constraintID formationTemplateID
  }}
}}
""")
    paired = await register_connected_application(operator)
    await token_with_groups(operator, paired, "group-a")
    other = await register_connected_application(operator)
    await token_with_groups(operator, other, "group-z")

    # when
    admitted = await operator.query(f"""
mutation {{
  result: assignFormation(objectID: "{paired}", objectType: APPLICATION, formation: {{ name: "{name}" }}) {{ {FORMATION} }}
}}
""")
    refused = await operator.execute(f"""
mutation {{
  result: assignFormation(objectID: "{other}", objectType: APPLICATION, formation: {{ name: "{name}" }}) {{ {FORMATION} }}
}}
""")

    # then
    assert constraint["operator"] == "ContainsScenarioGroups"
    assert admitted["result"]["name"] == name
    assert [error["extensions"]["code"] for error in refused["errors"]] == ["CONFLICT"]


async def test_create_certificate_subject_mapping_for_an_external_runtime(operator: Operator) -> None:
    # when
    data = await operator.query("""
mutation {
  result: createCertificateSubjectMapping(in: {
    subject: "C=DE, O=Org, OU=Region, OU=unit, L=Walldorf, CN=edge-runtime"
    consumerType: "Runtime"
    internalConsumerID: "a5a5a5a5-0000-4000-8000-000000000001"
    tenantAccessLevels: ["account", "subaccount"]
  }) { id subject consumerType internalConsumerID tenantAccessLevels createdAt updatedAt }
}
""")

    # then
    result = data["result"]
    assert (result["consumerType"], result["internalConsumerID"], result["tenantAccessLevels"]) == (
        "Runtime",
        "a5a5a5a5-0000-4000-8000-000000000001",
        ["account", "subaccount"],
    )
