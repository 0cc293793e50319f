"""The Runtime Watcher's registration by the agent: the Director's watchers become one
ValidatingWebhookConfiguration (agent/watchers.py), kept in either sink like the agent's other resources, with
the watcher's CA file as caBundle; and ``management-plane.json`` beside the credentials for the watcher.

The runtime connects through the real Connector; the Director that answers ``watchers`` is the StandInDirector
until the server has the field (a Director without it, as Compass's, is a case of its own below). The
Kubernetes API is testing/kube.py.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import structlog
from lightkube.resources.admissionregistration_v1 import ValidatingWebhookConfiguration
from pydantic import ValidationError

from agent.settings import AgentSettings
from agent.sinks.base import OWNERSHIP_LABEL
from agent.status import ConnectionState
from agent.watchers import Watcher, parse_watchers, webhook_configuration
from testing.kube import FakeKubeApi
from tests.agent.support import Landscape, StandInDirector

CA_BUNDLE = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
MANIFEST = "validatingwebhookconfiguration-compass-watcher.yaml"
KIND = "ValidatingWebhookConfiguration"


def applications_watcher(**changes: Any) -> dict[str, Any]:
    """The built-in watcher of the agent's Applications, as the Director answers it."""
    return {
        "id": "compass-runtime-agent-applications",
        "name": "applications",
        "module": "compass-runtime-agent",
        "resourceToWatch": {
            "group": "applicationconnector.kyma-project.io",
            "version": "v1alpha1",
            "resource": "applications",
        },
        "labelsToWatch": {OWNERSHIP_LABEL[0]: OWNERSHIP_LABEL[1]},
        "field": "SPEC",
        **changes,
    }


def rendered(*items: dict[str, Any]) -> dict[str, Any]:
    configuration = webhook_configuration(
        parse_watchers(items), CA_BUNDLE, service_name="compass-watcher", service_namespace="kyma-system"
    )
    assert configuration is not None
    return configuration


class TestRendering:
    def test_the_configuration_is_made_only_of_the_kubernetes_api_types_fields(self) -> None:
        # given: a spec and a status watcher
        configuration = rendered(applications_watcher(), applications_watcher(id="status-watcher", field="STATUS"))

        # when: read as the API's type (lightkube's model of admissionregistration.k8s.io/v1), which drops what
        # the type does not have
        typed = ValidatingWebhookConfiguration.from_dict(configuration)

        # then
        assert typed.to_dict() == configuration

    def test_a_watcher_becomes_one_webhook_calling_the_watchers_service(self) -> None:
        # when
        configuration = rendered(applications_watcher())

        # then
        assert configuration["apiVersion"] == "admissionregistration.k8s.io/v1"
        assert configuration["metadata"] == {"name": "compass-watcher", "labels": dict([OWNERSHIP_LABEL])}
        assert configuration["webhooks"] == [
            {
                "name": "compass-runtime-agent-applications.watcher.compass.kyma-project.io",
                "clientConfig": {
                    "service": {
                        "namespace": "kyma-system",
                        "name": "compass-watcher",
                        "path": "/validate/compass-runtime-agent",
                        "port": 443,
                    },
                    "caBundle": base64.b64encode(CA_BUNDLE).decode(),
                },
                "rules": [
                    {
                        "apiGroups": ["applicationconnector.kyma-project.io"],
                        "apiVersions": ["v1alpha1"],
                        "resources": ["applications"],
                        "operations": ["CREATE", "UPDATE", "DELETE"],
                        "scope": "*",
                    }
                ],
                "matchPolicy": "Equivalent",
                "namespaceSelector": {},
                "objectSelector": {"matchLabels": dict([OWNERSHIP_LABEL])},
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Ignore",
                "timeoutSeconds": 3,
            }
        ]

    def test_a_status_watcher_watches_the_status_subresource(self) -> None:
        configuration = rendered(applications_watcher(field="STATUS"))

        assert configuration["webhooks"][0]["rules"][0]["resources"] == ["applications/status"]

    def test_a_watcher_without_labels_selects_every_object(self) -> None:
        configuration = rendered(applications_watcher(labelsToWatch=None))

        assert configuration["webhooks"][0]["objectSelector"] == {}

    def test_an_id_that_is_no_dns_label_gives_a_name_of_the_watchers_name(self) -> None:
        watcher = Watcher("Watcher_1", "Orders Watch", "orders", "", "v1", "secrets", {}, status=False)

        assert watcher.webhook_name.startswith("orders-watch-")
        assert watcher.webhook_name.endswith(".watcher.compass.kyma-project.io")

    def test_webhooks_are_ordered_by_name_so_an_unchanged_answer_renders_alike(self) -> None:
        second = applications_watcher(id="b-watcher")
        first = applications_watcher(id="a-watcher")

        assert rendered(second, first) == rendered(first, second)
        assert [hook["name"].split(".")[0] for hook in rendered(second, first)["webhooks"]] == [
            "a-watcher",
            "b-watcher",
        ]

    def test_a_malformed_watcher_is_left_out_and_the_rest_kept(self) -> None:
        with structlog.testing.capture_logs() as logs:
            watchers = parse_watchers([applications_watcher(labelsToWatch={"a": ["list"]}), applications_watcher()])

        assert [watcher.id for watcher in watchers] == ["compass-runtime-agent-applications"]
        assert [entry["event"] for entry in logs] == ["watcher_malformed"]

    def test_no_watcher_renders_no_configuration(self) -> None:
        assert webhook_configuration([], CA_BUNDLE, service_name="s", service_namespace="n") is None


