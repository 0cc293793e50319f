"""Compass-style documents (every field selected, values inline, a ``result:`` alias) for formations, their
assignments and lifecycle, formation templates and formation constraints."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from kernel.principal import ALL_SCOPES, PLATFORM_SCOPES
from tests.director.examples.test_shared_types import WEBHOOK
from tests.support import Operator, TenantFactory

DEFAULT_TEMPLATE_ID = "5b0b9f4f-6a6b-4d54-9a5e-6f1c5d3c0a11"
PARTICIPANT = """
    __typename
    ... on Application { id name }
    ... on Runtime { id name }
    ... on RuntimeContext { id key value }
"""
ASSIGNMENT = f"""
    id
    source
    sourceType
    sourceEntity {{ {PARTICIPANT} }}
    target
    targetType
    targetEntity {{ {PARTICIPANT} }}
    state
    value
    configuration
    error
    lastStateChangeTimestamp
    lastNotificationSentTimestamp
    assignmentOperations {{
      data {{ id operationType formationAssignmentID formationID triggeredBy startedAtTimestamp finishedAtTimestamp }}
      pageInfo {{ startCursor endCursor hasNextPage }}
      totalCount
    }}
"""
FORMATION = f"""
    id
    name
    formationTemplateId
    tenantID
    state
    error {{ message errorCode }}
    status {{ condition errors {{ assignmentID message errorCode }} }}
    formationAssignments {{ data {{ {ASSIGNMENT} }} pageInfo {{ startCursor endCursor hasNextPage }} totalCount }}
    lastStateChangeTimestamp
    lastNotificationSentTimestamp
"""
CONSTRAINT = """
    id
    name
    description
    constraintType
    targetOperation
    operator
    resourceType
    resourceSubtype
    inputTemplate
    constraintScope
    priority
    createdAt
"""
TEMPLATE = f"""
    id
    name
    applicationTypes
    runtimeTypes
    runtimeTypeDisplayName
    runtimeArtifactKind
    leadingProductIDs
    supportsReset
    discoveryConsumers
    labels
    webhooks {{ {WEBHOOK} }}
    formationConstraints {{ {CONSTRAINT} }}
    createdAt
    updatedAt
"""
TEMPLATE_PAGE = f"data {{ {TEMPLATE} }} pageInfo {{ startCursor endCursor hasNextPage }} totalCount"
CONSTRAINT_INPUT_TEMPLATE = (
    r'"{\"formation_template_id\": \"{{.FormationTemplateID}}\",\"resource_type\": \"{{.ResourceType}}\",'
    r'\"resource_subtype\": \"{{.ResourceSubtype}}\",\"resource_id\": \"{{.ResourceID}}\",\"tenant\": \"{{.TenantID}}\"}"'
)


@pytest.fixture
async def operator(tenants: TenantFactory) -> Operator:
    """Every scope, the platform scope formation_constraint:write too: formation constraints are global."""
    return await tenants.operator(scopes=sorted(ALL_SCOPES | PLATFORM_SCOPES))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def create_template(
    operator: Operator, name: str, *, supports_reset: bool = False, lifecycle_webhook: bool = True
) -> dict[str, Any]:
    webhooks = '[{ type: FORMATION_LIFECYCLE, url: "http://localhost:6439/", mode: SYNC }]' if lifecycle_webhook else "[]"
    data = await operator.query(f"""
