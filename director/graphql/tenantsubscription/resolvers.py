"""Compass's tenant subscription mutations, as its tenant fetcher calls them (``tenant_subscription:write``)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import Info

from director.graphql.apptemplate.resolvers import register_input_parser
from director.graphql.permissions import scoped
from director.subscription.inputs import SubscriptionLabelKeys, SubscriptionRequest
from director.subscription.service import subscription as subscription_service
from kernel.principal import Scope
from kernel.settings import Settings

WRITE = scoped(Scope.TENANT_SUBSCRIPTION_WRITE)
ProviderID = Annotated[str, strawberry.argument(name="providerID")]
SubaccountID = Annotated[str, strawberry.argument(name="subaccountID")]
ProviderSubaccountID = Annotated[str, strawberry.argument(name="providerSubaccountID")]
ConsumerTenantID = Annotated[str, strawberry.argument(name="consumerTenantID")]


def _keys(settings: Settings) -> SubscriptionLabelKeys:
    return SubscriptionLabelKeys(
        provider=settings.subscription_provider_label_key,
        global_subaccount_id=settings.subscription_global_subaccount_id_label_key,
        subscription=settings.subscription_label_key,
        runtime_type=settings.subscription_runtime_type_label_key,
    )


@strawberry.type
class TenantSubscriptionMutations:
    @strawberry.mutation(
        description="Subscribes a consumer subaccount to each provider the payload's dependentServiceInstancesInfo "
        "names: to its runtime (a runtime context and read access) or its application template (an application "
        "registered in the subaccount). False when no provider was found.",
        extensions=WRITE,
    )
    async def subscribe_tenant(  # noqa: PLR0917 - Compass's arguments
        self,
        info: Info,
        provider_id: ProviderID,
        subaccount_id: SubaccountID,
        provider_subaccount_id: ProviderSubaccountID,
        consumer_tenant_id: ConsumerTenantID,
        region: str,
        subscription_app_name: str,
        subscription_payload: str,
    ) -> bool:
        request = SubscriptionRequest(
            provider_id=provider_id,
            subaccount_id=subaccount_id,
            provider_subaccount_id=provider_subaccount_id,
            consumer_tenant_id=consumer_tenant_id,
            region=region,
            subscription_payload=subscription_payload,
            subscription_app_name=subscription_app_name,
        )
        return await info.context.write(
            subscription_service.subscribe,
            request,
            keys=_keys(info.context.settings),
            caller=info.context.principal,
            parse=register_input_parser(info),
        )

    @strawberry.mutation(
        description="Takes a subscription back: the subscription leaves the subscriptions label of what it made, "
        "which is deleted with its last one. False when no provider was found.",
        extensions=WRITE,
    )
    async def unsubscribe_tenant(  # noqa: PLR0917 - Compass's arguments
        self,
        info: Info,
        provider_id: ProviderID,
        subaccount_id: SubaccountID,
        provider_subaccount_id: ProviderSubaccountID,
        consumer_tenant_id: ConsumerTenantID,
        region: str,
        subscription_payload: str,
    ) -> bool:
        request = SubscriptionRequest(
            provider_id=provider_id,
            subaccount_id=subaccount_id,
            provider_subaccount_id=provider_subaccount_id,
            consumer_tenant_id=consumer_tenant_id,
            region=region,
            subscription_payload=subscription_payload,
        )
        return await info.context.write(
            subscription_service.unsubscribe,
            request,
            keys=_keys(info.context.settings),
            caller=info.context.principal,
            now=info.context.clock(),
        )
