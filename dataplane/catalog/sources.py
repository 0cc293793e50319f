"""The catalog a data plane process reads, chosen by its settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from dataplane.catalog.base import ApplicationMappings, Catalog
from dataplane.catalog.directory import DirectoryCatalog, DirectoryMappings

CatalogSource = Literal["directory", "kubernetes"]
# The Kubernetes catalog is imported only when chosen: lightkube and its models cost every
# process that reads a manifest directory (and every settings module that names CatalogSource) about a second.


class SourceSettings(Protocol):
    """What a command's settings say about where its Applications and ApplicationMappings come from."""

    @property
    def source(self) -> CatalogSource: ...

    @property
    def manifest_dir(self) -> Path: ...

    @property
    def kubeconfig(self) -> Path | None: ...

    @property
    def kube_context(self) -> str | None: ...


class CatalogSettings(SourceSettings, Protocol):
    """And where the Secrets the catalog holds come from."""

    @property
    def secret_namespace(self) -> str: ...


def open_catalog(
    source: CatalogSource,
    *,
    manifest_dir: Path,
    secret_namespace: str | None,
    kubeconfig: Path | None,
    kube_context: str | None,
) -> Catalog:
    """Not started yet: the caller starts and stops it with its own lifetime. ``CatalogError`` when the
    Kubernetes configuration is unusable. ``secret_namespace`` None: Kubernetes Applications only, no Secrets."""
    match source:
        case "directory":
            return DirectoryCatalog(manifest_dir)
        case "kubernetes":
            from dataplane.catalog.kubernetes import KubernetesCatalog  # noqa: PLC0415 - only when chosen, see above

            return KubernetesCatalog.from_config(
                kubeconfig=kubeconfig, context=kube_context, secret_namespace=secret_namespace
            )
        case _:
            raise ValueError(f"unknown catalog source {source!r}: directory or kubernetes")


def open_catalog_for(settings: CatalogSettings) -> Catalog:
    """``open_catalog`` with the settings' source, directory and Kubernetes options."""
    return open_catalog(
        settings.source,
        manifest_dir=settings.manifest_dir,
        secret_namespace=settings.secret_namespace,
        kubeconfig=settings.kubeconfig,
        kube_context=settings.kube_context,
    )


def open_applications_for(settings: SourceSettings) -> Catalog:
    """``open_catalog`` without Secrets (with Kubernetes, no Secret informer: nothing to cache or be allowed), for
    a reader of the Applications alone."""
    return open_catalog(
        settings.source,
        manifest_dir=settings.manifest_dir,
        secret_namespace=None,
        kubeconfig=settings.kubeconfig,
        kube_context=settings.kube_context,
    )


def open_mappings_for(settings: SourceSettings) -> ApplicationMappings:
    """The ApplicationMappings from the settings' source, not started yet (``CatalogError`` as ``open_catalog``)."""
    match settings.source:
        case "directory":
            return DirectoryMappings(settings.manifest_dir)
        case "kubernetes":
            from dataplane.catalog.kubernetes import KubernetesMappings  # noqa: PLC0415 - only when chosen, see above

            return KubernetesMappings.from_config(
                kubeconfig=settings.kubeconfig, context=settings.kube_context
            )
        case _:
            raise ValueError(f"unknown catalog source {settings.source!r}: directory or kubernetes")