mutation {{
  result: createFormationTemplate(
    in: {{
      name: "{name}"
      applicationTypes: ["async-app-type-1"]
      runtimeTypes: ["runtimeTypeTest"]
      runtimeTypeDisplayName: "{name}"
      runtimeArtifactKind: ENVIRONMENT_INSTANCE
      leadingProductIDs: ["leading-product-id"]
      supportsReset: {"true" if supports_reset else "false"}
      discoveryConsumers: ["async-app-type-1"]
      labels: {{ region: "eu-1" }}
      webhooks: {webhooks}
    }}
  ) {{ {TEMPLATE} }}
}}
""")
    result: dict[str, Any] = data["result"]
    return result


async def create_formation(operator: Operator, name: str, extra: str = "") -> dict[str, Any]:
    data = await operator.query(f'mutation {{ result: createFormation(formation: {{ name: "{name}" {extra} }}) {{ {FORMATION} }} }}')
    result: dict[str, Any] = data["result"]
    return result


async def register_application(operator: Operator, application_type: str = "async-app-type-1") -> str:
    data = await operator.query(f"""
mutation {{
  result: registerApplication(in: {{ name: "{unique("app")}", labels: {{ applicationType: "{application_type}" }} }}) {{ id }}
}}
""")
    return str(data["result"]["id"])


async def register_runtime(operator: Operator) -> str:
    data = await operator.query(f"""
mutation {{ result: registerRuntime(in: {{ name: "{unique("runtime")}", labels: {{ runtimeType: "runtimeTypeTest" }} }}) {{ id }} }}
""")
    return str(data["result"]["id"])


async def assign(operator: Operator, object_type: str, object_id: str, name: str, extra: str = "") -> dict[str, Any]:
    data = await operator.query(f"""
mutation {{
  result: assignFormation(objectID: "{object_id}", objectType: {object_type}, formation: {{ name: "{name}" }} {extra}) {{
    {FORMATION}
  }}
}}
""")
    result: dict[str, Any] = data["result"]
    return result


async def create_constraint(operator: Operator, subtype: str, scope: str = "FORMATION_TYPE") -> dict[str, Any]:
    data = await operator.query(f"""
