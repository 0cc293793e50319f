"""TokenRequests in Kubernetes: a real pycompass server, a connected agent whose sink is the stand-in API server
(testing/kube.py), TokenRequests created there and their status written through the status subresource."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml

from agent.tokenrequests.kubernetes import KubernetesTokenRequests
from testing.kube import FakeKubeApi
from testing.waiting import wait_until
from tests.agent.support import Landscape
from tests.agent.test_token_requests import system_auths

NAMESPACE = "stage"
RBAC = Path(__file__).resolve().parents[2] / "deploy" / "agent" / "rbac.yaml"


@pytest.fixture
def in_kubernetes(landscape: Landscape, kube_api: FakeKubeApi, tmp_path: Path) -> Landscape:
    landscape.overrides = {
        "sink": "kubernetes",
        "kubeconfig": kube_api.write_kubeconfig(tmp_path / "kubeconfig"),
    }
    return landscape


def create(kube_api: FakeKubeApi, name: str, *, mapped: bool = True, **metadata: Any) -> None:
    """The TokenRequest, and (``mapped``) an ApplicationMapping of its application in its namespace."""
    api_version = "applicationconnector.kyma-project.io/v1alpha1"
    if mapped:
        mapping = {"name": name, "namespace": NAMESPACE}
        kube_api.put_object({"apiVersion": api_version, "kind": "ApplicationMapping", "metadata": mapping})
    kube_api.put_object(
        {
            "apiVersion": api_version,
            "kind": "TokenRequest",
            "metadata": {"name": name, "namespace": NAMESPACE, **metadata},
        }
    )


def status_writes(kube_api: FakeKubeApi) -> int:
    return sum(1 for item in kube_api.writes() if item.path.endswith("/status"))


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


async def test_a_refused_status_write_gets_one_token_until_the_request_changes(
    in_kubernetes: Landscape, kube_api: FakeKubeApi
) -> None:
    # given: a status write refused (the RBAC without tokenrequests/status), then allowed again
    application_id = await in_kubernetes.application("shop")
    create(kube_api, "mp-shop")
    kube_api.fail_next("PUT", "/tokenrequests/mp-shop/status", 403)
    async with in_kubernetes.agent() as agent:
        assert (await agent.run_once()).synced
        before = await system_auths(in_kubernetes, application_id)
        # when: more syncs of the same agent
        await agent.run_once()
        await agent.run_once()
        # then: no other token asked for, nothing written
        assert await system_auths(in_kubernetes, application_id) == before
        assert (status_writes(kube_api), status_of(kube_api, "mp-shop")) == (1, {})
        # when: the request changes
        create(kube_api, "mp-shop", labels={"retry": "1"})
        await agent.run_once()
    # then: asked again, and filled
    assert await system_auths(in_kubernetes, application_id) == before + 1
    assert status_of(kube_api, "mp-shop")["state"] == "OK"


async def test_a_status_subresource_answering_404_for_an_existing_request_is_an_error_naming_the_crd(
    in_kubernetes: Landscape, kube_api: FakeKubeApi
) -> None:
    # given: the CRD without the status subresource (its /status answers 404)
    await in_kubernetes.application("shop")
    create(kube_api, "mp-shop")
    kube_api.fail_next("PUT", "/tokenrequests/mp-shop/status", 404)
    async with in_kubernetes.agent() as agent:
        # when
        with structlog.testing.capture_logs() as logs:
            await agent.run_once()
            await agent.run_once()
    # then
    [refused] = [item for item in logs if item["event"] == "token_request_not_written"]
    assert refused["token_request"] == f"{NAMESPACE}/mp-shop"
    assert "lacks subresources.status" in refused["error"]
    assert status_writes(kube_api) == 1
    assert kube_api.object("TokenRequest", "mp-shop", NAMESPACE) is not None


async def test_a_request_without_an_application_mapping_in_its_namespace_gets_an_error(
    in_kubernetes: Landscape, kube_api: FakeKubeApi
) -> None:
    application_id = await in_kubernetes.application("shop")
    create(kube_api, "mp-shop", mapped=False)

    await in_kubernetes.run_once()

    status = status_of(kube_api, "mp-shop")
    assert status["state"] == "Error"
    assert f"namespace {NAMESPACE} has no ApplicationMapping mp-shop" in status["message"]
    assert await system_auths(in_kubernetes, application_id) == 0


async def test_a_request_whose_mapping_cannot_be_read_is_left_for_the_next_sync_without_a_token(
    in_kubernetes: Landscape, kube_api: FakeKubeApi
) -> None:
    # given: the RBAC without applicationmappings
    application_id = await in_kubernetes.application("shop")
    create(kube_api, "mp-shop")
    kube_api.fail_next("GET", "/applicationmappings/mp-shop", 403)
    async with in_kubernetes.agent() as agent:
        # when
        with structlog.testing.capture_logs() as logs:
            await agent.run_once()
        # then
        [unhandled] = [item for item in logs if item["event"] == "token_request_not_handled"]
        assert "cannot read ApplicationMapping" in unhandled["error"]
        assert (status_of(kube_api, "mp-shop"), await system_auths(in_kubernetes, application_id)) == ({}, 0)
        # when: readable again
        await agent.run_once()
    # then
    assert status_of(kube_api, "mp-shop")["state"] == "OK"


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
        assert await store.mapped(request)
        assert await store.write_status(request, {"application": "mp-shop", "state": "Error", "message": "m"})
        await watching
        [request] = await store.current()
        await store.delete(request)
    finally:
        await changes.aclose()
        await store.aclose()
    used: dict[str, set[str]] = {}
    for item in kube_api.requests:
        parts = item.path.strip("/").split("/")[3:]  # after /apis/<group>/<version>
        parts = parts[2:] if parts[0] == "namespaces" else parts
        resource = "/".join(parts[::2])  # tokenrequests, tokenrequests/status or applicationmappings
        named = len(parts) > 1
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
        if resource.startswith("tokenrequests") or resource == "applicationmappings"
    }
    # then
    assert used == granted
