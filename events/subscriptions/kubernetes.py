"""Subscriptions from the Kubernetes API: every namespace's, kept in memory by the data plane's informer (a list,
then a watch from its resourceVersion, listed again after a failure)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import structlog
from lightkube import AsyncClient
from lightkube.core.generic_client import ALL_NS
from lightkube.generic_resource import create_namespaced_resource

from dataplane.catalog.kubernetes import Informed, Informer, kube_config
from events.subscriptions.model import (
    GROUP,
    KIND,
    Subscription,
    UnusableSubscription,
    subscription_from_manifest,
)

log = structlog.get_logger("events.subscriptions.kubernetes")

SubscriptionResource = create_namespaced_resource(GROUP, "v1alpha2", KIND, "subscriptions")


def _identity(manifest: Mapping[str, Any]) -> str:
    return f"{manifest['metadata'].get('namespace', '')}/{manifest['metadata']['name']}"


def _converted(manifest: Mapping[str, Any]) -> Subscription:
    """Logs why a version is unusable: the informer keeps the reason without a word, and ``current()`` leaves
    the Subscription out."""
    try:
        return subscription_from_manifest(manifest)
    except UnusableSubscription as exc:
        log.warning("subscription_unusable", subscription=_identity(manifest), reason=str(exc))
        raise


class KubernetesSubscriptions(Informed):
    def __init__(self, client: AsyncClient) -> None:
        self._informer = Informer(
            client, SubscriptionResource, namespace=ALL_NS, convert=_converted, key=_identity
        )
        super().__init__(client, self._informer)

    @classmethod
    def from_config(
        cls, *, kubeconfig: Path | None = None, context: str | None = None
    ) -> KubernetesSubscriptions:
        """lightkube's ``ConfigError`` when there is no usable configuration."""
        return cls(AsyncClient(config=kube_config(kubeconfig, context)))

    def current(self) -> Mapping[str, Subscription]:
        """The usable ones (an unusable one was logged when it was converted)."""
        return MappingProxyType(
            {key: item for key, item in self._informer.items.items() if isinstance(item, Subscription)}
        )