mutation {{
  result: createFormationConstraint(
    formationConstraint: {{
      name: "{unique("test_constraint")}"
      description: "description"
      constraintType: PRE
      targetOperation: ASSIGN_FORMATION
      operator: "IsNotAssignedToAnyFormationOfType"
      resourceType: APPLICATION
      resourceSubtype: "{subtype}"
      inputTemplate: {CONSTRAINT_INPUT_TEMPLATE}
      constraintScope: {scope}
      priority: 7
    }}
  ) {{ {CONSTRAINT} }}
}}
""")
    result: dict[str, Any] = data["result"]
    return result


async def test_create_formation(operator: Operator) -> None:
    # when
    result = await create_formation(operator, "testScenario")
    # then
    assert result["name"] == "testScenario"
    assert result["formationTemplateId"] == DEFAULT_TEMPLATE_ID
    assert result["tenantID"] == operator.tenant_id
    assert result["state"] == "READY"
    assert result["status"] == {"condition": "READY", "errors": None}
    assert result["error"] == {"message": "", "errorCode": 0}
    assert result["formationAssignments"]["totalCount"] == 0
    assert result["lastStateChangeTimestamp"] is not None
    assert result["lastNotificationSentTimestamp"] is None


async def test_create_formation_from_a_template(operator: Operator) -> None:
    # given
    template = await create_template(operator, unique("formation-type"))
    # when
    result = await create_formation(operator, "typed", f'templateName: "{template["name"]}"')
    # then
    assert result["formationTemplateId"] == template["id"]


async def test_query_formation(operator: Operator) -> None:
    # given
    created = await create_formation(operator, "queried")
    # when
    data = await operator.query(f'query {{ result: formation(id: "{created["id"]}") {{ {FORMATION} }} }}')
    # then
    assert data["result"] == created


async def test_assign_application_to_formation(operator: Operator) -> None:
    # given
    await create_formation(operator, "first")
    application_id = await register_application(operator)
    # when
    result = await assign(operator, "APPLICATION", application_id, "first")
    # then
    [own] = result["formationAssignments"]["data"]
    assert (own["source"], own["target"], own["sourceType"], own["state"]) == (
        application_id, application_id, "APPLICATION", "READY",
    )
    assert own["sourceEntity"]["__typename"] == "Application"
    assert own["targetEntity"]["id"] == application_id
    [operation] = own["assignmentOperations"]["data"]
    assert (operation["operationType"], operation["triggeredBy"], operation["formationAssignmentID"]) == (
        "ASSIGN", "ASSIGN_OBJECT", own["id"],
    )
    assert operation["finishedAtTimestamp"] is not None
    assert result["status"] == {"condition": "READY", "errors": None}


async def test_assign_runtime_to_formation(operator: Operator) -> None:
    # given
    await create_formation(operator, "pair")
    application_id = await register_application(operator)
    await assign(operator, "APPLICATION", application_id, "pair")
    runtime_id = await register_runtime(operator)
    # when
    result = await assign(operator, "RUNTIME", runtime_id, "pair")
    # then
    pairs = {(item["source"], item["target"]): item for item in result["formationAssignments"]["data"]}
    assert set(pairs) == {
        (application_id, application_id),
        (runtime_id, runtime_id),
        (runtime_id, application_id),
        (application_id, runtime_id),
    }
    assert pairs[(runtime_id, application_id)]["sourceEntity"]["__typename"] == "Runtime"
    assert {item["state"] for item in pairs.values()} == {"READY"}


async def test_assign_formation_with_initial_configurations(operator: Operator) -> None:
    # given
    await create_formation(operator, "configured")
    application_id = await register_application(operator)
    await assign(operator, "APPLICATION", application_id, "configured")
    runtime_id = await register_runtime(operator)
    # when
    result = await assign(
        operator,
        "RUNTIME",
        runtime_id,
        "configured",
        f'initialConfigurations: [{{ sourceID: "{runtime_id}", targetID: "{application_id}", '
        r'configuration: "{\"key\": \"value\"}" }]',
    )
    # then
    [configured] = [
        item for item in result["formationAssignments"]["data"]
        if (item["source"], item["target"]) == (runtime_id, application_id)
    ]
    assert configured["value"] == configured["configuration"] == '{"key": "value"}'


async def test_unassign_application_from_formation_global(operator: Operator) -> None:
    # given
    formation = await create_formation(operator, "global")
    application_id = await register_application(operator)
    await assign(operator, "APPLICATION", application_id, "global")
    # when
    data = await operator.query(f"""
mutation {{
  result: unassignFormationGlobal(objectID: "{application_id}", objectType: APPLICATION, formation: "{formation["id"]}") {{
    {FORMATION}
  }}
}}
""")
    # then
    assert data["result"]["id"] == formation["id"]
    assert data["result"]["formationAssignments"]["totalCount"] == 0


async def test_finalize_draft_formation(operator: Operator) -> None:
    # given
    formation = await create_formation(operator, "drafted", 'state: "DRAFT"')
    application_id = await register_application(operator)
    drafted = await assign(operator, "APPLICATION", application_id, "drafted")
    assert drafted["status"] == {"condition": "DRAFT", "errors": None}
    assert drafted["formationAssignments"]["data"][0]["state"] == "INITIAL"
    assert drafted["formationAssignments"]["data"][0]["assignmentOperations"]["data"][0]["finishedAtTimestamp"] is None
    # when
    data = await operator.query(f'mutation {{ result: finalizeDraftFormation(formationID: "{formation["id"]}") {{ {FORMATION} }} }}')
    # then
    assert data["result"]["state"] == "READY"
    assert data["result"]["status"] == {"condition": "READY", "errors": None}
    [finalized] = data["result"]["formationAssignments"]["data"]
    assert finalized["state"] == "READY"
    [operation] = finalized["assignmentOperations"]["data"]
    assert (operation["triggeredBy"], operation["finishedAtTimestamp"] is not None) == ("RESYNC", True)


async def test_resynchronize_formation_notifications(operator: Operator) -> None:
    # given
    formation = await create_formation(operator, "initial", 'state: "INITIAL"')
    assert formation["status"]["condition"] == "IN_PROGRESS"
    # when
    data = await operator.query(f"""
