"""The shipped watcher manifests (deploy/watcher/) fit the watcher they run, the agent whose state they share and
the webhook configuration the agent renders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.settings import AgentSettings
from agent.watchers import parse_watchers, webhook_configuration
from tests.deploy_support import Shipped, container, only, shipped_in
from watcher.settings import WatcherSettings

BUILT_IN_APPLICATIONS = {
    "id": "compass-runtime-agent-applications",
    "name": "compass-runtime-agent-applications",
    "module": "compass-runtime-agent",
    "resourceToWatch": {
        "group": "applicationconnector.kyma-project.io",
        "version": "v1alpha1",
        "resource": "applications",
    },
    "labelsToWatch": {"applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent"},
    "field": "SPEC",
}


@pytest.fixture(scope="module")
def shipped() -> Shipped:
    return shipped_in("watcher")


@pytest.fixture(scope="module")
def agent() -> Shipped:
    return shipped_in("agent")


def environment(item: dict[str, Any]) -> dict[str, Any]:
    return {variable["name"]: variable["value"] for variable in item["env"]}


def watcher_settings(shipped: Shipped) -> WatcherSettings:
    """The settings the container starts with: its environment over the defaults."""
    return WatcherSettings(**environment(container(shipped, "watcher")))


def agent_settings(agent: Shipped) -> AgentSettings:
    return AgentSettings(**environment(container(agent, "agent")))


def test_the_container_runs_serve_listening_on_every_interface_on_the_default_ports(shipped: Shipped) -> None:
    watcher = container(shipped, "watcher")
    settings = watcher_settings(shipped)
    ports = {port["name"]: port["containerPort"] for port in watcher["ports"]}

    assert watcher["command"] == ["compass-watcher", "serve"]
    assert settings.host == "0.0.0.0"  # noqa: S104 - the API server calls from outside the Pod
    assert ports == {"https-webhook": settings.port, "http-api-port": settings.api_port}
    assert (settings.port, settings.api_port) == (
        WatcherSettings.model_fields["port"].default,
        WatcherSettings.model_fields["api_port"].default,
    )


def test_the_service_maps_443_to_the_webhook_and_selects_the_watchers_pods(shipped: Shipped) -> None:
    service, deployment = only(shipped, "Service"), only(shipped, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    assert [(port["port"], port["targetPort"]) for port in service["spec"]["ports"]] == [
        (443, "https-webhook")
    ]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["metadata"]["namespace"] == deployment["metadata"]["namespace"]


def test_the_service_is_the_one_both_the_watchers_certificate_and_the_agents_webhooks_name(
    shipped: Shipped, agent: Shipped
) -> None:
    service = only(shipped, "Service")["metadata"]
    watcher, runtime_agent = watcher_settings(shipped), agent_settings(agent)

    assert (watcher.service_name, watcher.service_namespace) == (service["name"], service["namespace"])
    assert (runtime_agent.watcher_service_name, runtime_agent.watcher_service_namespace) == (
        service["name"],
        service["namespace"],
    )


def test_the_watcher_mounts_the_agents_state_where_both_read_it(shipped: Shipped, agent: Shipped) -> None:
    watcher_pod = only(shipped, "Deployment")["spec"]["template"]["spec"]
    agent_pod = only(agent, "Deployment")["spec"]["template"]["spec"]
    [volume] = watcher_pod["volumes"]
    [agents_claim] = [item for item in agent_pod["volumes"] if "persistentVolumeClaim" in item]
    [mount] = container(shipped, "watcher")["volumeMounts"]

    assert volume["persistentVolumeClaim"] == agents_claim["persistentVolumeClaim"]
    assert watcher_settings(shipped).state_dir == agent_settings(agent).state_dir == Path(mount["mountPath"])
    assert (
        only(shipped, "Deployment")["metadata"]["namespace"]
        == only(agent, "Deployment")["metadata"]["namespace"]
    )


def test_the_watcher_is_scheduled_beside_the_agent_which_holds_the_read_write_once_claim(
    shipped: Shipped, agent: Shipped
) -> None:
    [term] = only(shipped, "Deployment")["spec"]["template"]["spec"]["affinity"]["podAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    agent_labels = only(agent, "Deployment")["spec"]["template"]["metadata"]["labels"]

    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"].items() <= agent_labels.items()


def test_the_reference_configuration_is_what_the_agent_renders(shipped: Shipped, agent: Shipped) -> None:
    settings = agent_settings(agent)
    rendered = webhook_configuration(
        parse_watchers([BUILT_IN_APPLICATIONS]),
        b"",
        service_name=settings.watcher_service_name,
        service_namespace=settings.watcher_service_namespace,
    )

    assert only(shipped, "ValidatingWebhookConfiguration") == rendered


def test_the_probes_ask_the_health_listener(shipped: Shipped) -> None:
    watcher = container(shipped, "watcher")

    probes = {name: watcher[name]["httpGet"] for name in ("livenessProbe", "readinessProbe")}

    assert probes == {
        "livenessProbe": {"path": "/healthz", "port": "http-api-port"},
        "readinessProbe": {"path": "/readyz", "port": "http-api-port"},
    }


def test_the_container_runs_unprivileged_on_a_read_only_root_as_the_agent(
    shipped: Shipped, agent: Shipped
) -> None:
    pod = only(shipped, "Deployment")["spec"]["template"]["spec"]
    agent_pod = only(agent, "Deployment")["spec"]["template"]["spec"]

    assert pod["securityContext"] == agent_pod["securityContext"]
    assert pod["automountServiceAccountToken"] is False
    assert container(shipped, "watcher")["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def test_the_agent_may_keep_the_webhook_configuration(agent: Shipped) -> None:
    rules = only(agent, "ClusterRole")["rules"]

    assert {
        "apiGroups": ["admissionregistration.k8s.io"],
        "resources": ["validatingwebhookconfigurations"],
        "verbs": ["get", "list", "watch", "create", "patch", "delete"],
    } in rules
