"""subscribeTenant / unsubscribeTenant as Compass does them: the provider found by its labels on an application
template (an application in the consumer subaccount) or on a runtime of the provider subaccount (read access and a
runtime context for the consumer); repeated subscriptions counted in the ``subscriptions`` label."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from director.models import Runtime, Tenant, TenantAccess
from director.polling.invalidation import acting_in, changes, unit_of_work
from director.subscription.service import PREVIOUS_SUBSCRIPTION_ID
from kernel.db import Database
from kernel.principal import ALL_SCOPES, Scope
from tests.fixtures.subscriptions import (
    SaasLandscape,
    create_provider_template,
    external,
    payload,
    register_provider_runtime,
    subscribe_document,
    unsubscribe_document,
)
from tests.support import Operator, TenantFactory


async def subscribe(tenant_fetcher: Operator, saas_landscape: SaasLandscape, subscription_id: str) -> bool:
    data = await tenant_fetcher.query(
        subscribe_document(saas_landscape, payload(saas_landscape, subscription_id))
    )
    return bool(data["result"])


async def unsubscribe(tenant_fetcher: Operator, saas_landscape: SaasLandscape, subscription_id: str) -> bool:
    data = await tenant_fetcher.query(
        unsubscribe_document(saas_landscape, payload(saas_landscape, subscription_id))
    )
    return bool(data["result"])


async def consumer_applications(saas_landscape: SaasLandscape) -> list[dict[str, Any]]:
    data = await saas_landscape.consumer_operator.query(
        "{ result: applications { data { id name description baseUrl localTenantID applicationTemplateID labels } } }"
    )
    return list(data["result"]["data"])


async def consumer_contexts(saas_landscape: SaasLandscape, runtime_id: str) -> list[dict[str, Any]] | None:
    """The consumer's view of the provider's runtime contexts, or None when it does not see the runtime."""
    data = await saas_landscape.consumer_operator.query(
        f'{{ result: runtime(id: "{runtime_id}") {{ runtimeContexts {{ data {{ id key value labels }} }} }} }}'
    )
    runtime = data["result"]
    return None if runtime is None else list(runtime["runtimeContexts"]["data"])


# --- the application flow ---


async def test_subscribing_registers_an_application_from_the_providers_template_in_the_consumer_subaccount(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    template_id = await create_provider_template(tenant_fetcher, saas_landscape)

    assert await subscribe(tenant_fetcher, saas_landscape, "sub-1") is True

    [application] = await consumer_applications(saas_landscape)
    assert application["name"] == "shop"
    assert application["applicationTemplateID"] == template_id
    assert application["baseUrl"] == "https://acme.example.com"


async def test_the_region_placeholder_loses_the_cf_prefix(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)

    await subscribe(tenant_fetcher, saas_landscape, "sub-1")

    [application] = await consumer_applications(saas_landscape)
    assert application["description"] == "Shop in eu10"


async def test_the_subscribed_application_is_labelled_with_the_subscription_and_the_subaccount(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)

    await subscribe(tenant_fetcher, saas_landscape, "sub-1")

    [application] = await consumer_applications(saas_landscape)
    labels = application["labels"]
    assert (labels["managed"], labels["subscriptions"], labels["global_subaccount_id"]) == (
        "false",
        ["sub-1"],
        saas_landscape.consumer,
    )
    assert labels["env"] == "prod"


async def test_the_subscribed_applications_local_tenant_id_is_the_consumer_tenant(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)

    await subscribe(tenant_fetcher, saas_landscape, "sub-1")

    [application] = await consumer_applications(saas_landscape)
    assert application["localTenantID"] == saas_landscape.consumer_tenant_id


async def test_subscribing_again_adds_the_subscription_to_the_same_application(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)
    await subscribe(tenant_fetcher, saas_landscape, "sub-1")

    assert await subscribe(tenant_fetcher, saas_landscape, "sub-2") is True

    [application] = await consumer_applications(saas_landscape)
    assert application["labels"]["subscriptions"] == ["sub-1", "sub-2"]


async def test_repeating_a_subscription_changes_nothing(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)
    await subscribe(tenant_fetcher, saas_landscape, "sub-1")

    assert await subscribe(tenant_fetcher, saas_landscape, "sub-1") is True

    [application] = await consumer_applications(saas_landscape)
    assert application["labels"]["subscriptions"] == ["sub-1"]


async def test_an_application_subscribed_before_subscriptions_were_counted_keeps_the_previous_one(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)
    await subscribe(tenant_fetcher, saas_landscape, "sub-1")
    [application] = await consumer_applications(saas_landscape)
    await saas_landscape.consumer_operator.query(
        f'mutation {{ result: deleteApplicationLabel(applicationID: "{application["id"]}", key: "subscriptions") {{ key }} }}'
    )

    await subscribe(tenant_fetcher, saas_landscape, "sub-2")

    [application] = await consumer_applications(saas_landscape)
    assert application["labels"]["subscriptions"] == [PREVIOUS_SUBSCRIPTION_ID, "sub-2"]


async def test_unsubscribing_the_last_subscription_deletes_the_application(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)
    await subscribe(tenant_fetcher, saas_landscape, "sub-1")

    assert await unsubscribe(tenant_fetcher, saas_landscape, "sub-1") is True

    assert await consumer_applications(saas_landscape) == []


async def test_unsubscribing_one_of_several_subscriptions_keeps_the_application(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)
    await subscribe(tenant_fetcher, saas_landscape, "sub-1")
    await subscribe(tenant_fetcher, saas_landscape, "sub-2")

    await unsubscribe(tenant_fetcher, saas_landscape, "sub-1")

    [application] = await consumer_applications(saas_landscape)
    assert application["labels"]["subscriptions"] == ["sub-2"]


async def test_unsubscribing_an_unknown_subscription_leaves_the_counted_ones(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)
    await subscribe(tenant_fetcher, saas_landscape, "sub-1")
    await subscribe(tenant_fetcher, saas_landscape, "sub-2")

    await unsubscribe(tenant_fetcher, saas_landscape, "sub-9")

    [application] = await consumer_applications(saas_landscape)
    assert application["labels"]["subscriptions"] == ["sub-1", "sub-2"]


async def test_the_subscription_writes_nothing_into_the_callers_tenant(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)

    await subscribe(tenant_fetcher, saas_landscape, "sub-1")

    data = await tenant_fetcher.query("{ result: applications { totalCount } }")
    assert data["result"]["totalCount"] == 0


async def test_a_payload_value_missing_for_a_placeholder_is_invalid_input(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)
    body = payload(saas_landscape, "sub-1")
    del body["displayName"]

    codes = await tenant_fetcher.error_codes(subscribe_document(saas_landscape, body))

    assert codes == ["INVALID_INPUT"]
    assert await consumer_applications(saas_landscape) == []


async def test_an_unknown_consumer_subaccount_is_not_found(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)
    stranger = SaasLandscape(**{**saas_landscape.__dict__, "consumer": external("nobody")})

    codes = await tenant_fetcher.error_codes(subscribe_document(stranger, payload(stranger, "sub-1")))

    assert codes == ["NOT_FOUND"]


# --- how the provider is found ---


async def test_no_provider_with_the_labels_answers_false(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    assert await subscribe(tenant_fetcher, saas_landscape, "sub-1") is False
    assert await unsubscribe(tenant_fetcher, saas_landscape, "sub-1") is False


async def test_the_provider_is_the_payloads_not_the_arguments(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    """Compass takes provider, provider subaccount and application name from dependentServiceInstancesInfo."""
    await create_provider_template(tenant_fetcher, saas_landscape)
    misnamed = SaasLandscape(**{**saas_landscape.__dict__, "provider_id": external("other")})
    body = payload(saas_landscape, "sub-1")

    data = await tenant_fetcher.query(subscribe_document(misnamed, body))

    assert data["result"] is True
    assert len(await consumer_applications(saas_landscape)) == 1


async def test_a_payload_without_providers_answers_false(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)

    data = await tenant_fetcher.query(subscribe_document(saas_landscape, {"subscriptionGUID": "sub-1"}))

    assert data["result"] is False
    assert await consumer_applications(saas_landscape) == []


async def test_a_template_and_a_runtime_with_the_same_labels_conflict(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)
    await register_provider_runtime(saas_landscape)

    codes = await tenant_fetcher.error_codes(
        subscribe_document(saas_landscape, payload(saas_landscape, "sub-1"))
    )

    assert codes == ["CONFLICT"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{not json", "must be JSON"),
        ('{"subscriptionGUID": NaN}', "must be JSON"),
        ({"subscriptionGUID": "a\x00b"}, "holds a NUL character"),
        ("[]", "must be a JSON object"),
        ({"subscriptionGUID": "s", "dependentServiceInstancesInfo": {}}, "must be a list"),
        ({"subscriptionGUID": "s", "dependentServiceInstancesInfo": [1]}, "must be an object"),
        (
            {"subscriptionGUID": "s", "dependentServiceInstancesInfo": [{"appId": 7}]},
            "appId must be a string",
        ),
        ({"subscriptionGUID": "s", "dependentServiceInstancesInfo": [{}]}, "appId (the provider id)"),
        (
            {"subscriptionGUID": "s", "dependentServiceInstancesInfo": [{"appId": "a"}]},
            "providerSubaccountId",
        ),
        (
            {
                "subscriptionGUID": "s",
                "dependentServiceInstancesInfo": [{"appId": "a", "providerSubaccountId": "p"}],
            },
            "appName",
        ),
        (
            {"dependentServiceInstancesInfo": [{"appId": "a", "appName": "n", "providerSubaccountId": "p"}]},
            "subscriptionGUID must not be empty",
        ),
    ],
)
async def test_a_payload_compass_would_refuse_is_invalid_input(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape, body: Any, problem: str
) -> None:
    answer = await tenant_fetcher.execute(subscribe_document(saas_landscape, body))

    [error] = answer["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert problem in error["message"]


async def test_payload_members_match_ignoring_case_as_compass_reads_them(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)
    body = payload(saas_landscape, "sub-1")
    body["dependentServiceInstancesInfo"] = [
        {
            "APPID": saas_landscape.provider_id,
            "appname": "shop-app",
            "providerSubaccountID": saas_landscape.provider,
        }
    ]

    data = await tenant_fetcher.query(subscribe_document(saas_landscape, body))

    assert data["result"] is True


async def test_subscribing_needs_the_tenant_subscription_scope(
    tenants: TenantFactory, saas_landscape: SaasLandscape
) -> None:
    operator = await tenants.operator()
    assert Scope.TENANT_SUBSCRIPTION_WRITE not in ALL_SCOPES

    subscribe_codes = await operator.error_codes(
        subscribe_document(saas_landscape, payload(saas_landscape, "sub-1"))
    )
    unsubscribe_codes = await operator.error_codes(
        unsubscribe_document(saas_landscape, payload(saas_landscape, "sub-1"))
    )

    assert (subscribe_codes, unsubscribe_codes) == (["FORBIDDEN"], ["FORBIDDEN"])


# --- the runtime flow ---


async def test_subscribing_to_a_runtime_gives_the_consumer_a_subscription_context_on_it(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    runtime_id = await register_provider_runtime(saas_landscape)

    assert await subscribe(tenant_fetcher, saas_landscape, "sub-1") is True

    [context] = await consumer_contexts(saas_landscape, runtime_id) or []
    assert (context["key"], context["value"]) == ("subscription", saas_landscape.consumer_tenant_id)
    assert context["labels"]["global_subaccount_id"] == saas_landscape.consumer
    assert context["labels"]["subscriptions"] == ["sub-1"]


async def test_subscribing_to_a_runtime_labels_it_with_the_subscribed_application(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    runtime_id = await register_provider_runtime(saas_landscape)

    await subscribe(tenant_fetcher, saas_landscape, "sub-1")

    data = await saas_landscape.provider_operator.query(
        f'{{ result: runtime(id: "{runtime_id}") {{ labels }} }}'
    )
    assert data["result"]["labels"]["runtimeType"] == "shop-app"


async def test_the_consumer_is_granted_read_access_to_the_subscribed_runtime(
    database: Database, tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    runtime_id = await register_provider_runtime(saas_landscape)
    assert await consumer_contexts(saas_landscape, runtime_id) is None

    await subscribe(tenant_fetcher, saas_landscape, "sub-1")

    assert await consumer_contexts(saas_landscape, runtime_id) is not None
    async with database.read_sessions() as session:
        grants = (
            await session.execute(select(TenantAccess).where(TenantAccess.resource_id == runtime_id))
        ).scalars()
        assert [(grant.tenant_id, grant.owner) for grant in grants] == [
            (saas_landscape.consumer_operator.tenant_id, False)
        ]


async def test_the_provider_does_not_see_the_consumers_context(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    runtime_id = await register_provider_runtime(saas_landscape)

    await subscribe(tenant_fetcher, saas_landscape, "sub-1")

    data = await saas_landscape.provider_operator.query(
        f'{{ result: runtime(id: "{runtime_id}") {{ runtimeContexts {{ totalCount }} }} }}'
    )
    assert data["result"]["runtimeContexts"]["totalCount"] == 0


async def test_subscribing_to_a_runtime_again_adds_the_subscription_to_the_same_context(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    runtime_id = await register_provider_runtime(saas_landscape)
    await subscribe(tenant_fetcher, saas_landscape, "sub-1")

    await subscribe(tenant_fetcher, saas_landscape, "sub-2")

    [context] = await consumer_contexts(saas_landscape, runtime_id) or []
    assert context["labels"]["subscriptions"] == ["sub-1", "sub-2"]


async def test_unsubscribing_from_a_runtime_removes_the_subscription_from_the_context(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    runtime_id = await register_provider_runtime(saas_landscape)
    await subscribe(tenant_fetcher, saas_landscape, "sub-1")
    await subscribe(tenant_fetcher, saas_landscape, "sub-2")

    assert await unsubscribe(tenant_fetcher, saas_landscape, "sub-2") is True

    [context] = await consumer_contexts(saas_landscape, runtime_id) or []
    assert context["labels"]["subscriptions"] == ["sub-1"]


async def test_unsubscribing_the_last_subscription_deletes_the_context_and_keeps_the_access(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    """As in Compass, the consumer's access to the runtime stays (removeTenantAccess takes it back)."""
    runtime_id = await register_provider_runtime(saas_landscape)
    await subscribe(tenant_fetcher, saas_landscape, "sub-1")

    await unsubscribe(tenant_fetcher, saas_landscape, "sub-1")

    assert await consumer_contexts(saas_landscape, runtime_id) == []