mutation {{ result: resynchronizeFormationNotifications(formationID: "{formation["id"]}") {{ {FORMATION} }} }}
""")
    # then
    assert data["result"]["state"] == "READY"
    assert data["result"]["status"] == {"condition": "READY", "errors": None}


async def test_resynchronize_formation_notifications_with_reset(operator: Operator) -> None:
    # given
    # No lifecycle webhook: the formation is READY at once. With one (unanswered here) it would wait in INITIAL, and
    # resynchronizing would send createFormation again before touching its assignments, as Compass does.
    template = await create_template(operator, unique("resettable"), supports_reset=True, lifecycle_webhook=False)
    formation = await create_formation(operator, "reset", f'templateName: "{template["name"]}"')
    application_id = await register_application(operator)
    await assign(operator, "APPLICATION", application_id, "reset")
    # when
    data = await operator.query(f"""
mutation {{ result: resynchronizeFormationNotifications(formationID: "{formation["id"]}", reset: true) {{ {FORMATION} }} }}
""")
    # then
    [own] = data["result"]["formationAssignments"]["data"]
    assert own["state"] == "READY"
    assert [item["triggeredBy"] for item in own["assignmentOperations"]["data"]] == ["ASSIGN_OBJECT", "RESET"]
    assert own["lastStateChangeTimestamp"] >= data["result"]["lastStateChangeTimestamp"]


async def test_create_formation_template(operator: Operator) -> None:
    # given
    name = unique("create-formation-template-name")
    # when
    result = await create_template(operator, name)
    # then
    assert result["name"] == result["runtimeTypeDisplayName"] == name
    assert result["applicationTypes"] == ["async-app-type-1"]
    assert result["runtimeTypes"] == ["runtimeTypeTest"]
    assert result["runtimeArtifactKind"] == "ENVIRONMENT_INSTANCE"
    assert result["leadingProductIDs"] == ["leading-product-id"]
    assert result["supportsReset"] is False
    assert result["discoveryConsumers"] == ["async-app-type-1"]
    assert result["labels"] == {"region": "eu-1"}
    assert result["formationConstraints"] == []
    assert result["updatedAt"] is None
    [webhook] = result["webhooks"]
    assert (webhook["formationTemplateID"], webhook["type"], webhook["url"]) == (
        result["id"], "FORMATION_LIFECYCLE", "http://localhost:6439/",
    )


async def test_add_formation_template_webhook(operator: Operator) -> None:
    # given
    created = await create_template(operator, unique("hooked"))
    # when
    data = await operator.query(f"""
mutation {{
  result: addWebhook(
    formationTemplateID: "{created["id"]}"
    in: {{ type: FORMATION_LIFECYCLE, url: "http://localhost:6440/", mode: SYNC }}
  ) {{ {WEBHOOK} }}
}}
""")
    # then
    assert data["result"]["formationTemplateID"] == created["id"]
    listed = await operator.query(f'query {{ result: formationTemplate(id: "{created["id"]}") {{ webhooks {{ url }} }} }}')
    assert [item["url"] for item in listed["result"]["webhooks"]] == ["http://localhost:6439/", "http://localhost:6440/"]


async def test_query_formation_template(operator: Operator) -> None:
    # given
    created = await create_template(operator, unique("queried"))
    # when
    data = await operator.query(f'query {{ result: formationTemplate(id: "{created["id"]}") {{ {TEMPLATE} }} }}')
    # then
    assert data["result"] == created


async def test_query_formation_templates(operator: Operator) -> None:
    # given
    created = await create_template(operator, unique("listed"))
    # when
    data = await operator.query(f"""
