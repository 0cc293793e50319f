"""The catalog a data plane process reads, chosen by its settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from dataplane.catalog.base import ApplicationMappings, Catalog
from dataplane.catalog.directory import DirectoryCatalog, DirectoryMappings
from dataplane.catalog.kubernetes import KubernetesCatalog, KubernetesMappings

CatalogSource = Literal["directory", "kubernetes"]


class CatalogSettings(Protocol):
    """What a command's settings say about where its catalog comes from."""

    @property
    def source(self) -> CatalogSource: ...

    @property
    def manifest_dir(self) -> Path: ...

    @property
    def secret_namespace(self) -> str: ...

    @property
    def kubeconfig(self) -> Path | None: ...

    @property
    def kube_context(self) -> str | None: ...


def open_catalog(
    source: CatalogSource,
    *,
    manifest_dir: Path,
    secret_namespace: str,
    kubeconfig: Path | None,
    kube_context: str | None,
) -> Catalog:
    """Not started yet: the caller starts and stops it with its own lifetime. ``CatalogError`` when the
    Kubernetes configuration is unusable."""
    match source:
        case "directory":
            return DirectoryCatalog(manifest_dir)
        case "kubernetes":
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


def open_mappings_for(settings: CatalogSettings) -> ApplicationMappings:
    """The ApplicationMappings from the settings' source, not started yet (``CatalogError`` as ``open_catalog``)."""
    match settings.source:
        case "directory":
            return DirectoryMappings(settings.manifest_dir)
        case "kubernetes":
            return KubernetesMappings.from_config(kubeconfig=settings.kubeconfig, context=settings.kube_context)
        case _:
            raise ValueError(f"unknown catalog source {settings.source!r}: directory or kubernetes")
