"""Compass-style documents (every field selected, values inline, a ``result:`` alias) for bundle instance auths
set by the caller, tenants, health checks and certificate subject mappings."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from kernel.principal import ALL_SCOPES, PLATFORM_SCOPES
from tests.director.examples.test_shared_types import AUTH
from tests.support import Operator, TenantFactory

INSTANCE_AUTH = f"""
    id
    context
    inputParams
    auth {{ {AUTH} }}
    status {{ condition timestamp message reason }}
    runtimeID
    runtimeContextID
"""
TENANT = "id internalID name type parents initialized labels provider"
MAPPING = "id subject consumerType internalConsumerID tenantAccessLevels createdAt updatedAt"
SUBJECT = "C=DE, L=local, O=SAP SE, OU=Region, OU=SAP Cloud Platform Clients, OU=2c0fe288, CN=compass"


@pytest.fixture
async def platform(tenants: TenantFactory) -> Operator:
    """An operator holding the platform scopes too (tenant:write, certificate_subject_mapping:*)."""
    return await tenants.operator(scopes=sorted(ALL_SCOPES | PLATFORM_SCOPES))


def external() -> str:
    return str(uuid.uuid4())


async def bundle_and_runtime(operator: Operator) -> tuple[str, str]:
    application = await operator.query("""
mutation {
  result: registerApplication(in: { name: "shop", bundles: [{ name: "orders" }] }) { bundles { data { id } } }
}
""")
    runtime = await operator.query('mutation { result: registerRuntime(in: { name: "kyma" }) { id } }')
    return application["result"]["bundles"]["data"][0]["id"], runtime["result"]["id"]


async def create_instance_auth(operator: Operator, bundle_id: str, runtime_id: str) -> dict[str, Any]:
    data = await operator.query(f"""
mutation {{
  result: createBundleInstanceAuth(
    bundleID: "{bundle_id}"
    in: {{
      context: "{{\\"ContextData\\":\\"ContextValue\\"}}"
      inputParams: "{{\\"InKey\\":\\"InValue\\"}}"
      auth: {{ credential: {{ basic: {{ username: "admin", password: "secret" }} }} }}
      runtimeID: "{runtime_id}"
    }}
  ) {{ {INSTANCE_AUTH} }}
}}
""")
    return dict(data["result"])


async def test_create_bundle_instance_auth(operator: Operator) -> None:
    bundle_id, runtime_id = await bundle_and_runtime(operator)

    created = await create_instance_auth(operator, bundle_id, runtime_id)

    assert created["context"] == '{"ContextData":"ContextValue"}'
    assert created["inputParams"] == '{"InKey":"InValue"}'
    assert created["auth"]["credential"] == {"username": "admin", "password": "secret"}
    assert created["status"]["condition"] == "SUCCEEDED"
    assert created["status"]["reason"] == "CredentialsProvided"
    assert (created["runtimeID"], created["runtimeContextID"]) == (runtime_id, None)


async def test_update_bundle_instance_auth(operator: Operator) -> None:
    bundle_id, runtime_id = await bundle_and_runtime(operator)
    created = await create_instance_auth(operator, bundle_id, runtime_id)

    data = await operator.query(f"""
mutation {{
  result: updateBundleInstanceAuth(
    id: "{created["id"]}"
    bundleID: "{bundle_id}"
    in: {{ context: "{{\\"ContextData\\":\\"Updated\\"}}", auth: {{ credential: {{ basic: {{ username: "u", password: "p" }} }} }} }}
  ) {{ {INSTANCE_AUTH} }}
}}
""")

    updated = data["result"]
    assert updated["context"] == '{"ContextData":"Updated"}'
    assert updated["inputParams"] == created["inputParams"]
    assert updated["auth"]["credential"] == {"username": "u", "password": "p"}
    assert updated["status"] == created["status"]


async def test_delete_bundle_instance_auth(operator: Operator) -> None:
    bundle_id, runtime_id = await bundle_and_runtime(operator)
    created = await create_instance_auth(operator, bundle_id, runtime_id)

    data = await operator.query(f'mutation {{ result: deleteBundleInstanceAuth(authID: "{created["id"]}") {{ {INSTANCE_AUTH} }} }}')

    assert data["result"] == created
    gone = await operator.query(f'query {{ result: bundleInstanceAuth(id: "{created["id"]}") {{ id }} }}')
    assert gone["result"] is None


async def test_query_bundle_by_instance_auth(operator: Operator) -> None:
    bundle_id, runtime_id = await bundle_and_runtime(operator)
    created = await create_instance_auth(operator, bundle_id, runtime_id)

    data = await operator.query(f"""
query {{
  result: bundleByInstanceAuth(authID: "{created["id"]}") {{
    id name description instanceAuthRequestInputSchema
    instanceAuths {{ {INSTANCE_AUTH} }}
    defaultInstanceAuth {{ {AUTH} }}
  }}
}}
""")

    assert data["result"]["id"] == bundle_id
    assert data["result"]["name"] == "orders"
    assert data["result"]["instanceAuths"] == [created]


async def test_query_health_checks(operator: Operator) -> None:
    data = await operator.query("""
