"""Compass-style documents (every field selected, values inline, a ``result:`` alias) for applications and their
definitions: Compass's remaining Application, Bundle and definition fields, definitions added to an application
directly, integration dependencies, merge, unpair, look-ups by system number and local tenant id."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update

from director.models import Application
from kernel.db import Database
from tests.director.examples.test_application_templates import create_template, unique
from tests.director.examples.test_fetch_requests import SPEC, VERSION
from tests.director.examples.test_shared_types import AUTH, SYSTEM_AUTH, WEBHOOK
from tests.support import Operator

API_DEFINITION = f"id name description spec {{ {SPEC} }} targetURL group {VERSION} created_at updated_at deleted_at error"
EVENT_DEFINITION = f"id name description group spec {{ {SPEC} }} {VERSION} createdAt updatedAt deletedAt error"
DOCUMENT = "id title displayName description format kind data createdAt updatedAt deletedAt error"
PAGE_INFO = "pageInfo { startCursor endCursor hasNextPage } totalCount"
BUNDLE = f"""
    id
    name
    description
    instanceAuthRequestInputSchema
    instanceAuths {{ id context inputParams auth {{ {AUTH} }} status {{ condition timestamp message reason }} runtimeID runtimeContextID }}
    defaultInstanceAuth {{ {AUTH} }}
    apiDefinitions {{ data {{ {API_DEFINITION} }} {PAGE_INFO} }}
    eventDefinitions {{ data {{ {EVENT_DEFINITION} }} {PAGE_INFO} }}
    documents {{ data {{ {DOCUMENT} }} {PAGE_INFO} }}
    correlationIDs
    createdAt
    updatedAt
    deletedAt
    error
"""
ASPECT = """
    id
    name
    description
    mandatory
    apiResources { ordID }
    eventResources { ordID subset { eventType } created_at updated_at deleted_at error }
    created_at
    updated_at
    deleted_at
    error
"""
INTEGRATION_DEPENDENCY = f"""
    id
    name
    description
    ordID
    partOfPackage
    visibility
    releaseStatus
    mandatory
    aspects {{ {ASPECT} }}
    {VERSION}
    labels
    created_at
    updated_at
    deleted_at
    error
"""
APPLICATION = f"""
    id
    name
    systemNumber
    localTenantID
    baseUrl
    providerName
    description
    integrationSystemID
    applicationTemplateID
    applicationTemplate {{ id name }}
    labels
    status {{ condition timestamp }}
    webhooks {{ {WEBHOOK} }}
    healthCheckURL
    bundles {{ data {{ {BUNDLE} }} {PAGE_INFO} }}
    integrationDependencies {{ data {{ {INTEGRATION_DEPENDENCY} }} {PAGE_INFO} }}
    auths {{ {SYSTEM_AUTH} }}
    eventingConfiguration {{ defaultURL }}
    applicationNamespace
    createdAt
    updatedAt
    deletedAt
    systemStatus
    error
"""


async def register(operator: Operator, fields: str = "") -> dict[str, Any]:
    name = f"app-{uuid.uuid4().hex[:8]}"
    data = await operator.query(
        f'mutation {{ result: registerApplication(in: {{ name: "{name}" {fields} }}) {{ {APPLICATION} }} }}'
    )
    result: dict[str, Any] = data["result"]
    return result


async def add_api(operator: Operator, application_id: str, name: str = "orders") -> dict[str, Any]:
    data = await operator.query(f"""
mutation {{
  result: addAPIDefinitionToApplication(
    appID: "{application_id}"
    in: {{
      name: "{name}"
      description: "api for adding to application"
      targetURL: "https://shop.example.com/api/{name}"
      group: "group"
      spec: {{ data: "{{\\"openapi\\":\\"3.0.0\\"}}", type: OPEN_API, format: JSON }}
      version: {{ value: "v1", deprecated: false, deprecatedSince: "v0", forRemoval: false }}
    }}
  ) {{ {API_DEFINITION} }}
}}
""")
    result: dict[str, Any] = data["result"]
    return result


async def add_event(operator: Operator, application_id: str, name: str = "order-events") -> dict[str, Any]:
    data = await operator.query(f"""
mutation {{
  result: addEventDefinitionToApplication(
    appID: "{application_id}"
    in: {{
      name: "{name}"
      description: "event for adding to application"
      group: "group"
      spec: {{ data: "{{\\"asyncapi\\":\\"2.0.0\\"}}", type: ASYNC_API, format: JSON }}
      version: {{ value: "v1" }}
    }}
  ) {{ {EVENT_DEFINITION} }}
}}
""")
    result: dict[str, Any] = data["result"]
    return result


async def add_dependency(operator: Operator, application_id: str) -> dict[str, Any]:
    data = await operator.query(f"""
