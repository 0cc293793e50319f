"""Manifests as the agent writes them (its ownership label, ``spec.compassMetadata``), small enough to read."""

from __future__ import annotations

import base64
from typing import Any

from dataplane.catalog.model import Application

OWNED = {"applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent"}


def application(name: str, *, target_url: str = "https://shop.example/orders/v1") -> dict[str, Any]:
    return {
        "apiVersion": "applicationconnector.kyma-project.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "labels": dict(OWNED)},
        "spec": {
            "compassMetadata": {"applicationId": "app-1", "authentication": {"clientIds": ["client-1"]}},
            "services": [
                {
                    "id": "bundle-1",
                    "name": "orders-api-bundle-1",
                    "displayName": "Orders API",
                    "entries": [
                        {
                            "type": "API",
                            "id": "api-1",
                            "name": "orders v1",
                            "targetUrl": target_url,
                            "credentials": {"type": "Basic", "secretName": f"{name}-credentials"},
                        }
                    ],
                }
            ],
        },
    }


def secret(name: str, data: dict[str, str], *, namespace: str = "kyma-system") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(OWNED)},
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def target_url(found: Application | None) -> str:
    """The first entry's target URL of a found Application."""
    assert found is not None
    return found.services[0].entries[0].target_url