query {
  result: healthChecks(types: [MANAGEMENT_PLANE_APPLICATION_HEALTHCHECK], first: 100) {
    data { type condition origin message timestamp }
    pageInfo { startCursor endCursor hasNextPage }
    totalCount
  }
}
""")

    assert data["result"] == {
        "data": [],
        "pageInfo": {"startCursor": "", "endCursor": "", "hasNextPage": False},
        "totalCount": 0,
    }


async def write_tenant(operator: Operator, external_id: str, *, type_: str = "account", parents: str = "") -> str:
    data = await operator.query(f"""
mutation {{
  result: writeTenant(in: {{
    name: "tenant {external_id}"
    externalTenant: "{external_id}"
    parents: [{parents}]
    subdomain: "sub-{external_id[:8]}"
    region: "eu-1"
    type: "{type_}"
    provider: "e2e-tests"
    licenseType: "LICENSE"
  }})
}}
""")
    return str(data["result"])


async def test_write_tenant(platform: Operator) -> None:
    external_id = external()

    internal_id = await write_tenant(platform, external_id)

    data = await platform.query(f'query {{ result: tenantByInternalID(id: "{internal_id}") {{ {TENANT} }} }}')
    assert data["result"] == {
        "id": external_id,
        "internalID": internal_id,
        "name": f"tenant {external_id}",
        "type": "account",
        "parents": [],
        "initialized": False,
        "labels": {"licensetype": "LICENSE", "region": "eu-1", "subdomain": f"sub-{external_id[:8]}"},
        "provider": "e2e-tests",
    }


async def test_write_tenants(platform: Operator) -> None:
    customer, account = external(), external()

    data = await platform.query(f"""
mutation {{
  result: writeTenants(in: [
    {{ name: "acc {account}", externalTenant: "{account}", parents: ["{customer}"], type: "account", provider: "e2e" }}
    {{ name: "cust {customer}", externalTenant: "{customer}", type: "customer", provider: "e2e" }}
  ])
}}
""")

    assert len(data["result"]) == 2
    found = await platform.query(f'query {{ result: tenantByExternalID(id: "{account}") {{ {TENANT} }} }}')
    assert found["result"]["parents"] == [
        (await platform.query(f'query {{ result: tenantByExternalID(id: "{customer}") {{ internalID }} }}'))["result"][
            "internalID"
        ]
    ]


async def test_query_tenant_by_external_id(platform: Operator) -> None:
    external_id = external()
    internal_id = await write_tenant(platform, external_id)

    data = await platform.query(f'query {{ result: tenantByExternalID(id: "{external_id}") {{ {TENANT} }} }}')

    assert (data["result"]["id"], data["result"]["internalID"]) == (external_id, internal_id)


async def test_query_root_tenants(platform: Operator) -> None:
    root, child = external(), external()
    root_id = await write_tenant(platform, root, type_="customer")
    await write_tenant(platform, child, parents=f'"{root}"')

    data = await platform.query(f'query {{ result: rootTenants(externalTenant: "{child}") {{ {TENANT} }} }}')

    assert [tenant["internalID"] for tenant in data["result"]] == [root_id]


async def test_query_tenant_by_lowest_owner_for_resource(operator: Operator) -> None:
    runtime = await operator.query('mutation { result: registerRuntime(in: { name: "kyma" }) { id } }')

    data = await operator.query(f"""
query {{ result: tenantByLowestOwnerForResource(id: "{runtime["result"]["id"]}", resource: "runtime") }}
""")

    assert data["result"] == operator.tenant_id


async def test_update_tenant(platform: Operator) -> None:
    external_id, renamed = external(), external()
    internal_id = await write_tenant(platform, external_id)

    data = await platform.query(f"""
mutation {{
  result: updateTenant(id: "{internal_id}", in: {{
    name: "renamed {renamed}", externalTenant: "{renamed}", type: "subaccount", provider: "e2e-updated"
  }}) {{ {TENANT} }}
}}
""")

    assert data["result"]["id"] == renamed
    assert data["result"]["internalID"] == internal_id
    assert (data["result"]["name"], data["result"]["type"]) == (f"renamed {renamed}", "subaccount")
    assert data["result"]["provider"] == "e2e-updated"


async def test_set_tenant_label(platform: Operator) -> None:
    internal_id = await write_tenant(platform, external())

    data = await platform.query(f"""
mutation {{ result: setTenantLabel(tenantID: "{internal_id}", key: "customerId", value: "0012345") {{ key value }} }}
""")

    assert data["result"] == {"key": "customerId", "value": "0012345"}


async def test_delete_tenants(platform: Operator) -> None:
    first, second = external(), external()
    await write_tenant(platform, first)
    await write_tenant(platform, second)

    data = await platform.query(f'mutation {{ result: deleteTenants(in: ["{first}", "{second}"]) }}')

    assert data["result"] == 2
    assert await platform.error_codes(f'query {{ result: tenantByExternalID(id: "{first}") {{ id }} }}') == ["NOT_FOUND"]


async def create_mapping(operator: Operator) -> dict[str, Any]:
    data = await operator.query(f"""
