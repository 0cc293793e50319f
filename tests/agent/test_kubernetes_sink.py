"""The Kubernetes sink with the real lightkube client against testing/kube.py on loopback HTTP.

No Kubernetes API server can run here; the fake implements the REST semantics the sink uses (its docstring
lists them).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from lightkube import AsyncClient

from agent.errors import ResourceConflict, SinkError
from agent.resources import application_resources
from agent.settings import AgentSettings
from agent.sinks import OWNERSHIP_LABEL, make_sink
from agent.sinks.kubernetes import _RESOURCES, APPLY_CONCURRENCY, KubernetesSink
from agent.status import CompassConnection, ConnectionState
from agent.sync import LastCompare, synchronize
from dataplane.catalog.kubernetes import kube_config
from testing.kube import FakeKubeApi, Recorded
from testing.waiting import wait_until
from tests.agent.support import StaticDirector
from tests.agent.test_resources import SHOP

NAMESPACE = "compass-apps"
OWNED = {"applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent"}
APPLICATIONS = "/apis/applicationconnector.kyma-project.io/v1alpha1/applications"
SECRETS = f"/api/v1/namespaces/{NAMESPACE}/secrets"


@pytest.fixture
async def sink(kube_api: FakeKubeApi, tmp_path: Path) -> AsyncIterator[KubernetesSink]:
    class Settings:
        sink = "kubernetes"
        manifest_dir = tmp_path
        kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
        kube_context = None
        secret_namespace = NAMESPACE

    made = make_sink(Settings())
    assert isinstance(made, KubernetesSink)
    yield made
    await made.aclose()


def shop() -> list[dict[str, Any]]:
    return application_resources(SHOP, secret_namespace=NAMESPACE)


def foreign_application(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = labels
    return {
        "apiVersion": "applicationconnector.kyma-project.io/v1alpha1",
        "kind": "Application",
        "metadata": metadata,
        "spec": {"description": "installed by hand"},
    }


async def apply_all(sink: KubernetesSink, manifests: list[dict[str, Any]]) -> None:
    for manifest in manifests:
        await sink.apply(manifest)


async def test_apply_creates_the_application_and_its_secrets_owned_by_it(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    # when
    await apply_all(sink, shop())

    # then
    application = kube_api.object("Application", "mp-shop")
    assert application is not None and application["spec"] == shop()[0]["spec"]
    secrets = [kube_api.object("Secret", item["metadata"]["name"], NAMESPACE) for item in shop()[1:]]
    owners = [secret["metadata"]["ownerReferences"] for secret in secrets if secret is not None]
    assert owners == [[{
        "apiVersion": "applicationconnector.kyma-project.io/v1alpha1",
        "kind": "Application",
        "name": "mp-shop",
        "uid": application["metadata"]["uid"],
    }]] * 3
    assert [(item.method, item.path) for item in kube_api.writes()] == [
        ("POST", APPLICATIONS), ("POST", SECRETS), ("POST", SECRETS), ("POST", SECRETS)
    ]


async def test_apply_updates_an_owned_resource_by_server_side_apply(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    # given
    application = shop()[0]
    await sink.apply(application)
    version = kube_api.object("Application", "mp-shop")["metadata"]["resourceVersion"]  # type: ignore[index]
    changed = copy.deepcopy(application)
    changed["spec"]["description"] = "changed"

    # when
    await sink.apply(changed)

    # then
    stored = kube_api.object("Application", "mp-shop")
    assert stored is not None and stored["spec"]["description"] == "changed"
    assert stored["metadata"]["resourceVersion"] != version
    patch = kube_api.writes()[-1]
    assert (patch.method, patch.content_type) == ("PATCH", "application/apply-patch+yaml")
    assert "fieldManager=compass-runtime-agent" in patch.query and "force=true" in patch.query


async def test_list_owned_returns_only_the_agents_resources(
    sink: KubernetesSink, kube_api: FakeKubeApi,
) -> None:
    # given
    await apply_all(sink, shop())
    kube_api.put_object(foreign_application("by-hand"))
    kube_api.put_object(foreign_application("labelled-only", OWNED))  # no spec.compassMetadata
    other_namespace = copy.deepcopy(shop()[1])
    other_namespace["metadata"]["namespace"] = "elsewhere"
    kube_api.put_object(other_namespace)

    # when
    applications = await sink.list_owned("Application")
    secrets = await sink.list_owned("Secret")

    # then
    assert list(applications) == ["mp-shop"]
    assert sorted(secrets) == sorted(item["metadata"]["name"] for item in shop()[1:])
    assert all(item["apiVersion"] == "v1" and item["kind"] == "Secret" for item in secrets.values())
    listing = [item for item in kube_api.requests if item.method == "GET" and item.path == APPLICATIONS]
    selector = "labelSelector=applicationconnector.kyma-project.io%2Fmanaged-by%3Dcompass-runtime-agent"
    assert selector in listing[0].query


async def test_a_resource_not_created_by_the_agent_is_never_updated(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    # given
    kube_api.put_object(foreign_application("mp-shop"))

    # when
    with pytest.raises(ResourceConflict):
        await sink.apply(shop()[0])

    # then
    assert kube_api.writes() == []
    stored = kube_api.object("Application", "mp-shop")
    assert stored is not None and stored["spec"] == {"description": "installed by hand"}


async def test_a_resource_not_created_by_the_agent_is_never_deleted(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    kube_api.put_object(foreign_application("by-hand"))

    with pytest.raises(ResourceConflict):
        await sink.delete("Application", "by-hand")

    assert kube_api.writes() == []


async def test_a_foreign_resource_created_meanwhile_answers_409_and_stays_untouched(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    # given someone creates the Application between the sink's read and its create
    kube_api.before_next("POST", APPLICATIONS, lambda: kube_api.put_object(foreign_application("mp-shop")))

    # when
    with pytest.raises(ResourceConflict):
        await sink.apply(shop()[0])

    # then
    assert [(item.method, item.path) for item in kube_api.writes()] == [("POST", APPLICATIONS)]
    stored = kube_api.object("Application", "mp-shop")
    assert stored is not None and stored["spec"] == {"description": "installed by hand"}


async def test_an_owned_resource_created_meanwhile_answers_409_and_is_updated(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    # given another replica of the agent creates it between the sink's read and its create
    older = copy.deepcopy(shop()[0])
    older["spec"]["description"] = "older"
    kube_api.before_next("POST", APPLICATIONS, lambda: kube_api.put_object(older))

    # when
    await sink.apply(shop()[0])

    # then
    assert [item.method for item in kube_api.writes()] == ["POST", "PATCH"]
    assert kube_api.object("Application", "mp-shop")["spec"] == shop()[0]["spec"]  # type: ignore[index]


async def test_deleting_a_resource_that_is_already_gone_is_no_error(
    sink: KubernetesSink, kube_api: FakeKubeApi,
) -> None:
    # given it disappears between the sink's read and its delete (404 on DELETE), and one that never existed
    await sink.apply(shop()[0])
    kube_api.before_next("DELETE", APPLICATIONS, lambda: kube_api.remove_object("Application", "mp-shop"))

    # when
    await sink.delete("Application", "mp-shop")
    await sink.delete("Application", "never-existed")

    # then
    assert kube_api.names("Application") == []


async def test_get_returns_none_for_a_missing_resource(sink: KubernetesSink) -> None:
    assert await sink.get("CompassConnection", "compass-connection") is None


async def test_the_compass_connection_is_written_and_read_back(
    sink: KubernetesSink, kube_api: FakeKubeApi,
) -> None:
    connection = {
        "apiVersion": "compass.kyma-project.io/v1alpha1",
        "kind": "CompassConnection",
        "metadata": {"name": "compass-connection"},
        "spec": {"managementInfo": {"directorUrl": "https://d", "connectorUrl": "https://c"}},
        "status": {"connectionState": "Connected"},
    }
    await sink.apply(connection)
    stored = await sink.get("CompassConnection", "compass-connection")
    assert stored is not None

    # a manifest read back (uid, resourceVersion, managedFields) can be applied again
    stored["status"]["connectionState"] = "Synchronized"
    stored["metadata"]["managedFields"] = [{"manager": "someone"}]
    await sink.apply(stored)

    assert kube_api.object("CompassConnection", "compass-connection")["status"] == {  # type: ignore[index]
        "connectionState": "Synchronized"
    }


async def test_an_api_error_is_a_sink_error(sink: KubernetesSink, kube_api: FakeKubeApi) -> None:
    kube_api.fail_next("POST", APPLICATIONS, 500)

    with pytest.raises(SinkError, match="500"):
        await sink.apply(shop()[0])


async def test_an_unchanged_sync_performs_zero_writes(sink: KubernetesSink, kube_api: FakeKubeApi) -> None:
    # given a first sync that created everything
    director = StaticDirector([SHOP])
    first = await synchronize(director, sink, runtime_id="runtime", secret_namespace=NAMESPACE)
    assert len(first.plan.creates) == 4
    writes = len(kube_api.writes())

    # when
    second = await synchronize(director, sink, runtime_id="runtime", secret_namespace=NAMESPACE)

    # then
    assert second.plan.empty
    assert len(kube_api.writes()) == writes


async def test_an_application_deleted_in_the_api_is_put_back_by_an_unchanged_sync_that_compared_nothing_before(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    # given: synced, found equal, and an unchanged sync that then skipped the compare
    director, last_compare = StaticDirector([SHOP]), LastCompare()
    options: dict[str, Any] = {"runtime_id": "runtime", "secret_namespace": NAMESPACE, "last_compare": last_compare}
    await synchronize(director, sink, **options)
    director.answer = None
    await synchronize(director, sink, **options)
    assert not (await synchronize(director, sink, **options)).compared

    # when: deleted by hand (the Runtime Watcher's event makes the agent sync at once)
    kube_api.remove_object("Application", "mp-shop")
    await wait_until(lambda: no_applications(sink), what="the deletion listed")
    result = await synchronize(director, sink, **options)

    # then
    assert result.unchanged and result.compared
    assert result.applied == ["create Application/mp-shop"]


async def test_a_sync_applies_each_batch_with_at_most_the_sinks_concurrency_in_flight(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    # given an API server some milliseconds away, and more writes than the bound
    kube_api.latency = 0.02
    shops = [{**SHOP, "id": f"shop-{index}", "name": f"mp-shop-{index}"} for index in range(12)]

    # when
    result = await synchronize(StaticDirector(shops), sink, runtime_id="runtime", secret_namespace=NAMESPACE)

    # then
    assert len(result.applied) == 4 * len(shops)
    assert kube_api.most_in_flight == APPLY_CONCURRENCY
    # and each Secret still names its Application, written in the batch before
    uids = {name: kube_api.object("Application", name)["metadata"]["uid"] for name in kube_api.names("Application")}  # type: ignore[index]
    secrets = [item for key, item in kube_api.objects.items() if key[0] == "Secret"]
    assert len(secrets) == 3 * len(shops)
    for secret in secrets:
        (owner,) = secret["metadata"]["ownerReferences"]
        assert owner["uid"] == uids[owner["name"]]


# --- list once, then watch ----------------------------------------------------------------------------------


def owned_shop(description: str = "The web shop") -> dict[str, Any]:
    application = shop()[0]
    application["spec"]["description"] = description
    return application


async def seen_with_description(sink: KubernetesSink, description: str) -> bool:
    listed = await sink.list_owned("Application")
    return "mp-shop" in listed and listed["mp-shop"]["spec"]["description"] == description


async def test_list_owned_lists_once_and_then_answers_from_the_watch(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    kube_api.put_object(owned_shop())

    first = await sink.list_owned("Application")
    second = await sink.list_owned("Application")

    assert list(first) == list(second) == ["mp-shop"]
    assert kube_api.lists(APPLICATIONS) == 1
    await wait_until(lambda: kube_api.watch_count() == 1, what="the watch open")
    watch = next(item for item in kube_api.requests if item.watching)
    selector = "labelSelector=applicationconnector.kyma-project.io%2Fmanaged-by%3Dcompass-runtime-agent"
    listed = kube_api.object("Application", "mp-shop")
    assert listed is not None
    assert selector in watch.query
    assert f"resourceVersion={listed['metadata']['resourceVersion']}" in watch.query


async def test_a_change_made_directly_in_the_api_is_seen_without_a_new_list(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    # given
    kube_api.put_object(owned_shop())
    await sink.list_owned("Application")

    # when someone else changes it
    kube_api.put_object(owned_shop("changed by hand"))

    # then
    await wait_until(lambda: seen_with_description(sink, "changed by hand"), what="the change listed")
    assert kube_api.lists(APPLICATIONS) == 1


async def test_a_resource_deleted_directly_in_the_api_is_no_longer_listed(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    kube_api.put_object(owned_shop())
    await sink.list_owned("Application")

    kube_api.remove_object("Application", "mp-shop")

    await wait_until(lambda: no_applications(sink), what="the deletion listed")
    assert kube_api.lists(APPLICATIONS) == 1


async def test_a_resource_that_loses_the_ownership_label_is_no_longer_owned(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    # given
    kube_api.put_object(owned_shop())
    await sink.list_owned("Application")

    # when the label is removed by hand: the watch by label sends DELETED, as the real server does
    relabelled = owned_shop()
    relabelled["metadata"]["labels"] = {"someone": "else"}
    kube_api.put_object(relabelled)

    # then
    await wait_until(lambda: no_applications(sink), what="the resource no longer owned")
    assert kube_api.lists(APPLICATIONS) == 1


async def no_applications(sink: KubernetesSink) -> bool:
    return await sink.list_owned("Application") == {}


async def test_the_sinks_own_writes_are_listed_at_once(sink: KubernetesSink, kube_api: FakeKubeApi) -> None:
    # given
    await sink.list_owned("Application")
    await sink.list_owned("Secret")

    # when
    await apply_all(sink, shop())
    await sink.delete("Secret", shop()[1]["metadata"]["name"])
    listed = (await sink.list_owned("Application"), await sink.list_owned("Secret"))

    # then
    assert listed[0]["mp-shop"]["spec"] == shop()[0]["spec"]
    assert sorted(listed[1]) == sorted(item["metadata"]["name"] for item in shop()[2:])
    assert (kube_api.lists(APPLICATIONS), kube_api.lists(SECRETS)) == (1, 1)


async def test_a_watch_the_server_closes_is_resumed_without_a_new_list(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    # given
    kube_api.put_object(owned_shop())
    await sink.list_owned("Application")
    await wait_until(lambda: kube_api.watch_count() == 1, what="the watch open")

    # when its time is up (timeoutSeconds), lightkube watches again from the last version it saw
    kube_api.end_watches()
    await wait_until(lambda: watches(kube_api) == 2 and kube_api.watch_count() == 1, what="a second watch")
    kube_api.put_object(owned_shop("changed after the reconnect"))

    # then
    await wait_until(lambda: seen_with_description(sink, "changed after the reconnect"), what="the change")
    assert kube_api.lists(APPLICATIONS) == 1


async def test_a_watch_answered_410_gone_is_listed_and_watched_again(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    # given
    kube_api.put_object(owned_shop())
    await sink.list_owned("Application")
    await wait_until(lambda: kube_api.watch_count() == 1, what="the watch open")

    # when the history no longer reaches back to the version it watches from
    kube_api.compact()
    kube_api.end_watches()

    # then the next list_owned lists again, and watches from there
    await wait_until(lambda: listed_again(sink, kube_api), what="a fresh list")
    kube_api.put_object(owned_shop("changed after the fresh list"))
    await wait_until(lambda: seen_with_description(sink, "changed after the fresh list"), what="the change")
    assert kube_api.lists(APPLICATIONS) == 2
    assert kube_api.watch_count() == 1


async def listed_again(sink: KubernetesSink, kube_api: FakeKubeApi) -> bool:
    await sink.list_owned("Application")
    return kube_api.lists(APPLICATIONS) == 2


def watches(kube_api: FakeKubeApi) -> int:
    return sum(1 for item in kube_api.requests if item.watching)


async def test_a_list_that_fails_after_a_broken_watch_is_a_sink_error(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    # given a watch that broke
    kube_api.put_object(owned_shop())
    await sink.list_owned("Application")
    await wait_until(lambda: kube_api.watch_count() == 1, what="the watch open")
    kube_api.compact()
    kube_api.fail_next("GET", APPLICATIONS, 500, times=100)
    kube_api.end_watches()

    # when / then
    with pytest.raises(SinkError, match="cannot list Application resources: 500"):
        await wait_until(lambda: no_applications(sink), what="a failed list", seconds=5)


async def test_closing_the_sink_ends_its_watches(kube_api: FakeKubeApi, tmp_path: Path) -> None:
    made = KubernetesSink.from_config(
        kubeconfig=kube_api.write_kubeconfig(tmp_path / "kubeconfig"), secret_namespace=NAMESPACE
    )
    await made.list_owned("Application")
    await made.list_owned("Secret")
    await wait_until(lambda: kube_api.watch_count() == 2, what="both watches open")

    await made.aclose()

    await wait_until(lambda: kube_api.watch_count() == 0, what="the watches closed")


class StepClock:
    """The sink's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_watch_asks_the_server_to_end_it_after_the_watch_timeout(
    sink: KubernetesSink, kube_api: FakeKubeApi
) -> None:
    await sink.list_owned("Application")

    await wait_until(lambda: kube_api.watch_count() == 1, what="the watch open")
    watch = next(item for item in kube_api.requests if item.watching)
    assert "timeoutSeconds=300" in watch.query.split("&")


