"""The Kubernetes catalog with the real lightkube client against testing/kube.py on loopback HTTP: listed
first, then kept current by watches, listed again when a watch breaks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import structlog

from dataplane.catalog.base import CatalogError
from dataplane.catalog.kubernetes import KubernetesCatalog
from testing.kube import FakeKubeApi
from testing.waiting import wait_until
from tests.dataplane.support import application, secret, target_url

NAMESPACE = "compass-apps"
APPLICATIONS = "/apis/applicationconnector.kyma-project.io/v1alpha1/applications"
SECRETS = f"/api/v1/namespaces/{NAMESPACE}/secrets"


@pytest.fixture
async def catalog(kube_api: FakeKubeApi, tmp_path: Path) -> AsyncIterator[KubernetesCatalog]:
    """Not started: a test arranges the API server's objects first."""
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    catalog = KubernetesCatalog.from_config(kubeconfig=kubeconfig, secret_namespace=NAMESPACE)
    yield catalog
    await catalog.stop()


async def started(catalog: KubernetesCatalog) -> KubernetesCatalog:
    await catalog.start()
    await wait_until(lambda: catalog.ready, what="the catalog's first lists")
    return catalog


def looked_up(lookup: Callable[[], object]) -> Callable[[], bool]:
    """A condition: the lookup answers (not None, no CatalogError)."""

    def answered() -> bool:
        try:
            return lookup() is not None
        except CatalogError:
            return False

    return answered


def shop_secret(**data: str) -> dict[str, object]:
    return secret("shop-credentials", data, namespace=NAMESPACE)


async def test_the_first_lists_fill_the_catalog(kube_api: FakeKubeApi, catalog: KubernetesCatalog) -> None:
    kube_api.put_object(application("shop"))
    kube_api.put_object(shop_secret(username="shop-user"))

    await started(catalog)

    assert target_url(catalog.application("shop")) == "https://shop.example/orders/v1"
    found = catalog.secret("shop-credentials")
    assert found is not None and dict(found) == {"username": b"shop-user"}
    assert catalog.application("other") is None


async def test_secrets_of_other_namespaces_are_not_in_it(
    kube_api: FakeKubeApi, catalog: KubernetesCatalog
) -> None:
    kube_api.put_object(secret("elsewhere", {"a": "b"}, namespace="other"))

    await started(catalog)

    assert catalog.secret("elsewhere") is None


async def test_a_lookup_before_the_first_lists_is_an_error(catalog: KubernetesCatalog) -> None:
    assert not catalog.ready
    with pytest.raises(CatalogError, match="not been listed"):
        catalog.application("shop")


async def test_it_is_ready_only_once_both_first_lists_are_in(
    kube_api: FakeKubeApi, catalog: KubernetesCatalog
) -> None:
    kube_api.put_object(application("shop"))
    kube_api.fail_next("GET", SECRETS, 500, times=1000)

    await catalog.start()
    await wait_until(looked_up(lambda: catalog.application("shop")), what="the Applications listed")
    await wait_until(lambda: kube_api.lists(SECRETS) >= 1, what="a failed list of the Secrets")

    assert not catalog.ready
    with pytest.raises(CatalogError):
        catalog.secret("shop-credentials")
    kube_api.failures.clear()
    await wait_until(lambda: catalog.ready, what="the Secrets listed on a retry")


async def test_a_change_arrives_through_the_watch(kube_api: FakeKubeApi, catalog: KubernetesCatalog) -> None:
    kube_api.put_object(application("shop", target_url="https://old.example/v1"))
    await started(catalog)

    kube_api.put_object(application("shop", target_url="https://new.example/v1"))

    await wait_until(lambda: target_url(catalog.application("shop")) == "https://new.example/v1")
    assert kube_api.lists(APPLICATIONS) == 1


async def test_a_new_secret_arrives_through_the_watch(
    kube_api: FakeKubeApi, catalog: KubernetesCatalog
) -> None:
    await started(catalog)

    kube_api.put_object(shop_secret(password="shop-password"))

    await wait_until(looked_up(lambda: catalog.secret("shop-credentials")), what="the Secret watched")
    found = catalog.secret("shop-credentials")
    assert found is not None and found["password"] == b"shop-password"


async def test_a_deletion_arrives_through_the_watch(
    kube_api: FakeKubeApi, catalog: KubernetesCatalog
) -> None:
    kube_api.put_object(application("shop"))
    await started(catalog)

    kube_api.remove_object("Application", "shop")

    await wait_until(lambda: catalog.application("shop") is None, what="the deletion watched")
    assert kube_api.lists(APPLICATIONS) == 1


async def test_a_watch_the_server_ends_resumes_without_a_fresh_list(
    kube_api: FakeKubeApi, catalog: KubernetesCatalog
) -> None:
    await started(catalog)
    await wait_until(lambda: kube_api.watch_count() == 2, what="both watches open")

    kube_api.end_watches()  # as at timeoutSeconds: lightkube watches again from the last version it saw
    kube_api.put_object(application("shop"))

    await wait_until(
        looked_up(lambda: catalog.application("shop")), what="the change after the resumed watch"
    )
    assert (kube_api.lists(APPLICATIONS), kube_api.lists(SECRETS)) == (1, 1)


async def test_a_watch_answered_410_gone_is_followed_by_a_fresh_list(
    kube_api: FakeKubeApi, catalog: KubernetesCatalog
) -> None:
    await started(catalog)

    with structlog.testing.capture_logs() as logs:
        kube_api.compact()
        kube_api.end_watches()  # each client watches again from the list's resourceVersion: compacted away
        await wait_until(lambda: kube_api.lists(APPLICATIONS) == 2 and kube_api.lists(SECRETS) == 2)

    expired = [entry["kind"] for entry in logs if entry["event"] == "catalog_watch_expired"]
    assert sorted(expired) == ["Application", "Secret"]
    kube_api.put_object(application("shop"))
    await wait_until(looked_up(lambda: catalog.application("shop")), what="a change after the new list")


async def test_a_fresh_list_drops_what_went_without_an_event(
    kube_api: FakeKubeApi, catalog: KubernetesCatalog
) -> None:
    kube_api.put_object(application("gone"))
    await started(catalog)

    kube_api.reset()  # everything goes without a DELETED event, and the history with it
    kube_api.put_object(application("arrived"))

    def current() -> bool:
        return catalog.application("gone") is None and catalog.application("arrived") is not None

    await wait_until(current, what="the catalog listed again")


async def test_an_unusable_application_is_an_error_naming_it(
    kube_api: FakeKubeApi, catalog: KubernetesCatalog
) -> None:
    manifest = application("shop")
    manifest["spec"]["services"] = "orders"
    kube_api.put_object(manifest)

    await started(catalog)

    with pytest.raises(CatalogError, match=r"Application shop .*spec\.services is not a list"):
        catalog.application("shop")


async def test_a_name_that_cannot_be_a_resource_name_is_absent(catalog: KubernetesCatalog) -> None:
    await started(catalog)

    assert catalog.application("../shop") is None


async def test_stop_ends_the_watches(kube_api: FakeKubeApi, catalog: KubernetesCatalog) -> None:
    await started(catalog)
    await wait_until(lambda: kube_api.watch_count() == 2, what="both watches open")

    await catalog.stop()

    await wait_until(lambda: kube_api.watch_count() == 0, what="the watches closed")


def test_an_unusable_kubeconfig_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no usable Kubernetes configuration"):
        KubernetesCatalog.from_config(kubeconfig=tmp_path / "missing", secret_namespace=NAMESPACE)
