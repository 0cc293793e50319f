"""The Subscriptions source an events process reads, chosen by its settings."""

from __future__ import annotations

from pathlib import Path

from dataplane.catalog.sources import CatalogSource
from events.subscriptions.base import SubscriptionSource
from events.subscriptions.directory import DirectorySubscriptions


def open_subscriptions(
    source: CatalogSource, *, manifest_dir: Path, kubeconfig: Path | None, kube_context: str | None
) -> SubscriptionSource:
    """From the same place as the Applications (``EVENTS_SOURCE``); not started yet: the caller starts and
    stops it with its own lifetime."""
    match source:
        case "directory":
            return DirectorySubscriptions(manifest_dir)
        case "kubernetes":
            # Imported only when chosen: lightkube costs a process that reads a manifest directory about a second.
            from events.subscriptions.kubernetes import KubernetesSubscriptions  # noqa: PLC0415 - see above

            return KubernetesSubscriptions.from_config(kubeconfig=kubeconfig, context=kube_context)
        case _:
            raise ValueError(f"unknown subscriptions source {source!r}: directory or kubernetes")