@pytest.mark.parametrize("value", ["compass.watcher", "Compass", "-watcher", "x" * 64])
def test_a_watcher_service_name_that_is_no_dns_label_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AGENT_WATCHER_SERVICE_NAME", value)

    with pytest.raises(ValidationError, match="AGENT_WATCHER_SERVICE_NAME"):
        AgentSettings()


def test_the_watcher_settings_default_to_the_watchers_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AGENT_WATCHERS", "AGENT_WATCHER_TLS_DIR", "AGENT_WATCHER_SERVICE_NAME", "AGENT_WATCHER_SERVICE_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENT_STATE_DIR", str(tmp_path))

    settings = AgentSettings()

    assert settings.watchers is True
    assert settings.watcher_tls_dir == tmp_path / "watcher-tls"
    assert (settings.watcher_service_name, settings.watcher_service_namespace) == ("compass-watcher", "kyma-system")


# --- the agent, with a directory sink ------------------------------------------------------------------------


@pytest.fixture
def watcher_ca(landscape: Landscape) -> Path:
    """The watcher's CA file where the agent reads it by default (<AGENT_STATE_DIR>/watcher-tls/ca.crt)."""
    directory = landscape.state_dir / "watcher-tls"
    directory.mkdir(parents=True)
    path = directory / "ca.crt"
    path.write_bytes(CA_BUNDLE)
    return path


def replace(path: Path, content: bytes | None) -> None:
    """The watcher's CA file rotated to ``content``, or removed (None)."""
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)


async def sync(landscape: Landscape, director: StandInDirector) -> Any:
    async with landscape.agent(director_factory=director.factory()) as agent:
        return await agent.run_once()


def manifest(landscape: Landscape) -> dict[str, Any] | None:
    path = landscape.manifest_dir / MANIFEST
    return json.loads(path.read_text()) if path.exists() else None


async def test_the_agent_writes_the_configuration_of_the_directors_watchers(
    landscape: Landscape, stand_in_director: StandInDirector, watcher_ca: Path
) -> None:
    # given
    stand_in_director.watchers = [applications_watcher()]

    # when
    outcome = await sync(landscape, stand_in_director)

    # then
    assert outcome.state is ConnectionState.SYNCHRONIZED
    written = manifest(landscape)
    assert written == rendered(applications_watcher())
    assert outcome.result.applied == [f"create {KIND}/compass-watcher"]


