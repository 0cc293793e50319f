"""The subscription domain's own inputs: a subscribeTenant/unsubscribeTenant call, and the label keys it uses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SubscriptionRequest:
    """The arguments of subscribeTenant (unsubscribeTenant has no ``subscription_app_name``). As in Compass, the
    provider, its subaccount and the application name are taken from each of the payload's
    ``dependentServiceInstancesInfo`` entries; ``subaccount_id`` and ``provider_subaccount_id`` are external
    tenant ids."""

    provider_id: str
    subaccount_id: str
    provider_subaccount_id: str
    consumer_tenant_id: str
    region: str
    subscription_payload: str
    subscription_app_name: str | None = None


@dataclass(frozen=True)
class SubscriptionLabelKeys:
    """Compass's configurable label keys (``COMPASS_SUBSCRIPTION_*`` settings)."""

    provider: str
    global_subaccount_id: str
    subscription: str
    runtime_type: str
