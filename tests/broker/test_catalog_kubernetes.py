"""The served broker reading Applications and ApplicationMappings from the Kubernetes API (the stand-in of
testing/kube.py): ready once both are listed, its catalog follows a mapping's creation and deletion as their watch
events arrive, and it never asks for Secrets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testing.broker import ServedBroker, start_broker
from testing.kube import FakeKubeApi
from testing.waiting import wait_until_blocking
from tests.broker.conftest import SHOP_ID, mapping, shop_application


@pytest.fixture
def kube_broker(kube_api: FakeKubeApi, tmp_path: Path) -> Iterator[ServedBroker]:
    """A broker with BROKER_SOURCE=kubernetes on the emptied stand-in, ready (its lists are in)."""
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    served = start_broker(
        tmp_path / "broker.log",
        agent_state_dir=str(tmp_path / "agent"),
        source="kubernetes",
        kubeconfig=str(kubeconfig),
    )
    try:
        wait_until_blocking(
            lambda: httpx.get(f"{served.process.http_url}/readyz", timeout=2).status_code == 200,
            seconds=30,
            what="the broker's lists",
        )
        yield served
    finally:
        served.process.stop()


def _offered(broker: ServedBroker, namespace: str) -> list[str]:
    return [offering["id"] for offering in broker.catalog(namespace).json()["services"]]


def test_a_mapping_created_and_deleted_in_kubernetes_is_offered_then_withdrawn(
    kube_broker: ServedBroker, kube_api: FakeKubeApi
) -> None:
    kube_api.put_object(shop_application())
    assert _offered(kube_broker, "production") == []

    kube_api.put_object(mapping("shop", "production"))
    wait_until_blocking(
        lambda: _offered(kube_broker, "production") == [SHOP_ID], seconds=30, what="the offering"
    )
    assert _offered(kube_broker, "staging") == []

    kube_api.remove_object("ApplicationMapping", "shop", namespace="production")
    wait_until_blocking(lambda: _offered(kube_broker, "production") == [], seconds=30, what="the withdrawal")


def test_the_broker_reads_no_secrets_from_kubernetes(
    kube_broker: ServedBroker, kube_api: FakeKubeApi
) -> None:
    kube_api.put_object(shop_application())
    kube_api.put_object(mapping("shop", "production"))
    wait_until_blocking(
        lambda: _offered(kube_broker, "production") == [SHOP_ID], seconds=30, what="the offering"
    )

    assert [request.path for request in kube_api.requests if "secrets" in request.path] == []
    assert any("applications" in request.path for request in kube_api.requests)