async def test_a_rotated_ca_bundle_is_written_at_the_next_sync(
    landscape: Landscape, stand_in_director: StandInDirector, watcher_ca: Path
) -> None:
    # given
    stand_in_director.watchers = [applications_watcher()]
    await sync(landscape, stand_in_director)
    rotated = CA_BUNDLE + b"-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"
    replace(watcher_ca, rotated)

    # when
    outcome = await sync(landscape, stand_in_director)

    # then
    written = manifest(landscape)
    assert written is not None
    assert written["webhooks"][0]["clientConfig"]["caBundle"] == base64.b64encode(rotated).decode()
    assert outcome.result.applied == [f"update {KIND}/compass-watcher"]


async def test_an_unchanged_configuration_is_not_written_again(
    landscape: Landscape, stand_in_director: StandInDirector, watcher_ca: Path
) -> None:
    stand_in_director.watchers = [applications_watcher()]
    await sync(landscape, stand_in_director)

    outcome = await sync(landscape, stand_in_director)

    assert outcome.result.plan.empty


async def test_without_the_watchers_ca_file_the_configuration_is_removed_and_that_logged_once(
    landscape: Landscape, stand_in_director: StandInDirector, watcher_ca: Path
) -> None:
    # given
    stand_in_director.watchers = [applications_watcher()]
    await sync(landscape, stand_in_director)
    replace(watcher_ca, None)

    # when
    with structlog.testing.capture_logs() as logs:
        async with landscape.agent(director_factory=stand_in_director.factory()) as agent:
            first = await agent.run_once()
            second = await agent.run_once()

    # then
    assert manifest(landscape) is None
    assert first.state is second.state is ConnectionState.SYNCHRONIZED
    assert first.result is not None
    assert first.result.applied == [f"delete {KIND}/compass-watcher"]
    assert [entry["event"] for entry in logs].count("watcher_ca_missing") == 1


async def test_a_director_without_watchers_renders_none_syncs_and_is_not_asked_at_each_sync(
    landscape: Landscape, stand_in_director: StandInDirector, watcher_ca: Path
) -> None:
    # given: as Compass's Director, which answers the query with a validation error
    stand_in_director.watchers = None
    stand_in_director.answer([])

    # when
    with structlog.testing.capture_logs() as logs:
        async with landscape.agent(director_factory=stand_in_director.factory()) as agent:
            outcomes = [await agent.run_once(), await agent.run_once()]

    # then
    assert [outcome.state for outcome in outcomes] == [ConnectionState.SYNCHRONIZED] * 2
    assert stand_in_director.watchers_served == 1
    assert manifest(landscape) is None
    events = [entry["event"] for entry in logs]
    assert events.count("watchers_unsupported") == 1
    assert "director_http_error" not in events


async def test_an_unchanged_watcher_list_is_asked_with_its_etag_and_costs_a_304(
    landscape: Landscape, stand_in_director: StandInDirector, watcher_ca: Path
) -> None:
    # given
    stand_in_director.watchers = [applications_watcher()]

    # when
    async with landscape.agent(director_factory=stand_in_director.factory()) as agent:
        await agent.run_once()
        second = await agent.run_once()

    # then
    assert stand_in_director.watchers_not_modified == 1
    assert second.result is not None and second.result.plan.empty
    assert manifest(landscape) == rendered(applications_watcher())


async def test_a_director_with_no_watcher_removes_the_configuration(
    landscape: Landscape, stand_in_director: StandInDirector, watcher_ca: Path
) -> None:
    stand_in_director.watchers = [applications_watcher()]
    await sync(landscape, stand_in_director)
    stand_in_director.watchers = []

    await sync(landscape, stand_in_director)

    assert manifest(landscape) is None


async def test_agent_watchers_false_neither_asks_nor_writes(
    landscape: Landscape, stand_in_director: StandInDirector, watcher_ca: Path
) -> None:
    landscape.overrides = {"watchers": False}
    stand_in_director.watchers = [applications_watcher()]

    outcome = await sync(landscape, stand_in_director)

    assert outcome.state is ConnectionState.SYNCHRONIZED
    assert stand_in_director.watchers_served == 0
    assert manifest(landscape) is None