async def test_a_runtime_outside_the_provider_subaccount_is_not_subscribed_to(
    tenant_fetcher: Operator, tenants: TenantFactory, saas_landscape: SaasLandscape
) -> None:
    elsewhere = await tenants.operator()
    runtime_id = await register_provider_runtime(saas_landscape, operator=elsewhere)

    assert await subscribe(tenant_fetcher, saas_landscape, "sub-1") is False

    assert await consumer_contexts(saas_landscape, runtime_id) is None


# --- cached views ---


async def _revision(database: Database, model: type[Tenant | Runtime], object_id: str) -> int:
    async with database.read_sessions() as session:
        return int((await session.execute(select(model.revision).where(model.id == object_id))).scalar_one())


async def test_a_subscription_to_a_runtime_invalidates_that_runtime_and_the_consumers_views(
    database: Database, tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    runtime_id = await register_provider_runtime(saas_landscape)
    consumer = saas_landscape.consumer_operator.tenant_id
    before = (await _revision(database, Runtime, runtime_id), await _revision(database, Tenant, consumer))

    await subscribe(tenant_fetcher, saas_landscape, "sub-1")

    after = (await _revision(database, Runtime, runtime_id), await _revision(database, Tenant, consumer))
    assert (after[0] > before[0], after[1] > before[1]) == (True, True)


async def test_a_subscription_to_a_template_invalidates_the_consumers_views_only(
    database: Database, tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)
    tenants = (
        saas_landscape.consumer_operator.tenant_id,
        saas_landscape.provider_operator.tenant_id,
        tenant_fetcher.tenant_id,
    )
    before = [await _revision(database, Tenant, tenant_id) for tenant_id in tenants]

    await subscribe(tenant_fetcher, saas_landscape, "sub-1")

    after = [await _revision(database, Tenant, tenant_id) for tenant_id in tenants]
    assert [new - old for new, old in zip(after, before, strict=True)] == [1, 0, 0]


async def test_declarations_acting_in_another_tenant_bump_that_tenant(
    database: Database, operator: Operator, tenants: TenantFactory
) -> None:
    other = await tenants.create()
    before = (await _revision(database, Tenant, operator.tenant_id), await _revision(database, Tenant, other))

    async with unit_of_work(database, operator.tenant_id) as session:
        changes(session).outside_views()
        with acting_in(session, other):
            await changes(session).tenant()

    after = (await _revision(database, Tenant, operator.tenant_id), await _revision(database, Tenant, other))
    assert (after[0] - before[0], after[1] - before[1]) == (0, 1)


async def test_concurrent_subscriptions_of_one_subaccount_make_one_application(
    tenant_fetcher: Operator, saas_landscape: SaasLandscape
) -> None:
    await create_provider_template(tenant_fetcher, saas_landscape)

    answers = await asyncio.gather(*(subscribe(tenant_fetcher, saas_landscape, f"sub-{n}") for n in range(3)))

    assert answers == [True, True, True]
    [application] = await consumer_applications(saas_landscape)
    assert sorted(application["labels"]["subscriptions"]) == ["sub-0", "sub-1", "sub-2"]
