"""Subscriptions from the Kubernetes API (events/subscriptions/kubernetes.py) with the real lightkube client
against testing/kube.py on loopback HTTP: every namespace's, listed first, then kept current by one watch; and
``compass-events serve`` reading its Applications and Subscriptions from there."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from events.subscriptions.kubernetes import KubernetesSubscriptions
from events.subscriptions.model import Subscription, TypeMatching
from testing.applications import application
from testing.client_certificates import ClientCertificate, ClientCertificateAuthority
from testing.events import ServedEvents, start_events
from testing.kube import FakeKubeApi
from testing.sinks import RecordingSink
from testing.waiting import NotInTime, wait_until, wait_until_blocking

SUBSCRIPTIONS = "/apis/eventing.kyma-project.io/v1alpha2/subscriptions"  # every namespace's
SINK = "http://orders.shop-ns.svc.cluster.local/events"


def subscription(
    name: str = "orders",
    namespace: str = "shop-ns",
    *,
    sink: str = SINK,
    source: str = "shop",
    types: tuple[str, ...] = ("order.created.v1",),
) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.kyma-project.io/v1alpha2",
        "kind": "Subscription",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"sink": sink, "source": source, "types": list(types), "typeMatching": "standard"},
    }


@pytest.fixture
async def subscriptions(kube_api: FakeKubeApi, tmp_path: Path) -> AsyncIterator[KubernetesSubscriptions]:
    """Not started: a test arranges the API server's objects first."""
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    source = KubernetesSubscriptions.from_config(kubeconfig=kubeconfig)
    yield source
    await source.stop()


async def started(subscriptions: KubernetesSubscriptions) -> KubernetesSubscriptions:
    await subscriptions.start()
    await wait_until(lambda: subscriptions.ready, what="the first list of the Subscriptions")
    return subscriptions


async def watching(kube_api: FakeKubeApi, subscriptions: KubernetesSubscriptions) -> None:
    """Started, and its watch open: what the API server changes from now on reaches it by the watch."""
    await started(subscriptions)
    await wait_until(lambda: kube_api.watch_count() == 1, what="the watch open")


async def test_a_subscription_in_the_api_is_current_once_listed_keyed_by_namespace_and_name(
    kube_api: FakeKubeApi, subscriptions: KubernetesSubscriptions
) -> None:
    kube_api.put_object(subscription())

    await started(subscriptions)

    expected = Subscription("shop-ns", "orders", SINK, "shop", ("order.created.v1",), TypeMatching.STANDARD)
    assert dict(subscriptions.current()) == {"shop-ns/orders": expected}


async def test_it_is_not_ready_before_the_first_list(
    kube_api: FakeKubeApi, subscriptions: KubernetesSubscriptions
) -> None:
    kube_api.put_object(subscription())
    kube_api.fail_next("GET", SUBSCRIPTIONS, 500, times=1000)

    await subscriptions.start()
    await wait_until(lambda: kube_api.lists(SUBSCRIPTIONS) >= 1, what="a failed list")

    assert not subscriptions.ready
    assert dict(subscriptions.current()) == {}
    kube_api.failures.clear()
    await wait_until(lambda: subscriptions.ready, what="the Subscriptions listed on a retry")
    assert list(subscriptions.current()) == ["shop-ns/orders"]


async def test_subscriptions_of_every_namespace_are_seen(
    kube_api: FakeKubeApi, subscriptions: KubernetesSubscriptions
) -> None:
    kube_api.put_object(subscription(namespace="shop-ns"))
    kube_api.put_object(subscription(namespace="billing-ns", sink="http://billing.example/events"))

    await started(subscriptions)

    current = subscriptions.current()
    assert sorted(current) == ["billing-ns/orders", "shop-ns/orders"]
    assert current["billing-ns/orders"].sink == "http://billing.example/events"
    assert kube_api.lists(SUBSCRIPTIONS) == 1


async def test_a_subscription_created_in_another_namespace_arrives_through_the_watch(
    kube_api: FakeKubeApi, subscriptions: KubernetesSubscriptions
) -> None:
    kube_api.put_object(subscription(namespace="shop-ns"))
    await watching(kube_api, subscriptions)

    kube_api.put_object(subscription(namespace="billing-ns"))

    await wait_until(lambda: "billing-ns/orders" in subscriptions.current(), what="the new one watched")
    assert sorted(subscriptions.current()) == ["billing-ns/orders", "shop-ns/orders"]
    assert kube_api.lists(SUBSCRIPTIONS) == 1


@pytest.mark.parametrize(
    "change",
    [{"sink": "http://elsewhere.example/events"}, {"types": ("order.created.v1", "order.paid.v1")}],
    ids=["sink", "types"],
)
async def test_a_change_arrives_through_the_watch(
    kube_api: FakeKubeApi, subscriptions: KubernetesSubscriptions, change: dict[str, Any]
) -> None:
    kube_api.put_object(subscription())
    await watching(kube_api, subscriptions)

    kube_api.put_object(subscription(**change))

    expected = replace(Subscription("shop-ns", "orders", SINK, "shop", ("order.created.v1",)), **change)
    await wait_until(lambda: subscriptions.current().get("shop-ns/orders") == expected, what="the change")
    assert kube_api.lists(SUBSCRIPTIONS) == 1