async def test_the_watch_timeout_is_the_agents_setting(kube_api: FakeKubeApi, tmp_path: Path) -> None:
    settings = AgentSettings(
        sink="kubernetes",
        manifest_dir=tmp_path,
        kubeconfig=kube_api.write_kubeconfig(tmp_path / "kubeconfig"),
        secret_namespace=NAMESPACE,
        kube_watch_timeout=42,
    )
    made = make_sink(settings)
    assert isinstance(made, KubernetesSink)
    try:
        await made.list_owned("Application")

        await wait_until(lambda: kube_api.watch_count() == 1, what="the watch open")
        watch = next(item for item in kube_api.requests if item.watching)
        assert "timeoutSeconds=42" in watch.query.split("&")
    finally:
        await made.aclose()


async def test_a_kind_not_heard_from_for_twice_the_watch_timeout_is_listed_again(
    kube_api: FakeKubeApi, tmp_path: Path
) -> None:
    # given a watch whose connection died without a word (nothing sent, no end, no error)
    clock = StepClock()
    config = kube_config(kube_api.write_kubeconfig(tmp_path / "kubeconfig"), None)
    made = KubernetesSink(
        AsyncClient(config=config), secret_namespace=NAMESPACE, watch_timeout=300, clock=clock
    )
    try:
        kube_api.put_object(owned_shop())
        await made.list_owned("Application")
        await wait_until(lambda: kube_api.watch_count() == 1, what="the watch open")
        kube_api.stall_watches()
        kube_api.put_object(owned_shop("changed while the watch was dead"))

        # when nothing was heard for more than twice the watch timeout
        clock.now += 601
        listed = await made.list_owned("Application")

        # then
        assert listed["mp-shop"]["spec"]["description"] == "changed while the watch was dead"
        assert kube_api.lists(APPLICATIONS) == 2
    finally:
        await made.aclose()