mutation {{
  result: createCertificateSubjectMapping(in: {{
    subject: "{SUBJECT}"
    consumerType: "Integration System"
    internalConsumerID: "5de5ef12-2d4d-4d56-9f42-5a6a1f6fbc6e"
    tenantAccessLevels: ["account", "subaccount"]
  }}) {{ {MAPPING} }}
}}
""")
    return dict(data["result"])


async def test_create_certificate_subject_mapping(platform: Operator) -> None:
    created = await create_mapping(platform)

    assert created["subject"] == SUBJECT
    assert created["consumerType"] == "Integration System"
    assert created["internalConsumerID"] == "5de5ef12-2d4d-4d56-9f42-5a6a1f6fbc6e"
    assert created["tenantAccessLevels"] == ["account", "subaccount"]
    assert created["createdAt"] is not None
    assert created["updatedAt"] is None


async def test_query_certificate_subject_mapping(platform: Operator) -> None:
    created = await create_mapping(platform)

    data = await platform.query(f'query {{ result: certificateSubjectMapping(id: "{created["id"]}") {{ {MAPPING} }} }}')

    assert data["result"] == created


async def test_query_certificate_subject_mappings(platform: Operator) -> None:
    created = await create_mapping(platform)

    data = await platform.query(f"""
query {{
  result: certificateSubjectMappings(first: 300) {{
    data {{ {MAPPING} }}
    pageInfo {{ startCursor endCursor hasNextPage }}
    totalCount
  }}
}}
""")

    assert created in data["result"]["data"]
    assert data["result"]["totalCount"] == len(data["result"]["data"])


async def test_update_certificate_subject_mapping(platform: Operator) -> None:
    created = await create_mapping(platform)

    data = await platform.query(f"""
mutation {{
  result: updateCertificateSubjectMapping(id: "{created["id"]}", in: {{
    subject: "{SUBJECT}"
    consumerType: "Runtime"
    tenantAccessLevels: ["global"]
  }}) {{ {MAPPING} }}
}}
""")

    updated = data["result"]
    assert (updated["consumerType"], updated["internalConsumerID"]) == ("Runtime", None)
    assert updated["tenantAccessLevels"] == ["global"]
    assert updated["updatedAt"] is not None


async def test_delete_certificate_subject_mapping(platform: Operator) -> None:
    created = await create_mapping(platform)

    data = await platform.query(f'mutation {{ result: deleteCertificateSubjectMapping(id: "{created["id"]}") {{ {MAPPING} }} }}')

    assert data["result"] == created
    missing = await platform.error_codes(f'query {{ result: certificateSubjectMapping(id: "{created["id"]}") {{ id }} }}')
    assert missing == ["NOT_FOUND"]


async def test_query_operation_by_id(operator: Operator) -> None:
    body = await operator.execute("""
query {
  result: operation(id: "6c1d3e0b-6b5a-4d4a-9cd3-2f8e5c1d9a11") {
    id operationType status error errorSeverity createdAt updatedAt
  }
}
""")

    assert body["data"] == {"result": None}
    assert [error["extensions"]["code"] for error in body["errors"]] == ["NOT_FOUND"]


async def test_schedule_operation(operator: Operator) -> None:
    body = await operator.execute("""
mutation {
  result: scheduleOperation(operationID: "6c1d3e0b-6b5a-4d4a-9cd3-2f8e5c1d9a11", priority: 1) {
    id operationType status error errorSeverity createdAt updatedAt
  }
}
""")

    assert [error["extensions"]["code"] for error in body["errors"]] == ["NOT_FOUND"]


async def test_register_application_in_async_mode(operator: Operator) -> None:
    data = await operator.query("""
mutation {
  result: registerApplication(
    in: { name: "async-app", providerName: "compass", description: "async", webhooks: [{ type: CONFIGURATION_CHANGED, url: "https://hook.example.com" }] }
    mode: ASYNC
  ) {
    id name providerName description status { condition timestamp }
    operations { id operationType status error errorSeverity createdAt updatedAt }
  }
}
""")

    assert data["result"]["status"]["condition"] == "CREATE_SUCCEEDED"
    assert data["result"]["operations"] == []


async def test_unregister_application_in_async_mode(operator: Operator) -> None:
    registered = await operator.query('mutation { result: registerApplication(in: { name: "leaving" }) { id } }')
    application_id = registered["result"]["id"]

    data = await operator.query(f"""
mutation {{
  result: unregisterApplication(id: "{application_id}", mode: ASYNC) {{
    id name operations {{ id operationType status error errorSeverity createdAt updatedAt }}
  }}
}}
""")

    assert (data["result"]["id"], data["result"]["name"]) == (application_id, "leaving")
    gone = await operator.query(f'query {{ result: application(id: "{application_id}") {{ id }} }}')
    assert gone["result"] is None
