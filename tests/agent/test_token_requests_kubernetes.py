"""TokenRequests in Kubernetes: a real pycompass server, a connected agent whose sink is the stand-in API server
(testing/kube.py), TokenRequests created there and their status written through the status subresource."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.tokenrequests.kubernetes import KubernetesTokenRequests
from testing.kube import FakeKubeApi
from testing.waiting import wait_until
from tests.agent.support import Landscape

NAMESPACE = "stage"
RBAC = Path(__file__).resolve().parents[2] / "deploy" / "agent" / "rbac.yaml"


@pytest.fixture
def in_kubernetes(landscape: Landscape, kube_api: FakeKubeApi, tmp_path: Path) -> Landscape:
    landscape.overrides = {
        "sink": "kubernetes",
        "kubeconfig": kube_api.write_kubeconfig(tmp_path / "kubeconfig"),
    }
    return landscape


def create(kube_api: FakeKubeApi, name: str) -> None:
    kube_api.put_object(
        {
            "apiVersion": "applicationconnector.kyma-project.io/v1alpha1",
            "kind": "TokenRequest",
            "metadata": {"name": name, "namespace": NAMESPACE},
        }
    )


def status_of(kube_api: FakeKubeApi, name: str) -> dict[str, Any]:
    found = kube_api.object("TokenRequest", name, NAMESPACE)
    return dict((found or {}).get("status") or {})


async def test_the_status_is_written_through_the_status_subresource(
    in_kubernetes: Landscape, kube_api: FakeKubeApi
) -> None:
    # given
    application_id = await in_kubernetes.application("shop")
    assert (await in_kubernetes.run_once()).synced
    create(kube_api, "mp-shop")
    # when
    await in_kubernetes.run_once()
    # then
    status = status_of(kube_api, "mp-shop")
    assert (status["state"], status["application"]) == ("OK", "mp-shop")
    writes = [item for item in kube_api.writes() if "/tokenrequests/" in item.path]
    assert [(item.method, item.path) for item in writes] == [
        (
            "PUT",
            f"/apis/applicationconnector.kyma-project.io/v1alpha1/namespaces/{NAMESPACE}/tokenrequests/mp-shop/status",
        )
    ]
    connection = await in_kubernetes.compass.connect(application_id, status["token"])
    assert connection.object_id == application_id


async def test_an_expired_request_is_deleted(in_kubernetes: Landscape, kube_api: FakeKubeApi) -> None:
    await in_kubernetes.application("shop")
    await in_kubernetes.run_once()
    create(kube_api, "mp-shop")
    await in_kubernetes.run_once()
    expiry = datetime.fromisoformat(status_of(kube_api, "mp-shop")["expireAfter"])

    in_kubernetes.clock.advance(expiry - datetime.now(UTC) + timedelta(seconds=1))
    await in_kubernetes.run_once()

    assert kube_api.object("TokenRequest", "mp-shop", NAMESPACE) is None


async def test_a_new_request_is_filled_without_waiting_for_the_period(
    in_kubernetes: Landscape, kube_api: FakeKubeApi
) -> None:
    # given: an agent that syncs once a minute, synced
    in_kubernetes.overrides["sync_period"] = 60.0
    await in_kubernetes.application("shop")
    stop = asyncio.Event()
    async with in_kubernetes.agent() as agent:
        running = asyncio.create_task(agent.run(stop))
        try:
            await wait_until(lambda: kube_api.names("Application"), seconds=30, what="the first sync")
            # when
            create(kube_api, "mp-shop")
            # then
            await wait_until(
                lambda: status_of(kube_api, "mp-shop").get("state") == "OK", seconds=30, what="status"
            )
        finally:
            stop.set()
            await running


async def test_the_rbac_grants_exactly_the_verbs_the_token_request_store_uses(
    kube_api: FakeKubeApi, tmp_path: Path
) -> None:
    # given every operation of the store
    store = KubernetesTokenRequests.from_config(kubeconfig=kube_api.write_kubeconfig(tmp_path / "kubeconfig"))
    create(kube_api, "mp-shop")
    changes = store.changes()
    try:
        await anext(changes)  # listed
        watching = asyncio.ensure_future(anext(changes))
        await wait_until(lambda: kube_api.watch_count() == 1, what="the watch open")
        [request] = await store.current()
        assert await store.write_status(request, {"application": "mp-shop", "state": "Error", "message": "m"})
        await watching
        [request] = await store.current()
        await store.delete(request)
    finally:
        await changes.aclose()
        await store.aclose()
    used: dict[str, set[str]] = {}
    for item in kube_api.requests:
        parts = item.path.strip("/").split("/")
        resource = "/".join(parts[parts.index("tokenrequests") :: 2])  # tokenrequests or tokenrequests/status
        named = len(parts) > parts.index("tokenrequests") + 1
        verbs = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
        verb = (
            ("get" if named else "watch" if item.watching else "list")
            if item.method == "GET"
            else verbs[item.method]
        )
        used.setdefault(resource, set()).add(verb)
    # when
    rules = [
        rule
        for item in yaml.safe_load_all(RBAC.read_text())
        if item["kind"] == "ClusterRole"
        for rule in item["rules"]
    ]
    granted = {
        resource: set(rule["verbs"])
        for rule in rules
        for resource in rule["resources"]
        if resource.startswith("tokenrequests")
    }
    # then
    assert used == granted
