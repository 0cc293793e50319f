"""Application and Secret manifests as the Runtime Agent writes them (or an operator by hand), and a directory
that holds them as the agent's directory sink does (one file per resource, replaced atomically): what the
gateway's and the event ingress's tests and benches feed the data plane."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]


def api_entry(
    name: str,
    target_url: str,
    *,
    credentials: dict[str, Any] | None = None,
    parameters_secret: str | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "API", "id": f"api-{name}", "name": name, "targetUrl": target_url}
    if credentials is not None:
        entry["credentials"] = credentials
    if parameters_secret is not None:
        entry["requestParametersSecretName"] = parameters_secret
    return entry


def event_entry(name: str) -> dict[str, Any]:
    return {"type": "Events", "id": f"event-{name}", "name": name}


def service(display_name: str, *entries: dict[str, Any], service_id: str | None = None) -> dict[str, Any]:
    identifier = service_id or f"service-{display_name}"
    return {"id": identifier, "name": identifier, "displayName": display_name, "entries": list(entries)}


def application(
    name: str,
    *services: dict[str, Any],
    skip_verify: bool = False,
    encode_url: bool = False,
    annotations: dict[str, str] | None = None,
    client_ids: list[str] | None = None,
) -> Manifest:
    metadata: dict[str, Any] = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    spec: dict[str, Any] = {"services": list(services), "skipVerify": skip_verify, "encodeUrl": encode_url}
    if client_ids is not None:
        spec["compassMetadata"] = {"applicationId": f"id-{name}", "authentication": {"clientIds": client_ids}}
    return {
        "apiVersion": "applicationconnector.kyma-project.io/v1alpha1",
        "kind": "Application",
        "metadata": metadata,
        "spec": spec,
    }


def one_api(name: str, target_url: str, credentials: dict[str, Any] | None = None) -> Manifest:
    """An Application ``name`` whose one service ``api`` has one API ``api`` calling ``target_url``: reached at
    ``/<name>/api/<path>`` (standalone) or ``/<name>/api/api/<path>`` (Compass)."""
    return application(name, service("api", api_entry("api", target_url, credentials=credentials)))


def secret(name: str, namespace: str = "kyma-system", **data: str | bytes) -> Manifest:
    encoded = {
        key: base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode()
        for key, value in data.items()
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": encoded,
    }


class ManifestDirectory:
    """Files named as the agent's directory sink names them, each written to a temporary file and renamed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, kind: str, name: str) -> Path:
        return self.directory / f"{kind.lower()}-{name}.yaml"

    def put(self, *manifests: Manifest) -> None:
        for manifest in manifests:
            path = self.path(manifest["kind"], manifest["metadata"]["name"])
            descriptor, temporary = tempfile.mkstemp(
                prefix=f".{path.name}.", suffix=".tmp", dir=self.directory
            )
            with os.fdopen(descriptor, "w") as handle:
                yaml.safe_dump(manifest, handle)
            os.replace(temporary, path)

    def remove(self, kind: str, name: str) -> None:
        self.path(kind, name).unlink(missing_ok=True)
