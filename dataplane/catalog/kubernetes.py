"""The catalog over the Kubernetes API: Applications (cluster-scoped) and the Secrets of one namespace, each
kept in memory by an informer of its own.

An informer lists its kind, then watches from the list's resourceVersion (lightkube's watch reconnects from the
last version it saw when the server closes the stream). A watch that fails is followed by a fresh list, at once
when the server answered 410 Gone (its history no longer reaches back that far), after a backoff otherwise
(doubling while passes in a row watch nothing, a second 410 included); lookups answer what is in memory
meanwhile. Lookups before the first lists are in raise ``CatalogError``: the catalog cannot tell yet.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
import structlog
from lightkube import ALL_NS, ApiError, AsyncClient, ConfigError, KubeConfig
from lightkube.config.kubeconfig import SingleConfig
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.resources.core_v1 import Secret

from dataplane.catalog.base import CatalogError
from dataplane.catalog.model import Application, ApplicationMapping, SecretData
from dataplane.catalog.parse import (
    application_from_manifest,
    application_mapping_from_manifest,
    secret_data_from_manifest,
)
from dataplane.names import is_resource_name

log = structlog.get_logger("dataplane.catalog.kubernetes")

ApplicationResource = create_global_resource(
    "applicationconnector.kyma-project.io", "v1alpha1", "Application", "applications"
)
ApplicationMappingResource = create_namespaced_resource(
    "applicationconnector.kyma-project.io", "v1alpha1", "ApplicationMapping", "applicationmappings"
)
GONE = 410
# Seconds between attempts after a failure: doubling from the first, up to the last.
FIRST_BACKOFF, LAST_BACKOFF = 0.5, 30.0

T = TypeVar("T")


def kube_config(kubeconfig: Path | None, context: str | None) -> SingleConfig:
    """A kubeconfig file when given; else in-cluster config, then $KUBECONFIG or ~/.kube/config.

    Raises lightkube's ``ConfigError`` when there is no usable configuration."""
    config = KubeConfig.from_file(kubeconfig) if kubeconfig is not None else KubeConfig.from_env()
    single = config.get(context)
    if single is None:
        raise ConfigError(f"the kubeconfig has no context {context or '(current)'}")
    return single


@dataclass(frozen=True)
class Unusable:
    """An object that could not be converted: kept, so that its lookup says why rather than "none"."""

    reason: str


def object_name(manifest: Mapping[str, Any]) -> str:
    return str(manifest["metadata"]["name"])


def namespaced_name(manifest: Mapping[str, Any]) -> str:
    """``namespace/name``: the key of an informer across namespaces."""
    return f"{manifest['metadata'].get('namespace', '')}/{manifest['metadata']['name']}"


class Informer(Generic[T]):
    """One kind's objects by ``key`` (the name; ``namespace/name`` across namespaces), converted once per
    version. The events process keeps its Subscriptions with one too."""

    def __init__(
        self,
        client: AsyncClient,
        resource: Any,
        *,
        namespace: str | None,
        convert: Callable[[Mapping[str, Any]], T],
        key: Callable[[Mapping[str, Any]], str] = object_name,
    ) -> None:
        self.client, self.resource, self.namespace, self.convert = client, resource, namespace, convert
        self.key = key
        self.kind: str = resource._api_info.resource.kind
        self.items: dict[str, T | Unusable] = {}
        self.listed = False
        # Passes in a row whose watch delivered nothing: what the backoff grows with.
        self.failures = 0

    def get(self, name: str) -> T | None:
        if not self.listed:
            raise CatalogError(f"the {self.kind} resources have not been listed yet")
        if not is_resource_name(name):
            return None
        found = self.items.get(name)
        if isinstance(found, Unusable):
            raise CatalogError(found.reason)
        return found

    def in_namespace(self, namespace: str) -> list[T]:
        """The objects of one namespace (keys ``namespace/name``), by name; an unusable one among them is a
        ``CatalogError``, as a lookup of it is."""
        if not self.listed:
            raise CatalogError(f"the {self.kind} resources have not been listed yet")
        prefix = f"{namespace}/"
        found: list[T] = []
        for key in sorted(key for key in self.items if key.startswith(prefix)):
            item = self.items[key]
            if isinstance(item, Unusable):
                raise CatalogError(item.reason)
            found.append(item)
        return found

    async def run(self) -> None:
        while True:
            try:
                await self._watch(await self._list())
            except ApiError as exc:
                if exc.status.code == GONE and self.failures == 0:
                    # Expected now and then; only a 410 again before anything was watched waits.
                    log.info("catalog_watch_expired", kind=self.kind, reason=exc.status.message)
                    self.failures = 1
                    continue
                await self._back_off(f"{exc.status.code} {exc.status.reason or ''}".strip())
            except httpx.HTTPError as exc:
                await self._back_off(repr(exc))
            except Exception:  # whatever broke this pass: a dead informer would freeze the catalog
                log.exception("catalog_informer_failed", kind=self.kind)
                await self._back_off("unexpected error")

    async def _list(self) -> str:
        listing = self.client.list(self.resource, namespace=self.namespace)
        items: dict[str, T | Unusable] = {}
        async for item in listing:
            name, converted = self._converted(item.to_dict())
            items[name] = converted
        self.items = items  # all at once: a lookup sees the old list or the new one
        self.listed = True
        log.info("catalog_listed", kind=self.kind, count=len(items), resource_version=listing.resourceVersion)
        return listing.resourceVersion

    async def _watch(self, version: str) -> None:
        async for change, item in self.client.watch(
            self.resource, namespace=self.namespace, resource_version=version
        ):
            self.failures = 0
            manifest = item.to_dict()
            if change == "DELETED":
                self.items.pop(self.key(manifest), None)
            elif change in {"ADDED", "MODIFIED"}:
                name, converted = self._converted(manifest)
                self.items[name] = converted

    def _converted(self, manifest: Mapping[str, Any]) -> tuple[str, T | Unusable]:
        name = self.key(manifest)
        try:
            return name, self.convert(manifest)
        except ValueError as exc:
            return name, Unusable(f"{self.kind} {name} is not usable: {exc}")

    async def _back_off(self, reason: str) -> None:
        self.failures += 1
        delay = min(FIRST_BACKOFF * 2 ** (self.failures - 1), LAST_BACKOFF)
        log.warning("catalog_watch_failed", kind=self.kind, reason=reason, retry_in=delay)
        await asyncio.sleep(delay)


