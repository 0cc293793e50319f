"""What a sink is: the place the agent's manifests live (a Kubernetes API, or a directory of YAML files)."""

from __future__ import annotations

import re
from typing import Any, Protocol

OWNERSHIP_LABEL = ("applicationconnector.kyma-project.io/managed-by", "compass-runtime-agent")
DEFAULT_SECRET_NAMESPACE = "kyma-system"

APPLICATION_KIND = "Application"
APPLICATION_API_VERSION = "applicationconnector.kyma-project.io/v1alpha1"
SECRET_KIND = "Secret"
COMPASS_CONNECTION_KIND = "CompassConnection"
# The kinds whose resources carry the ownership label; a resource of these kinds without it is never touched.
MANAGED_KINDS = frozenset({APPLICATION_KIND, SECRET_KIND})

Manifest = dict[str, Any]

# A DNS-1123 subdomain, as Kubernetes wants metadata.name of these kinds; it also keeps file names safe.
_NAME_MAX_LENGTH = 253  # a DNS subdomain: Kubernetes' limit for object names
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class Sink(Protocol):
    async def list_owned(self, kind: str) -> dict[str, Manifest]:
        """name -> manifest of the resources of ``kind`` carrying the ownership label (Applications: and
        ``spec.compassMetadata``)."""
        ...

    async def apply(self, manifest: Manifest) -> None:
        """Creates or updates the resource; idempotent."""
        ...

    async def delete(self, kind: str, name: str) -> None:
        """Deletes the resource; a missing one is not an error."""
        ...

    async def get(self, kind: str, name: str) -> Manifest | None:
        """Any resource of ``kind`` (the CompassConnection included), or None."""
        ...


def is_valid_name(name: str) -> bool:
    return len(name) <= _NAME_MAX_LENGTH and _NAME.fullmatch(name) is not None


def labels_of(manifest: Manifest) -> dict[str, Any]:
    labels = (manifest.get("metadata") or {}).get("labels") or {}
    return labels if isinstance(labels, dict) else {}


def is_owned(manifest: Manifest) -> bool:
    """Carries the ownership label; an Application must also carry ``spec.compassMetadata``."""
    key, value = OWNERSHIP_LABEL
    if labels_of(manifest).get(key) != value:
        return False
    if manifest.get("kind") == APPLICATION_KIND:
        spec = manifest.get("spec")
        return isinstance(spec, dict) and isinstance(spec.get("compassMetadata"), dict)
    return True


def describe(manifest: Manifest) -> str:
    return f"{manifest.get('kind')}/{(manifest.get('metadata') or {}).get('name')}"
