"""What a sink is: the place the agent's manifests live (a Kubernetes API, or a directory of YAML files)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

OWNERSHIP_LABEL = ("applicationconnector.kyma-project.io/managed-by", "compass-runtime-agent")

APPLICATION_KIND = "Application"
APPLICATION_API_VERSION = "applicationconnector.kyma-project.io/v1alpha1"
SECRET_KIND = "Secret"
COMPASS_CONNECTION_KIND = "CompassConnection"
WEBHOOK_CONFIGURATION_KIND = "ValidatingWebhookConfiguration"
WEBHOOK_CONFIGURATION_API_VERSION = "admissionregistration.k8s.io/v1"
# The kinds whose resources carry the ownership label; a resource of these kinds without it is never touched.
MANAGED_KINDS = frozenset({APPLICATION_KIND, SECRET_KIND, WEBHOOK_CONFIGURATION_KIND})

Manifest = dict[str, Any]


class Batch(Protocol):
    """Writes of one batch: they may run at the same time, up to ``concurrency`` of them, so none of them may
    depend on another (a Secret's ownerReference on its Application: the Application goes in an earlier
    batch)."""

    @property
    def concurrency(self) -> int:
        """How many of the batch's writes the sink does well with at once."""
        ...

    async def apply(self, manifest: Manifest) -> None: ...

    async def delete(self, kind: str, name: str) -> None: ...


class Sink(Protocol):
    def batch(self) -> AbstractAsyncContextManager[Batch]:
        """Writes acknowledged together: each is as durable as the sink's single ``apply``/``delete`` once the
        block has exited (the exit waits for that, also when the block raises), not when it returns; only
        then may a write that describes them (the CompassConnection's status) follow."""
        ...

    async def list_owned(self, kind: str) -> dict[str, Manifest]:
        """name -> manifest of the resources of ``kind`` carrying the ownership label (Applications: and
        ``spec.compassMetadata``). The manifests are the sink's cache: read them, never change them."""
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
