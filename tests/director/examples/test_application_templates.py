"""Compass-style documents (every field selected, values inline, a ``result:`` alias) for application templates:
create, read one and a page, update, delete, register an application from a template (values or a payload)."""

from __future__ import annotations

import uuid
from typing import Any

from kernel.principal import ALL_SCOPES, Scope
from tests.director.examples.test_shared_types import SYSTEM_AUTH, WEBHOOK
from tests.support import Operator, TenantFactory

TEMPLATE = f"""
    id
    name
    description
    webhooks {{ {WEBHOOK} }}
    applicationInput
    placeholders {{ name description jsonPath optional }}
    labels
    accessLevel
    applicationNamespace
    createdAt
    updatedAt
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
    applicationNamespace
    systemStatus
    deletedAt
    error
    labels
    status {{ condition timestamp }}
    webhooks {{ {WEBHOOK} }}
    healthCheckURL
    bundles {{
      data {{ id name description instanceAuthRequestInputSchema }}
      pageInfo {{ startCursor endCursor hasNextPage }}
      totalCount
    }}
    auths {{ {SYSTEM_AUTH} }}
    eventingConfiguration {{ defaultURL }}
    createdAt
    updatedAt
"""


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


async def create_template(operator: Operator, name: str) -> dict[str, Any]:
    data = await operator.query(f"""
mutation {{
  result: createApplicationTemplate(
    in: {{
      name: "{name}"
      description: "app-template-desc"
      applicationInput: {{
        name: "{{{{name}}}}"
        providerName: "compass-tests"
        description: "test {{{{display-name}}}}"
        labels: {{ a: ["b", "c"], d: ["e", "f"] }}
        webhooks: [{{ type: CONFIGURATION_CHANGED, url: "http://url.com" }}]
        healthCheckURL: "http://url.valid"
      }}
      placeholders: [
        {{ name: "name", description: "app", jsonPath: "$.name" }}
        {{ name: "display-name", description: "new-placeholder-display-name", jsonPath: "$.displayName" }}
      ]
      accessLevel: GLOBAL
      labels: {{ test: ["test"] }}
      webhooks: [{{ type: CONFIGURATION_CHANGED, url: "https://template.example.com/hook", mode: SYNC }}]
    }}
  ) {{ {TEMPLATE} }}
}}
""")
    result: dict[str, Any] = data["result"]
    return result


async def test_create_application_template(operator: Operator) -> None:
    # given
    name = unique("SAP app-template-name")
    # when
    result = await create_template(operator, name)
    # then
    assert result["name"] == name
    assert result["description"] == "app-template-desc"
    assert result["accessLevel"] == "GLOBAL"
    assert result["labels"] == {"test": ["test"]}
    assert result["placeholders"] == [
        {"name": "name", "description": "app", "jsonPath": "$.name", "optional": False},
        {
            "name": "display-name",
            "description": "new-placeholder-display-name",
            "jsonPath": "$.displayName",
            "optional": False,
        },
    ]
    assert result["applicationInput"] == (
        '{name: "{{name}}", providerName: "compass-tests", description: "test {{display-name}}", '
        f'labels: {{a: ["b", "c"], applicationType: "{name}", d: ["e", "f"]}}, '
        'webhooks: [{type: CONFIGURATION_CHANGED, url: "http://url.com"}], healthCheckURL: "http://url.valid"}'
    )
    [webhook] = result["webhooks"]
    assert webhook["applicationTemplateID"] == result["id"]
    assert webhook["applicationID"] is None
    assert webhook["url"] == "https://template.example.com/hook"


async def test_query_application_template(operator: Operator) -> None:
    # given
    created = await create_template(operator, unique("template"))
    # when
    data = await operator.query(
        f'query {{ result: applicationTemplate(id: "{created["id"]}") {{ {TEMPLATE} }} }}'
    )
    # then
    assert data["result"] == created


