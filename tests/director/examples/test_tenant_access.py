"""Compass-style documents (every field selected, values inline, a ``result:`` alias) for tenant access."""

from __future__ import annotations

import pytest

from kernel.principal import ALL_SCOPES, Scope
from tests.support import Operator, TenantFactory


@pytest.fixture
async def sharing(tenants: TenantFactory) -> Operator:
    """An operator holding tenant_access:write, which a tenant's token lacks unless asked for."""
    return await tenants.operator(scopes=sorted(ALL_SCOPES | {Scope.TENANT_ACCESS_WRITE}))


async def application(operator: Operator) -> str:
    data = await operator.query('mutation { result: registerApplication(in: { name: "shop" }) { id } }')
    return str(data["result"]["id"])


async def test_add_tenant_access(sharing: Operator, tenants: TenantFactory) -> None:
    grantee, application_id = await tenants.create(), await application(sharing)

    data = await sharing.query(f"""
mutation {{
  result: addTenantAccess(
    in: {{
      tenantID: "{grantee}"
      resourceID: "{application_id}"
      resourceType: APPLICATION
      owner: true
    }}
  ) {{
    tenantID
    resourceID
    resourceType
    owner
  }}
}}
""")

    assert data["result"] == {
        "tenantID": grantee,
        "resourceID": application_id,
        "resourceType": "APPLICATION",
        "owner": True,
    }


async def test_remove_tenant_access(sharing: Operator, tenants: TenantFactory) -> None:
    grantee, application_id = await tenants.create(), await application(sharing)
    await sharing.query(f"""
mutation {{
  result: addTenantAccess(
    in: {{ tenantID: "{grantee}", resourceID: "{application_id}", resourceType: APPLICATION, owner: true }}
  ) {{ owner }}
}}
""")

    data = await sharing.query(f"""
mutation {{
  result: removeTenantAccess(
    tenantID: "{grantee}"
    resourceID: "{application_id}"
    resourceType: APPLICATION
  ) {{
    tenantID
    resourceID
    resourceType
    owner
  }}
}}
""")

    assert data["result"] == {
        "tenantID": grantee,
        "resourceID": application_id,
        "resourceType": "APPLICATION",
        "owner": True,
    }