async def test_a_deletion_arrives_through_the_watch(
    kube_api: FakeKubeApi, subscriptions: KubernetesSubscriptions
) -> None:
    kube_api.put_object(subscription(namespace="shop-ns"))
    kube_api.put_object(subscription(namespace="billing-ns"))
    await watching(kube_api, subscriptions)

    kube_api.remove_object("Subscription", "orders", namespace="shop-ns")

    await wait_until(lambda: "shop-ns/orders" not in subscriptions.current(), what="the deletion watched")
    assert list(subscriptions.current()) == ["billing-ns/orders"]


async def test_an_unusable_subscription_is_left_out_and_logged_and_the_others_stay(
    kube_api: FakeKubeApi, subscriptions: KubernetesSubscriptions
) -> None:
    kube_api.put_object(subscription(name="broken", sink="not a URL"))
    kube_api.put_object(subscription(name="orders"))

    with structlog.testing.capture_logs() as logs:
        await watching(kube_api, subscriptions)
        kube_api.put_object(subscription(name="payments"))
        await wait_until(lambda: "shop-ns/payments" in subscriptions.current(), what="a later one watched")

    assert sorted(subscriptions.current()) == ["shop-ns/orders", "shop-ns/payments"]
    [unusable] = [entry for entry in logs if entry["event"] == "subscription_unusable"]
    assert unusable["subscription"] == "shop-ns/broken"
    assert "spec.sink" in unusable["reason"]


async def test_a_subscription_that_becomes_unusable_leaves_the_current_ones(
    kube_api: FakeKubeApi, subscriptions: KubernetesSubscriptions
) -> None:
    kube_api.put_object(subscription())
    await watching(kube_api, subscriptions)

    kube_api.put_object(subscription(types=()))

    await wait_until(lambda: not subscriptions.current(), what="the unusable version watched")


async def test_a_watch_answered_410_gone_is_followed_by_a_fresh_list(
    kube_api: FakeKubeApi, subscriptions: KubernetesSubscriptions
) -> None:
    await watching(kube_api, subscriptions)

    kube_api.compact()
    kube_api.end_watches()  # the client watches again from the list's resourceVersion: compacted away
    await wait_until(lambda: kube_api.lists(SUBSCRIPTIONS) == 2, what="a fresh list")

    kube_api.put_object(subscription())
    await wait_until(lambda: "shop-ns/orders" in subscriptions.current(), what="a change after the new list")


async def test_stop_ends_the_watch(kube_api: FakeKubeApi, subscriptions: KubernetesSubscriptions) -> None:
    await watching(kube_api, subscriptions)

    await subscriptions.stop()

    await wait_until(lambda: kube_api.watch_count() == 0, what="the watch closed")


StartKubernetesEvents = Callable[[], ServedEvents]


@pytest.fixture
def start_kubernetes_events(
    kube_api: FakeKubeApi, application_ca: ClientCertificateAuthority, tmp_path: Path
) -> Iterator[StartKubernetesEvents]:
    """Starts ``compass-events serve`` with EVENTS_SOURCE=kubernetes (Applications and Subscriptions from
    ``kube_api``) once the test has arranged the API server's objects; stopped after the test."""
    started: list[ServedEvents] = []

    def start() -> ServedEvents:
        kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
        served = start_events(
            tmp_path / "manifests",
            tmp_path / "data",
            application_ca.ca_file,
            tmp_path / "events.log",
            source="kubernetes",
            kubeconfig=str(kubeconfig),
        )
        started.append(served)
        return served

    yield start
    for served in started:
        served.process.stop()


def send(served: ServedEvents, application_name: str, certificate: ClientCertificate, event_id: str) -> None:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": application_name,
        "ce-type": "order.created.v1",
    }
    with httpx.Client(verify=certificate.context(served.serving_ca), timeout=10) as client:
        answer = client.post(f"{served.url}/{application_name}/events", content=b"seven", headers=headers)
    assert answer.status_code == 204, answer.text


def test_the_served_ingress_delivers_to_the_sink_of_a_subscription_in_kubernetes(
    kube_api: FakeKubeApi,
    application_ca: ClientCertificateAuthority,
    event_sink: RecordingSink,
    start_kubernetes_events: StartKubernetesEvents,
) -> None:
    certificate = application_ca.issue("kube-shop-client")
    kube_api.put_object(application("kube-shop", client_ids=[certificate.common_name]))
    kube_api.put_object(subscription(sink=event_sink.url, source="kube-shop"))
    served = start_kubernetes_events()  # ready: the Application is listed
    sent: list[str] = []

    def one_arrived() -> bool:
        # Sent until one arrives: a Subscription listed after the delivery started gets only later events.
        sent.append(str(uuid.uuid4()))
        send(served, "kube-shop", certificate, sent[-1])
        try:
            wait_until_blocking(lambda: event_sink.delivered, seconds=1)
        except NotInTime:
            return False
        return True

    wait_until_blocking(
        one_arrived, what="an event reaching the sink", every=0, detail=served.process.log_tail
    )
    delivered = event_sink.delivered[0]
    assert delivered.id in sent
    assert delivered.type == "sap.kyma.custom.kubeshop.order.created.v1"
    assert (delivered.attribute("source"), delivered.body) == ("kube-shop", b"seven")