query {{ result: formationTemplates(filter: [{{ key: "region", query: "\\"eu-1\\"" }}], first: 100) {{ {TEMPLATE_PAGE} }} }}
""")
    # then
    assert data["result"]["data"] == [created]
    assert data["result"]["totalCount"] == 1


async def test_query_formation_templates_by_name(operator: Operator) -> None:
    # when
    data = await operator.query(f"""
query {{ result: formationTemplatesByName(name: "Side-by-Side Extensibility with Kyma", first: 100) {{ {TEMPLATE_PAGE} }} }}
""")
    # then
    [default] = data["result"]["data"]
    assert default["id"] == DEFAULT_TEMPLATE_ID
    assert default["runtimeTypes"] == ["kyma"]
    assert default["supportsReset"] is True


async def test_update_formation_template(operator: Operator) -> None:
    # given
    created = await create_template(operator, unique("updated"))
    # when
    data = await operator.query(f"""
mutation {{
  result: updateFormationTemplate(
    id: "{created["id"]}"
    in: {{ name: "updated-name", applicationTypes: ["app-type-2"], supportsReset: true }}
  ) {{ {TEMPLATE} }}
}}
""")
    # then
    result = data["result"]
    assert (result["name"], result["applicationTypes"], result["supportsReset"]) == ("updated-name", ["app-type-2"], True)
    assert result["runtimeTypes"] is None
    assert result["runtimeArtifactKind"] is None
    assert result["labels"] == {"region": "eu-1"}
    assert result["updatedAt"] is not None


async def test_delete_formation_template(operator: Operator) -> None:
    # given
    created = await create_template(operator, unique("deleted"))
    # when
    data = await operator.query(f'mutation {{ result: deleteFormationTemplate(id: "{created["id"]}") {{ {TEMPLATE} }} }}')
    # then: its webhooks went with it, as in Compass (they are read after the deletion)
    assert data["result"] == {**created, "webhooks": []}
    gone = await operator.query(f'query {{ result: formationTemplate(id: "{created["id"]}") {{ id }} }}')
    assert gone["result"] is None


async def test_set_formation_template_label(operator: Operator) -> None:
    # given
    created = await create_template(operator, unique("labelled"))
    # when
    data = await operator.query(f"""
mutation {{
  result: setFormationTemplateLabel(formationTemplateID: "{created["id"]}", in: {{ key: "tier", value: ["gold"] }}) {{
    key
    value
  }}
}}
""")
    # then
    assert data["result"] == {"key": "tier", "value": ["gold"]}
    labels = await operator.query(f'query {{ result: formationTemplate(id: "{created["id"]}") {{ labels }} }}')
    assert labels["result"]["labels"] == {"region": "eu-1", "tier": ["gold"]}


async def test_delete_formation_template_label(operator: Operator) -> None:
    # given
    created = await create_template(operator, unique("unlabelled"))
    # when
    data = await operator.query(f"""
mutation {{ result: deleteFormationTemplateLabel(formationTemplateID: "{created["id"]}", key: "region") {{ key value }} }}
""")
    # then
    assert data["result"] == {"key": "region", "value": "eu-1"}


async def test_create_formation_constraint(operator: Operator) -> None:
    # given
    subtype = unique("subtype")
    # when
    result = await create_constraint(operator, subtype)
    # then
    assert result["description"] == "description"
    assert (result["constraintType"], result["targetOperation"], result["constraintScope"]) == (
        "PRE", "ASSIGN_FORMATION", "FORMATION_TYPE",
    )
    assert (result["operator"], result["resourceType"], result["resourceSubtype"], result["priority"]) == (
        "IsNotAssignedToAnyFormationOfType", "APPLICATION", subtype, 7,
    )
    assert result["inputTemplate"].startswith('{"formation_template_id": "{{.FormationTemplateID}}"')


async def test_query_formation_constraint(operator: Operator) -> None:
    # given
    created = await create_constraint(operator, unique("subtype"))
    # when
    data = await operator.query(f'query {{ result: formationConstraint(id: "{created["id"]}") {{ {CONSTRAINT} }} }}')
    # then
    assert data["result"] == created


async def test_list_formation_constraints(operator: Operator) -> None:
    # given
    created = await create_constraint(operator, unique("subtype"))
    # when
    data = await operator.query(f"query {{ result: formationConstraints {{ {CONSTRAINT} }} }}")
    # then
    assert created in data["result"]


async def test_attach_constraint_to_formation_template(operator: Operator) -> None:
    # given
    template = await create_template(operator, unique("constrained"))
    constraint = await create_constraint(operator, unique("subtype"))
    # when
    data = await operator.query(f"""