mutation {{
  result: addIntegrationDependencyToApplication(
    appID: "{application_id}"
    in: {{
      name: "Int dep name"
      description: "int dep desc"
      ordID: "sap.foo.bar:integrationDependency:CustomerOrder:v1"
      visibility: "public"
      releaseStatus: "active"
      mandatory: false
      aspects: [
        {{
          name: "Aspect name"
          description: "aspect desc"
          mandatory: false
          apiResources: [{{ ordId: "ns:apiResource:API_ID:v1" }}]
          eventResources: [
            {{
              ordId: "ns:eventResource:EVENT_ID:v1"
              subset: [{{ eventType: "sap.billing.sb.Subscription.Created.v1" }}]
            }}
          ]
        }}
      ]
      version: {{ value: "v1" }}
      labels: {{ displayName: "bar", test: ["val", "val2"] }}
    }}
  ) {{ {INTEGRATION_DEPENDENCY} }}
}}
""")
    result: dict[str, Any] = data["result"]
    return result


async def test_register_application_with_namespace_local_tenant_and_bundle_correlation_ids(operator: Operator) -> None:
    # when
    result = await register(
        operator,
        'applicationNamespace: "sap.s4" localTenantID: "local-1" '
        'bundles: [{ name: "orders", correlationIDs: ["sap.s4:order:1", "sap.s4:order:2"], '
        'apiDefinitions: [{ name: "api", targetURL: "https://shop.example.com/api" }], '
        'documents: [{ title: "doc", displayName: "Doc", description: "d", format: MARKDOWN }] }]',
    )
    # then
    assert result["applicationNamespace"] == "sap.s4"
    assert result["localTenantID"] == "local-1"
    assert (result["deletedAt"], result["systemStatus"], result["error"]) == (None, None, None)
    [bundle] = result["bundles"]["data"]
    assert bundle["correlationIDs"] == ["sap.s4:order:1", "sap.s4:order:2"]
    assert bundle["createdAt"] is not None
    assert bundle["updatedAt"] is not None
    [api] = bundle["apiDefinitions"]["data"]
    assert (api["created_at"] is not None, api["deleted_at"], api["error"]) == (True, None, None)
    [document] = bundle["documents"]["data"]
    assert (document["createdAt"] is not None, document["deletedAt"], document["error"]) == (True, None, None)
    assert result["integrationDependencies"] == {
        "data": [],
        "pageInfo": {"startCursor": "", "endCursor": "", "hasNextPage": False},
        "totalCount": 0,
    }


async def test_update_application_namespace_and_local_tenant(operator: Operator) -> None:
    # given
    created = await register(operator, 'applicationNamespace: "sap.s4" localTenantID: "local-1"')
    # when
    data = await operator.query(f"""
mutation {{
  result: updateApplication(
    id: "{created["id"]}"
    in: {{ providerName: "provider", description: "updated", applicationNamespace: "sap.s5", localTenantID: "local-2" }}
  ) {{ {APPLICATION} }}
}}
""")
    # then
    assert (data["result"]["applicationNamespace"], data["result"]["localTenantID"]) == ("sap.s5", "local-2")


async def test_add_api_definition_to_application(operator: Operator) -> None:
    # given
    application = await register(operator)
    # when
    result = await add_api(operator, application["id"])
    # then
    assert result["name"] == "orders"
    assert result["targetURL"] == "https://shop.example.com/api/orders"
    assert result["spec"]["data"] == '{"openapi":"3.0.0"}'
    assert result["version"] == {"value": "v1", "deprecated": False, "deprecatedSince": "v0", "forRemoval": False}
    assert result["created_at"] is not None


async def test_add_event_definition_to_application(operator: Operator) -> None:
    # given
    application = await register(operator)
    # when
    result = await add_event(operator, application["id"])
    # then
    assert result["name"] == "order-events"
    assert (result["spec"]["type"], result["spec"]["format"]) == ("ASYNC_API", "JSON")
    assert result["createdAt"] is not None


async def test_update_api_definition_for_application(operator: Operator) -> None:
    # given
    application = await register(operator)
    api = await add_api(operator, application["id"])
    # when
    data = await operator.query(f"""
mutation {{
  result: updateAPIDefinitionForApplication(
    id: "{api["id"]}"
    in: {{ name: "orders-v2", description: "updated api", targetURL: "https://shop.example.com/api/v2", group: "g2" }}
  ) {{ {API_DEFINITION} }}
}}
""")
    # then
    result = data["result"]
    assert (result["name"], result["targetURL"], result["group"]) == ("orders-v2", "https://shop.example.com/api/v2", "g2")
    assert result["spec"]["data"] == '{"openapi":"3.0.0"}'


async def test_update_event_definition_for_application(operator: Operator) -> None:
    # given
    application = await register(operator)
    event = await add_event(operator, application["id"])
    # when
    data = await operator.query(f"""