async def test_query_application_templates(operator: Operator) -> None:
    # given
    created = await create_template(operator, unique("template"))
    marker = created["id"]
    await operator.query(f"""
mutation {{
  result: updateApplicationTemplate(
    id: "{marker}"
    in: {{
      name: "{created["name"]}"
      applicationInput: {{ name: "{{{{name}}}}" }}
      placeholders: [{{ name: "name" }}]
      accessLevel: GLOBAL
      labels: {{ marker: "{marker}" }}
    }}
  ) {{ id }}
}}
""")
    # when
    data = await operator.query(f"""
query {{
  result: applicationTemplates(filter: [{{ key: "marker", query: "\\"{marker}\\"" }}], first: 100) {{
    data {{ {TEMPLATE} }}
    pageInfo {{ startCursor endCursor hasNextPage }}
    totalCount
  }}
}}
""")
    # then
    assert data["result"]["totalCount"] == 1
    assert [template["id"] for template in data["result"]["data"]] == [marker]
    assert data["result"]["pageInfo"] == {
        "startCursor": data["result"]["pageInfo"]["startCursor"],
        "endCursor": "",
        "hasNextPage": False,
    }


async def test_update_application_template(operator: Operator) -> None:
    # given
    created = await create_template(operator, unique("template"))
    new_name = unique("updated")
    # when
    data = await operator.query(f"""
mutation {{
  result: updateApplicationTemplate(
    id: "{created["id"]}"
    override: true
    in: {{
      name: "{new_name}"
      description: "new description"
      applicationInput: {{ name: "{{{{name}}}}", description: "Lorem ipsum" }}
      placeholders: [{{ name: "name", description: "app name", jsonPath: "$.name", optional: false }}]
      labels: {{ label1: "value1" }}
      accessLevel: GLOBAL
      applicationNamespace: "ns"
    }}
  ) {{ {TEMPLATE} }}
}}
""")
    # then
    result = data["result"]
    assert result["name"] == new_name
    assert result["description"] == "new description"
    assert result["applicationNamespace"] == "ns"
    assert result["labels"] == {"test": ["test"], "label1": "value1"}
    assert result["webhooks"] == []
    assert result["applicationInput"] == (
        f'{{name: "{{{{name}}}}", description: "Lorem ipsum", labels: {{applicationType: "{new_name}"}}}}'
    )


async def test_delete_application_template(operator: Operator) -> None:
    # given
    created = await create_template(operator, unique("template"))
    # when
    data = await operator.query(
        f'mutation {{ result: deleteApplicationTemplate(id: "{created["id"]}") {{ {TEMPLATE} }} }}'
    )
    # then: the template as it was; its webhooks went with it (as in Compass, they are read after the delete)
    assert data["result"] == {**created, "webhooks": []}
    gone = await operator.query(f'query {{ result: applicationTemplate(id: "{created["id"]}") {{ id }} }}')
    assert gone["result"] is None


async def test_register_application_from_template(operator: Operator) -> None:
    # given
    template = await create_template(operator, unique("template"))
    app_name = f"app-{uuid.uuid4().hex[:8]}"
    # when
    data = await operator.query(f"""
mutation {{
  result: registerApplicationFromTemplate(
    in: {{
      templateName: "{template["name"]}"
      values: [{{ placeholder: "name", value: "{app_name}" }}, {{ placeholder: "display-name", value: "Shop" }}]
    }}
  ) {{ {APPLICATION} }}
}}
""")
    # then
    result = data["result"]
    assert result["name"] == app_name
    assert result["description"] == "test Shop"
    assert result["providerName"] == "compass-tests"
    assert result["healthCheckURL"] == "http://url.valid"
    assert result["applicationTemplateID"] == template["id"]
    assert result["applicationTemplate"] == {"id": template["id"], "name": template["name"]}
    assert result["labels"] == {
        "a": ["b", "c"],
        "d": ["e", "f"],
        "applicationType": template["name"],
        "managed": "false",
    }
    assert [webhook["url"] for webhook in result["webhooks"]] == ["http://url.com"]


async def test_register_application_from_template_with_placeholders_payload(operator: Operator) -> None:
    # given
    template = await create_template(operator, unique("templateForPlaceholdersPayload"))
    app_name = f"app-{uuid.uuid4().hex[:8]}"
    # when
    data = await operator.query(f"""
mutation {{
  result: registerApplicationFromTemplate(
    in: {{
      templateName: "{template["name"]}"
      placeholdersPayload: "{{\\"name\\": \\"{app_name}\\", \\"displayName\\":\\"appDisplayName\\"}}"
    }}
  ) {{ {APPLICATION} }}
}}
""")
    # then
    assert data["result"]["name"] == app_name
    assert data["result"]["description"] == "test appDisplayName"


