"""Choosing the catalog by the settings' source."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataplane.catalog.base import CatalogError
from dataplane.catalog.directory import DirectoryCatalog
from dataplane.catalog.kubernetes import KubernetesCatalog
from dataplane.catalog.sources import open_catalog
from testing.kube import FakeKubeApi


def test_the_directory_source_reads_the_manifest_directory(tmp_path: Path) -> None:
    catalog = open_catalog(
        "directory", manifest_dir=tmp_path, secret_namespace="kyma-system", kubeconfig=None, kube_context=None
    )

    assert isinstance(catalog, DirectoryCatalog) and catalog.directory == tmp_path


async def test_the_kubernetes_source_watches_the_secret_namespace(
    kube_api: FakeKubeApi, tmp_path: Path
) -> None:
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")

    catalog = open_catalog(
        "kubernetes",
        manifest_dir=tmp_path,
        secret_namespace="apps",
        kubeconfig=kubeconfig,
        kube_context="fake",
    )

    assert isinstance(catalog, KubernetesCatalog) and catalog.secret_namespace == "apps"
    await catalog.stop()


def test_a_kube_context_the_kubeconfig_lacks_is_a_catalog_error(
    kube_api: FakeKubeApi, tmp_path: Path
) -> None:
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")

    with pytest.raises(CatalogError, match="elsewhere"):
        open_catalog(
            "kubernetes",
            manifest_dir=tmp_path,
            secret_namespace="apps",
            kubeconfig=kubeconfig,
            kube_context="elsewhere",
        )