mutation {{
  result: updateEventDefinitionForApplication(
    id: "{event["id"]}"
    in: {{ name: "order-events-v2", description: "updated event" }}
  ) {{ {EVENT_DEFINITION} }}
}}
""")
    # then
    assert (data["result"]["name"], data["result"]["description"]) == ("order-events-v2", "updated event")
    assert data["result"]["spec"]["type"] == "ASYNC_API"


async def test_apis_for_application(operator: Operator) -> None:
    # given
    application = await register(operator)
    first = await add_api(operator, application["id"], "a")
    second = await add_api(operator, application["id"], "b")
    # when
    data = await operator.query(
        f'query {{ result: apisForApplication(appID: "{application["id"]}", first: 100) '
        f"{{ data {{ {API_DEFINITION} }} {PAGE_INFO} }} }}"
    )
    # then
    assert [api["id"] for api in data["result"]["data"]] == [first["id"], second["id"]]
    assert data["result"]["totalCount"] == 2


async def test_events_for_application(operator: Operator) -> None:
    # given
    application = await register(operator)
    event = await add_event(operator, application["id"])
    # when
    data = await operator.query(
        f'query {{ result: eventsForApplication(appID: "{application["id"]}", first: 100) '
        f"{{ data {{ {EVENT_DEFINITION} }} {PAGE_INFO} }} }}"
    )
    # then
    assert data["result"]["data"] == [event]


async def test_query_api_definition_for_application(operator: Operator) -> None:
    # given
    application = await register(operator)
    api = await add_api(operator, application["id"])
    # when
    data = await operator.query(
        f'query {{ result: application(id: "{application["id"]}") {{ apiDefinition(id: "{api["id"]}") '
        f"{{ {API_DEFINITION} }} }} }}"
    )
    # then
    assert data["result"]["apiDefinition"] == api


async def test_query_event_definition_for_application(operator: Operator) -> None:
    # given
    application = await register(operator)
    event = await add_event(operator, application["id"])
    # when
    data = await operator.query(
        f'query {{ result: application(id: "{application["id"]}") {{ eventDefinition(id: "{event["id"]}") '
        f"{{ {EVENT_DEFINITION} }} }} }}"
    )
    # then
    assert data["result"]["eventDefinition"] == event


async def test_add_integration_dependency_to_application(operator: Operator) -> None:
    # given
    application = await register(operator, 'applicationNamespace: "sap.foo"')
    # when
    result = await add_dependency(operator, application["id"])
    # then
    assert result["ordID"] == "sap.foo.bar:integrationDependency:CustomerOrder:v1"
    assert result["partOfPackage"] == "sap.foo:package:manuallyAddedIntegrationDependencies:v1"
    assert (result["visibility"], result["releaseStatus"], result["mandatory"]) == ("public", "active", False)
    assert result["labels"] == {"displayName": "bar", "test": ["val", "val2"]}
    [aspect] = result["aspects"]
    assert aspect["apiResources"] == [{"ordID": "ns:apiResource:API_ID:v1"}]
    [resource] = aspect["eventResources"]
    assert resource["ordID"] == "ns:eventResource:EVENT_ID:v1"
    assert resource["subset"] == [{"eventType": "sap.billing.sb.Subscription.Created.v1"}]


async def test_query_integration_dependencies_of_application(operator: Operator) -> None:
    # given
    application = await register(operator)
    dependency = await add_dependency(operator, application["id"])
    # when
    data = await operator.query(f'query {{ result: application(id: "{application["id"]}") {{ {APPLICATION} }} }}')
    # then
    assert data["result"]["integrationDependencies"]["data"] == [dependency]


async def test_delete_integration_dependency(operator: Operator) -> None:
    # given
    application = await register(operator)
    dependency = await add_dependency(operator, application["id"])
    # when
    data = await operator.query(
        f'mutation {{ result: deleteIntegrationDependency(id: "{dependency["id"]}") {{ {INTEGRATION_DEPENDENCY} }} }}'
    )
    # then
    assert data["result"] == dependency


async def register_from_template(operator: Operator, template_name: str) -> dict[str, Any]:
    name = f"app-{uuid.uuid4().hex[:8]}"
    data = await operator.query(f"""