async def test_register_application_from_template_using_template_name_and_id(operator: Operator) -> None:
    # given
    template = await create_template(operator, unique("template"))
    app_name = f"app-{uuid.uuid4().hex[:8]}"
    # when
    data = await operator.query(f"""
mutation {{
  result: registerApplicationFromTemplate(
    in: {{
      id: "{template["id"]}"
      templateName: "{template["name"]}"
      values: [{{ placeholder: "name", value: "{app_name}" }}, {{ placeholder: "display-name", value: "x" }}]
      labels: {{ origin: "example" }}
    }}
  ) {{ {APPLICATION} }}
}}
""")
    # then
    assert data["result"]["applicationTemplateID"] == template["id"]
    assert data["result"]["labels"]["origin"] == "example"


async def test_add_application_template_webhook(operator: Operator) -> None:
    # given
    template = await create_template(operator, unique("template"))
    # when
    data = await operator.query(f"""
mutation {{
  result: addWebhook(
    applicationTemplateID: "{template["id"]}"
    in: {{
      type: UNREGISTER_APPLICATION
      url: "http://new-webhook.url"
      outputTemplate: "{{\\"location\\":\\"{{{{.Headers.Location}}}}\\",\\"success_status_code\\": 202,\\"error\\": \\"{{{{.Body.error}}}}\\"}}"
    }}
  ) {{ {WEBHOOK} }}
}}
""")
    # then
    result = data["result"]
    assert (result["applicationTemplateID"], result["applicationID"], result["runtimeID"]) == (
        template["id"],
        None,
        None,
    )
    assert result["type"] == "UNREGISTER_APPLICATION"
    assert result["url"] == "http://new-webhook.url"
    read = await operator.query(
        f'query {{ result: applicationTemplate(id: "{template["id"]}") {{ webhooks {{ id }} }} }}'
    )
    assert result["id"] in [webhook["id"] for webhook in read["result"]["webhooks"]]


async def test_query_application_by_local_tenant_id_and_app_template_id(operator: Operator) -> None:
    # given
    template = await operator.query(
        """
mutation {
  result: createApplicationTemplate(in: {
    name: "%s", accessLevel: GLOBAL, placeholders: [{ name: "name" }]
    applicationInput: { name: "{{name}}", localTenantID: "local-tenant-id-1234" }
  }) { id name }
}
"""
        % unique("template")
    )
    app_name = f"app-{uuid.uuid4().hex[:8]}"
    registered = await operator.query(f"""
mutation {{
  result: registerApplicationFromTemplate(in: {{
    templateName: "{template["result"]["name"]}", values: [{{ placeholder: "name", value: "{app_name}" }}]
  }}) {{ id }}
}}
""")
    # when
    data = await operator.query(f"""
query {{
  result: applicationByLocalTenantIDAndAppTemplateID(
    localTenantID: "local-tenant-id-1234"
    applicationTemplateID: "{template["result"]["id"]}"
  ) {{ {APPLICATION} }}
}}
""")
    # then
    assert data["result"]["id"] == registered["result"]["id"]
    assert data["result"]["applicationTemplateID"] == template["result"]["id"]
    assert data["result"]["name"] == app_name


async def test_query_applications_global(tenants: TenantFactory) -> None:
    # given
    owner = await tenants.operator()
    registered = await owner.query(
        'mutation { result: registerApplication(in: {name: "global-app", labels: {scope: "global-example"}}) { id } }'
    )
    reader = await tenants.operator(scopes=[*sorted(ALL_SCOPES), Scope.APPLICATION_GLOBAL_READ])
    # when
    data = await reader.query(f"""
query {{
  result: applicationsGlobal(filter: [{{ key: "scope", query: "\\"global-example\\"" }}], first: 100) {{
    data {{
      application {{ {APPLICATION} }}
      tenants {{ id internalID name type parents initialized labels provider }}
    }}
    pageInfo {{ startCursor endCursor hasNextPage }}
    totalCount
  }}
}}
""")
    # then
    rows = {row["application"]["id"]: row for row in data["result"]["data"]}
    row = rows[registered["result"]["id"]]
    assert row["application"]["name"] == "global-app"
    assert [tenant["internalID"] for tenant in row["tenants"]] == [owner.tenant_id]