mutation {{
  result: attachConstraintToFormationTemplate(constraintID: "{constraint["id"]}", formationTemplateID: "{template["id"]}") {{
    constraintID
    formationTemplateID
  }}
}}
""")
    # then
    assert data["result"] == {"constraintID": constraint["id"], "formationTemplateID": template["id"]}
    attached = await operator.query(f'query {{ result: formationTemplate(id: "{template["id"]}") {{ {TEMPLATE} }} }}')
    assert attached["result"]["formationConstraints"] == [constraint]


async def test_list_formation_constraints_for_formation_template(operator: Operator) -> None:
    # given
    template = await create_template(operator, unique("constrained"))
    constraint = await create_constraint(operator, unique("subtype"))
    await operator.query(f"""
mutation {{
  result: attachConstraintToFormationTemplate(constraintID: "{constraint["id"]}", formationTemplateID: "{template["id"]}") {{
    constraintID
  }}
}}
""")
    # when
    data = await operator.query(f"""
query {{ result: formationConstraintsByFormationType(formationTemplateID: "{template["id"]}") {{ {CONSTRAINT} }} }}
""")
    # then
    assert data["result"] == [constraint]


async def test_detach_constraint_from_formation_template(operator: Operator) -> None:
    # given
    template = await create_template(operator, unique("constrained"))
    constraint = await create_constraint(operator, unique("subtype"))
    ids = f'constraintID: "{constraint["id"]}", formationTemplateID: "{template["id"]}"'
    await operator.query(f"mutation {{ result: attachConstraintToFormationTemplate({ids}) {{ constraintID }} }}")
    # when
    data = await operator.query(f"""
mutation {{ result: detachConstraintFromFormationTemplate({ids}) {{ constraintID formationTemplateID }} }}
""")
    # then
    assert data["result"] == {"constraintID": constraint["id"], "formationTemplateID": template["id"]}
    detached = await operator.query(f'query {{ result: formationTemplate(id: "{template["id"]}") {{ formationConstraints {{ id }} }} }}')
    assert detached["result"]["formationConstraints"] == []


async def test_update_formation_constraint(operator: Operator) -> None:
    # given
    created = await create_constraint(operator, unique("subtype"))
    # when
    data = await operator.query(f"""
mutation {{
  result: updateFormationConstraint(id: "{created["id"]}", in: {{ inputTemplate: "{{}}", priority: 3, description: "new" }}) {{
    {CONSTRAINT}
  }}
}}
""")
    # then
    assert {key: data["result"][key] for key in ("inputTemplate", "priority", "description")} == {
        "inputTemplate": "{}", "priority": 3, "description": "new",
    }
    assert data["result"]["name"] == created["name"]


async def test_delete_formation_constraint(operator: Operator) -> None:
    # given
    created = await create_constraint(operator, unique("subtype"))
    # when
    data = await operator.query(f'mutation {{ result: deleteFormationConstraint(id: "{created["id"]}") {{ {CONSTRAINT} }} }}')
    # then
    assert data["result"] == created
    assert await operator.error_codes(f'query {{ result: formationConstraint(id: "{created["id"]}") {{ id }} }}') == [
        "NOT_FOUND"
    ]
