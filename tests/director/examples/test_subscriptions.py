"""Compass-style documents (values inline, a ``result:`` alias) for subscribeTenant and unsubscribeTenant, as
Compass's tenant fetcher sends them, and what the consumer then reads (every field selected)."""

from __future__ import annotations

from typing import Any

from tests.director.examples.test_application_templates import APPLICATION
from tests.fixtures.subscriptions import (
    SaasLandscape,
    create_provider_template,
    payload,
    register_provider_runtime,
    subscribe_document,
    unsubscribe_document,
)
from tests.support import Operator

RUNTIME_CONTEXT = "id key value labels"


def subscribe_tenant(saas_landscape: SaasLandscape, subscription_id: str) -> str:
    return subscribe_document(saas_landscape, payload(saas_landscape, subscription_id))


def unsubscribe_tenant(saas_landscape: SaasLandscape, subscription_id: str) -> str:
    return unsubscribe_document(saas_landscape, payload(saas_landscape, subscription_id))


async def consumer_applications(saas_landscape: SaasLandscape) -> list[dict[str, Any]]:
    data = await saas_landscape.consumer_operator.query(f"""
query {{
  result: applications {{
    data {{ {APPLICATION} }}
    pageInfo {{ startCursor endCursor hasNextPage }}
    totalCount
  }}
}}
""")
    return list(data["result"]["data"])


async def test_subscribe_tenant_to_an_application_template(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    template_id = await create_provider_template(tenant_fetcher, saas_landscape)

    data = await tenant_fetcher.query(
        subscribe_tenant(saas_landscape, "3f6a1b2c-0d4e-4f5a-8b6c-7d8e9f0a1b2c")
    )

    assert data["result"] is True
    [application] = await consumer_applications(saas_landscape)
    assert (application["name"], application["applicationTemplateID"]) == ("shop", template_id)
    assert application["localTenantID"] == saas_landscape.consumer_tenant_id
    assert application["labels"]["subscriptions"] == ["3f6a1b2c-0d4e-4f5a-8b6c-7d8e9f0a1b2c"]


async def test_unsubscribe_tenant_from_an_application_template(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)
    await tenant_fetcher.query(subscribe_tenant(saas_landscape, "3f6a1b2c-0d4e-4f5a-8b6c-7d8e9f0a1b2c"))

    data = await tenant_fetcher.query(
        unsubscribe_tenant(saas_landscape, "3f6a1b2c-0d4e-4f5a-8b6c-7d8e9f0a1b2c")
    )

    assert data["result"] is True
    assert await consumer_applications(saas_landscape) == []


async def test_subscribe_tenant_to_a_runtime(tenant_fetcher: Operator, saas_landscape: SaasLandscape) -> None:
    runtime_id = await register_provider_runtime(saas_landscape)

    data = await tenant_fetcher.query(
        subscribe_tenant(saas_landscape, "3f6a1b2c-0d4e-4f5a-8b6c-7d8e9f0a1b2c")
    )

    assert data["result"] is True
    seen = await saas_landscape.consumer_operator.query(f"""
query {{
  result: runtime(id: "{runtime_id}") {{
    id
    runtimeContexts {{
      data {{ {RUNTIME_CONTEXT} }}
      pageInfo {{ startCursor endCursor hasNextPage }}
      totalCount
    }}
  }}
}}
""")
    [context] = seen["result"]["runtimeContexts"]["data"]
    assert (context["key"], context["value"]) == ("subscription", saas_landscape.consumer_tenant_id)
    assert context["labels"]["global_subaccount_id"] == saas_landscape.consumer


async def test_unsubscribe_tenant_from_a_runtime(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    runtime_id = await register_provider_runtime(saas_landscape)
    await tenant_fetcher.query(subscribe_tenant(saas_landscape, "3f6a1b2c-0d4e-4f5a-8b6c-7d8e9f0a1b2c"))

    data = await tenant_fetcher.query(
        unsubscribe_tenant(saas_landscape, "3f6a1b2c-0d4e-4f5a-8b6c-7d8e9f0a1b2c")
    )

    assert data["result"] is True
    seen = await saas_landscape.consumer_operator.query(
        f'query {{ result: runtime(id: "{runtime_id}") {{ runtimeContexts {{ totalCount }} }} }}'
    )
    assert seen["result"]["runtimeContexts"]["totalCount"] == 0