async def test_the_agent_writes_where_the_watcher_finds_the_control_plane(
    landscape: Landscape, stand_in_director: StandInDirector
) -> None:
    # when
    await sync(landscape, stand_in_director)

    # then
    path = landscape.state_dir / "management-plane.json"
    record = landscape.credentials().load()
    assert record is not None
    written = json.loads(path.read_text())
    assert written["runtimeId"] == landscape.runtime_id
    assert written["directorUrl"].endswith("/director/graphql")
    assert written["connectorUrl"].endswith("/connector/graphql")
    assert written["directorUrl"].startswith("https://")
    assert path.stat().st_mode & 0o777 == 0o600


async def test_management_plane_json_is_not_rewritten_while_the_connection_is_the_same(
    landscape: Landscape, stand_in_director: StandInDirector
) -> None:
    await sync(landscape, stand_in_director)
    path = landscape.state_dir / "management-plane.json"
    before = path.stat().st_ino

    await sync(landscape, stand_in_director)

    assert path.stat().st_ino == before


# --- the agent, with the Kubernetes sink ----------------------------------------------------------------------


@pytest.fixture
def in_kubernetes(landscape: Landscape, kube_api: FakeKubeApi, tmp_path: Path) -> Landscape:
    landscape.overrides.update(
        sink="kubernetes", kubeconfig=kube_api.write_kubeconfig(tmp_path / "kubeconfig"), secret_namespace="apps"
    )
    return landscape


async def test_the_kubernetes_sink_creates_the_cluster_scoped_configuration(
    in_kubernetes: Landscape, kube_api: FakeKubeApi, stand_in_director: StandInDirector, watcher_ca: Path
) -> None:
    # given
    stand_in_director.watchers = [applications_watcher()]

    # when
    outcome = await sync(in_kubernetes, stand_in_director)

    # then
    assert outcome.state is ConnectionState.SYNCHRONIZED
    stored = kube_api.object(KIND, "compass-watcher")
    assert stored is not None
    assert stored["webhooks"] == rendered(applications_watcher())["webhooks"]
    assert any(
        item.path == "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
        and "labelSelector" in item.query
        for item in kube_api.requests
    )


async def test_the_kubernetes_sink_writes_nothing_when_the_configuration_is_unchanged(
    in_kubernetes: Landscape, kube_api: FakeKubeApi, stand_in_director: StandInDirector, watcher_ca: Path
) -> None:
    stand_in_director.watchers = [applications_watcher()]
    async with in_kubernetes.agent(director_factory=stand_in_director.factory()) as agent:
        await agent.run_once()
        writes = configuration_writes(kube_api)

        outcome = await agent.run_once()

    assert outcome.result is not None
    assert outcome.result.plan.empty
    assert configuration_writes(kube_api) == writes == 1


def configuration_writes(kube_api: FakeKubeApi) -> int:
    return sum(1 for item in kube_api.writes() if "/validatingwebhookconfigurations" in item.path)


async def test_the_kubernetes_sink_leaves_a_configuration_of_that_name_it_did_not_write(
    in_kubernetes: Landscape, kube_api: FakeKubeApi, stand_in_director: StandInDirector, watcher_ca: Path
) -> None:
    # given
    theirs = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": KIND, "metadata": {"name": "compass-watcher"}}
    kube_api.put_object({**theirs, "webhooks": []})
    stand_in_director.watchers = [applications_watcher()]

    # when
    outcome = await sync(in_kubernetes, stand_in_director)

    # then
    assert outcome.state is ConnectionState.RESOURCE_APPLICATION_FAILED
    stored = kube_api.object(KIND, "compass-watcher")
    assert stored is not None
    assert stored["webhooks"] == []


async def test_the_kubernetes_sink_deletes_the_configuration_the_agent_wrote_when_watchers_go(
    in_kubernetes: Landscape, kube_api: FakeKubeApi, stand_in_director: StandInDirector, watcher_ca: Path
) -> None:
    stand_in_director.watchers = [applications_watcher()]
    await sync(in_kubernetes, stand_in_director)
    stand_in_director.watchers = []

    await sync(in_kubernetes, stand_in_director)

    assert kube_api.object(KIND, "compass-watcher") is None