async def test_a_kind_heard_from_within_twice_the_watch_timeout_is_not_listed_again(
    kube_api: FakeKubeApi, tmp_path: Path
) -> None:
    clock = StepClock()
    config = kube_config(kube_api.write_kubeconfig(tmp_path / "kubeconfig"), None)
    made = KubernetesSink(
        AsyncClient(config=config), secret_namespace=NAMESPACE, watch_timeout=300, clock=clock
    )
    try:
        await made.list_owned("Application")
        clock.now += 599

        await made.list_owned("Application")

        assert kube_api.lists(APPLICATIONS) == 1
    finally:
        await made.aclose()


async def test_the_sinks_own_write_does_not_replace_a_newer_change_the_watch_delivered(
    sink: KubernetesSink, kube_api: FakeKubeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given someone else changes the Application after the sink's patch, and the watch delivers that change
    # before the sink has the patch's answer
    await sink.apply(owned_shop())
    await sink.list_owned("Application")
    patch = sink._client.patch

    async def patched_then_changed(*args: Any, **kwargs: Any) -> Any:
        answer = await patch(*args, **kwargs)
        kube_api.put_object(owned_shop("changed by someone else"))
        await wait_until(lambda: seen_with_description(sink, "changed by someone else"), what="the change")
        return answer

    monkeypatch.setattr(sink._client, "patch", patched_then_changed)

    # when
    await sink.apply(owned_shop("written by the sink"))

    # then
    assert await seen_with_description(sink, "changed by someone else")


async def test_a_delete_by_the_sink_keeps_a_resource_recreated_meanwhile(
    sink: KubernetesSink, kube_api: FakeKubeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given someone re-creates the Application after the sink's delete, and the watch delivers it before the
    # sink has the delete's answer
    await sink.apply(owned_shop())
    await sink.list_owned("Application")
    delete = sink._client.delete

    async def deleted_then_recreated(*args: Any, **kwargs: Any) -> None:
        await delete(*args, **kwargs)
        kube_api.put_object(owned_shop("re-created"))
        await wait_until(lambda: seen_with_description(sink, "re-created"), what="the re-creation")

    monkeypatch.setattr(sink._client, "delete", deleted_then_recreated)

    # when
    await sink.delete("Application", "mp-shop")

    # then
    assert await seen_with_description(sink, "re-created")


async def test_deleting_a_secret_kept_elsewhere_keeps_the_same_name_in_the_secret_namespace(
    kube_api: FakeKubeApi, tmp_path: Path
) -> None:
    # given an owned Secret of one name both in the Secrets' namespace and where the sink keeps that name
    here = shop()[1]
    name = here["metadata"]["name"]
    elsewhere = copy.deepcopy(here)
    elsewhere["metadata"]["namespace"] = "istio-system"
    kube_api.put_object(here)
    kube_api.put_object(elsewhere)
    made = KubernetesSink.from_config(
        kubeconfig=kube_api.write_kubeconfig(tmp_path / "kubeconfig"),
        secret_namespace=NAMESPACE,
        secrets_elsewhere={name: "istio-system"},
    )
    try:
        await made.list_owned("Secret")

        # when
        await made.delete("Secret", name)

        # then
        assert kube_api.object("Secret", name, "istio-system") is None
        listed = await made.list_owned("Secret")
        assert listed[name]["metadata"]["namespace"] == NAMESPACE
    finally:
        await made.aclose()


def test_a_missing_kubeconfig_is_a_sink_error(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match="no usable Kubernetes configuration"):
        KubernetesSink.from_config(kubeconfig=tmp_path / "missing", secret_namespace=NAMESPACE)


# --- the shipped manifests (deploy/) fit the sink -----------------------------------------------------------

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def documents(path: Path) -> list[dict[str, Any]]:
    return [item for item in yaml.safe_load_all(path.read_text(encoding="utf-8")) if item is not None]


def crd(kind: str) -> dict[str, Any]:
    found = [item for path in (DEPLOY / "crds").glob("*.yaml") for item in documents(path)]
    return next(item for item in found if item["spec"]["names"]["kind"] == kind)


def json_schema(schema: Any) -> Any:
    """An openAPIV3Schema as JSON Schema: ``nullable: true`` becomes a null type (and a null enum member)."""
    if isinstance(schema, list):
        return [json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: json_schema(value) for key, value in schema.items() if key != "nullable"}
    if schema.get("nullable"):
        converted["type"] = [schema["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    return converted


def test_every_shipped_manifest_has_api_version_kind_and_name() -> None:
    for path in sorted(DEPLOY.rglob("*.yaml")):
        for document in documents(path):
            assert {"apiVersion", "kind", "metadata"} <= set(document), path
            assert document["metadata"]["name"], path


@pytest.mark.parametrize("kind", ["Application", "CompassConnection"])
def test_the_crds_define_the_resources_the_sink_uses(kind: str) -> None:
    definition = crd(kind)
    resource = _RESOURCES[kind]._api_info

    assert definition["apiVersion"] == "apiextensions.k8s.io/v1"
    assert definition["spec"]["scope"] == "Cluster"
    assert definition["spec"]["group"] == resource.resource.group
    assert [version["name"] for version in definition["spec"]["versions"]] == [resource.resource.version]
    assert definition["spec"]["names"]["plural"] == resource.plural
    assert definition["metadata"]["name"] == f"{resource.plural}.{resource.resource.group}"


def test_the_application_manifests_validate_against_the_crd() -> None:
    schema = json_schema(crd("Application")["spec"]["versions"][0]["schema"]["openAPIV3Schema"])

    jsonschema.validate(shop()[0], schema)


def test_the_agents_compass_connection_validates_against_the_crd() -> None:
    schema = json_schema(crd("CompassConnection")["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    connected = CompassConnection(
        director_url="https://d", connector_url="https://c", state=ConnectionState.CONNECTED
    )

    jsonschema.validate(CompassConnection().to_manifest(), schema)
    jsonschema.validate(connected.to_manifest(), schema)


def test_a_manifest_that_breaks_the_application_crd_is_refused() -> None:
    schema = json_schema(crd("Application")["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    broken = copy.deepcopy(shop()[0])
    broken["spec"]["services"][0]["entries"][0]["type"] = "SOAP"

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def _resource_and_verb(request: Recorded) -> tuple[str, str]:
    """``/apis/<group>/<version>/<plural>[/<name>]`` or ``/api/v1/namespaces/<ns>/<plural>[/<name>]``."""
    parts = request.path.strip("/").split("/")
    rest = parts[3:] if parts[0] == "apis" else parts[4:]
    plural, named = rest[0], len(rest) > 1
    if request.method == "GET":
        return plural, "get" if named else "watch" if request.watching else "list"
    return plural, {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}[request.method]


async def test_the_rbac_grants_exactly_the_verbs_the_sink_uses(
    sink: KubernetesSink, kube_api: FakeKubeApi,
) -> None:
    # given every operation of the sink on every kind it handles
    connection = {"apiVersion": "compass.kyma-project.io/v1alpha1", "kind": "CompassConnection",
                  "metadata": {"name": "compass-connection"}, "spec": {}}
    webhooks = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": "compass-watcher", "labels": dict([OWNERSHIP_LABEL])}, "webhooks": []}
    for manifest in [*shop(), connection, webhooks]:
        await sink.apply(manifest)
        changed = copy.deepcopy(manifest)
        changed["metadata"].setdefault("labels", {})["changed"] = "yes"
        await sink.apply(changed)
    for kind in ("Application", "Secret", "CompassConnection", "ValidatingWebhookConfiguration"):
        await sink.list_owned(kind)
    await wait_until(lambda: kube_api.watch_count() == 4, what="the four watches open")
    for manifest in [*shop(), connection, webhooks]:
        await sink.delete(manifest["kind"], manifest["metadata"]["name"])
    used: dict[str, set[str]] = {}
    for request in kube_api.requests:
        resource, verb = _resource_and_verb(request)
        used.setdefault(resource, set()).add(verb)

    # when
    rbac = documents(DEPLOY / "agent" / "rbac.yaml")
    granted: dict[str, set[str]] = {}
    for role in (item for item in rbac if item["kind"] in ("ClusterRole", "Role")):
        for rule in role["rules"]:
            for resource in rule["resources"]:
                # the TokenRequest store's (its ApplicationMapping lookup too): test_token_requests_kubernetes
                if not (resource.startswith("tokenrequests") or resource == "applicationmappings"):
                    granted.setdefault(resource, set()).update(rule["verbs"])

    # then
    assert used == granted