class Informed:
    """Informers on one client, run as tasks from ``start()`` to ``stop()``; ready once each has listed."""

    def __init__(self, client: AsyncClient, *informers: Informer[Any]) -> None:
        self._client = client
        self._informers = informers
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(informer.run(), name=f"informer-{informer.kind}")
            for informer in self._informers
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._client.close()

    @property
    def ready(self) -> bool:
        return all(informer.listed for informer in self._informers)


class KubernetesCatalog(Informed):
    """The Applications, and the Secrets of ``secret_namespace``; without one, Applications only (a reader that
    needs no credentials, the broker, then neither caches Secrets nor needs the right to read them)."""

    def __init__(self, client: AsyncClient, *, secret_namespace: str | None) -> None:
        self.secret_namespace = secret_namespace
        self._applications = Informer(
            client, ApplicationResource, namespace=None, convert=application_from_manifest
        )
        informers: list[Informer[Any]] = [self._applications]
        self._secrets: Informer[SecretData] | None = None
        if secret_namespace is not None:
            self._secrets = Informer(
                client, Secret, namespace=secret_namespace, convert=secret_data_from_manifest
            )
            informers.append(self._secrets)
        super().__init__(client, *informers)

    @classmethod
    def from_config(
        cls, *, kubeconfig: Path | None = None, context: str | None = None, secret_namespace: str | None
    ) -> KubernetesCatalog:
        try:
            config = kube_config(kubeconfig, context)
        except ConfigError as exc:
            raise CatalogError(f"no usable Kubernetes configuration: {exc}") from exc
        return cls(AsyncClient(config=config), secret_namespace=secret_namespace)

    def application(self, name: str) -> Application | None:
        return self._applications.get(name)

    def secret(self, name: str) -> SecretData | None:
        return None if self._secrets is None else self._secrets.get(name)


class KubernetesMappings(Informed):
    """ApplicationMappings of every namespace, kept by an informer (list + watch across namespaces)."""

    def __init__(self, client: AsyncClient) -> None:
        self._mappings = Informer(
            client,
            ApplicationMappingResource,
            namespace=ALL_NS,
            convert=application_mapping_from_manifest,
            key=namespaced_name,
        )
        super().__init__(client, self._mappings)

    @classmethod
    def from_config(cls, *, kubeconfig: Path | None = None, context: str | None = None) -> KubernetesMappings:
        try:
            config = kube_config(kubeconfig, context)
        except ConfigError as exc:
            raise CatalogError(f"no usable Kubernetes configuration: {exc}") from exc
        return cls(AsyncClient(config=config))

    def in_namespace(self, namespace: str) -> tuple[ApplicationMapping, ...]:
        return tuple(self._mappings.in_namespace(namespace))
