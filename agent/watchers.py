"""The Director's watchers → the runtime's ``ValidatingWebhookConfiguration`` (the Runtime Watcher's registration).

The agent asks the Director for the watchers of its tenant (``agent.queries.WATCHERS``) at each sync and keeps
one ``admissionregistration.k8s.io/v1`` ``ValidatingWebhookConfiguration``, ``compass-watcher``, with one
webhook per watcher: the API server then calls the watcher (``compass-watcher serve`` beside the agent) on each
CREATE, UPDATE and DELETE of a watched object, and the watcher tells the control plane. ``caBundle`` is the
watcher's CA file as it is at this sync, so a rotated bundle reaches the API server within one period.

The fields the API server would default (``matchPolicy``, ``namespaceSelector``, ``objectSelector``, the
service port, a rule's ``scope``) are written out, so the configuration a real API server hands back compares
equal to the one rendered and an unchanged sync writes nothing. Kyma's KLM renders the same shape with
``timeoutSeconds: 15``; pycompass's watcher answers before it contacts the control plane, so 3 s is plenty and
bounds the stall a hung watcher can cause (kubernetes#71508).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from agent.resources import normalize, short_hash
from agent.sinks.base import (
    OWNERSHIP_LABEL,
    WEBHOOK_CONFIGURATION_API_VERSION,
    WEBHOOK_CONFIGURATION_KIND,
    Manifest,
)

log = structlog.get_logger("agent.watchers")

WEBHOOK_CONFIGURATION_NAME = "compass-watcher"
WEBHOOK_SUFFIX = "watcher.compass.kyma-project.io"
TIMEOUT_SECONDS = 3
OPERATIONS = ("CREATE", "UPDATE", "DELETE")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class Watcher:
    """One watcher as the Director answers it: what to watch and which module's path the events go to."""

    id: str
    name: str
    module: str
    group: str
    version: str
    resource: str
    labels: Mapping[str, str]
    status: bool  # field STATUS: the /status subresource is watched instead of the object

    @property
    def webhook_name(self) -> str:
        """``<id>.watcher.compass.kyma-project.io``; an id that is no DNS label gives way to the normalized name
        and a hash of the id (a webhook's name must be a DNS name of three or more segments)."""
        label = self.id if _DNS_LABEL.fullmatch(self.id) else f"{normalize(self.name)[:52]}-{short_hash(self.id, 8)}"
        return f"{label.strip('-')}.{WEBHOOK_SUFFIX}"


def parse_watchers(items: Iterable[Any]) -> list[Watcher]:
    """The well-formed watchers of the Director's answer; one that is not (a missing field, a label value that
    is not a string, which ``matchLabels`` cannot hold) is left out and logged, not the whole answer."""
    watchers: list[Watcher] = []
    for item in items:
        try:
            watchers.append(_watcher(item))
        except (KeyError, TypeError, ValueError) as error:
            identity = item.get("id") if isinstance(item, dict) else None
            log.warning("watcher_malformed", watcher_id=identity, error=str(error))
    return watchers


def _watcher(item: Any) -> Watcher:
    target = item["resourceToWatch"]
    labels = item.get("labelsToWatch") or {}
    if not isinstance(labels, dict) or not all(isinstance(value, str) for value in labels.values()):
        raise ValueError("labelsToWatch must map label keys to string values")
    fields = (item["id"], item["name"], item["module"], target["group"], target["version"], target["resource"])
    if not all(isinstance(value, str) for value in fields) or not all(fields[:3] + fields[4:]):
        raise ValueError("id, name, module, version and resource must be non-empty strings, group a string")
    return Watcher(*fields, labels=dict(labels), status=item.get("field") == "STATUS")


def webhook_configuration(
    watchers: Iterable[Watcher], ca_bundle: bytes, *, service_name: str, service_namespace: str
) -> Manifest | None:
    """The configuration of ``watchers`` (None when there is none: the agent then keeps none)."""
    webhooks = sorted(
        (_webhook(watcher, ca_bundle, service_name, service_namespace) for watcher in watchers),
        key=lambda webhook: str(webhook["name"]),
    )
    if not webhooks:
        return None
    return {
        "apiVersion": WEBHOOK_CONFIGURATION_API_VERSION,
        "kind": WEBHOOK_CONFIGURATION_KIND,
        "metadata": {"name": WEBHOOK_CONFIGURATION_NAME, "labels": {OWNERSHIP_LABEL[0]: OWNERSHIP_LABEL[1]}},
        "webhooks": webhooks,
    }


def _webhook(watcher: Watcher, ca_bundle: bytes, service_name: str, service_namespace: str) -> dict[str, Any]:
    resource = f"{watcher.resource}/status" if watcher.status else watcher.resource
    return {
        "name": watcher.webhook_name,
        "clientConfig": {
            "service": {
                "namespace": service_namespace,
                "name": service_name,
                "path": f"/validate/{watcher.module}",
                "port": 443,
            },
            "caBundle": base64.b64encode(ca_bundle).decode("ascii"),
        },
        "rules": [
            {
                "apiGroups": [watcher.group],
                "apiVersions": [watcher.version],
                "resources": [resource],
                "operations": list(OPERATIONS),
                "scope": "*",
            }
        ],
        "matchPolicy": "Equivalent",
        "namespaceSelector": {},
        "objectSelector": {"matchLabels": dict(watcher.labels)} if watcher.labels else {},
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "failurePolicy": "Ignore",
        "timeoutSeconds": TIMEOUT_SECONDS,
    }