mutation {{
  result: registerApplicationFromTemplate(
    in: {{
      templateName: "{template_name}"
      values: [{{ placeholder: "name", value: "{name}" }}, {{ placeholder: "display-name", value: "Shop" }}]
    }}
  ) {{ id }}
}}
""")
    result: dict[str, Any] = data["result"]
    return result


async def test_merge_applications(operator: Operator) -> None:
    # given two registrations of one system, from one template and with one base URL
    template = await create_template(operator, unique("merge"))
    source = await register_from_template(operator, template["name"])
    destination = await register_from_template(operator, template["name"])
    for application_id, fields in ((source["id"], 'localTenantID: "lt-1"'), (destination["id"], "")):
        await operator.query(
            f'mutation {{ result: updateApplication(id: "{application_id}", '
            f'in: {{ baseUrl: "https://shop.example.com" {fields} }}) {{ id }} }}'
        )
    # when
    data = await operator.query(f"""
mutation {{
  result: mergeApplications(sourceID: "{source["id"]}", destinationID: "{destination["id"]}") {{ {APPLICATION} }}
}}
""")
    # then
    assert data["result"]["id"] == destination["id"]
    assert data["result"]["localTenantID"] == "lt-1"


async def test_unpair_application(operator: Operator) -> None:
    # given
    application = await register(operator, "statusCondition: CONNECTED")
    # when
    data = await operator.query(f'mutation {{ result: unpairApplication(id: "{application["id"]}") {{ {APPLICATION} }} }}')
    # then
    assert data["result"]["status"]["condition"] == "INITIAL"


async def test_application_by_system_number(operator: Operator, database: Database) -> None:
    # given an application a system fetcher gave a number (Compass's only way to set one)
    application = await register(operator)
    async with database.transaction() as session:
        await session.execute(
            update(Application).where(Application.id == application["id"]).values(system_number="SN-4711")
        )
    # when
    data = await operator.query(f'query {{ result: applicationBySystemNumber(systemNumber: "SN-4711") {{ {APPLICATION} }} }}')
    # then
    assert (data["result"]["id"], data["result"]["systemNumber"]) == (application["id"], "SN-4711")


async def test_applications_by_local_tenant_id(operator: Operator) -> None:
    # given
    local_tenant_id = f"local-{uuid.uuid4().hex[:8]}"
    application = await register(operator, f'localTenantID: "{local_tenant_id}" labels: {{ team: "red" }}')
    await register(operator, f'localTenantID: "{local_tenant_id}"')
    # when
    data = await operator.query(f"""
query {{
  result: applicationsByLocalTenantID(
    localTenantID: "{local_tenant_id}"
    filter: [{{ key: "team", query: "\\"red\\"" }}]
    first: 10
  ) {{ data {{ {APPLICATION} }} {PAGE_INFO} }}
}}
""")
    # then
    assert [item["id"] for item in data["result"]["data"]] == [application["id"]]
    assert data["result"]["totalCount"] == 1


async def test_formations_for_object(operator: Operator) -> None:
    # given
    application = await register(operator)
    await operator.query(
        f'mutation {{ result: assignFormation(objectID: "{application["id"]}", objectType: APPLICATION, '
        'formation: { name: "DEFAULT" }) { name } }'
    )
    # when
    data = await operator.query(f'query {{ result: formationsForObject(objectID: "{application["id"]}") {{ id name }} }}')
    # then
    assert [formation["name"] for formation in data["result"]] == ["DEFAULT"]


RUNTIME = f"""
    id
    name
    description
    labels
    webhooks {{ {WEBHOOK} }}
    status {{ condition timestamp }}
    metadata {{ creationTimestamp }}
    auths {{ {SYSTEM_AUTH} }}
    eventingConfiguration {{ defaultURL }}
    runtimeContexts {{ data {{ id key value labels }} {PAGE_INFO} }}
    applicationNamespace
"""


async def test_register_runtime_with_application_namespace(operator: Operator) -> None:
    # when
    data = await operator.query(f"""
mutation {{
  result: registerRuntime(in: {{ name: "runtime-ns", description: "d", applicationNamespace: "sap.kyma" }}) {{ {RUNTIME} }}
}}
""")
    # then
    assert data["result"]["applicationNamespace"] == "sap.kyma"


async def test_update_runtime_application_namespace(operator: Operator) -> None:
    # given
    created = await operator.query('mutation { result: registerRuntime(in: { name: "runtime-ns2" }) { id } }')
    # when
    data = await operator.query(f"""
mutation {{
  result: updateRuntime(id: "{created["result"]["id"]}", in: {{ name: "runtime-ns2", applicationNamespace: "sap.kyma" }}) {{ {RUNTIME} }}
}}
""")
    # then
    assert data["result"]["applicationNamespace"] == "sap.kyma"
