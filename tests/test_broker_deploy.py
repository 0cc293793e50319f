"""The shipped broker manifests (deploy/broker/) fit the broker they run and the agent whose state they share; the
CRDs of ApplicationMapping and TokenRequest (deploy/crds/) define what the broker and the agent ask the API for,
and the agent's RBAC lets it handle TokenRequests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.settings import AgentSettings
from agent.tokenrequests.kubernetes import TokenRequestResource
from broker.osb import namespace_password
from broker.settings import BrokerSettings
from dataplane.catalog.kubernetes import ApplicationMappingResource
from tests.deploy_support import DEPLOY, Shipped, container, load, only, shipped_in

READ_ONLY = ["get", "list", "watch"]


@pytest.fixture(scope="module")
def shipped() -> Shipped:
    return shipped_in("broker")


@pytest.fixture(scope="module")
def agent() -> Shipped:
    return shipped_in("agent")


def secret_value(shipped: Shipped, namespace: str, reference: dict[str, str]) -> str:
    [secret] = [
        item
        for item in shipped["Secret"]
        if (item["metadata"]["namespace"], item["metadata"]["name"]) == (namespace, reference["name"])
    ]
    return str(secret["stringData"][reference["key"]])


def broker_settings(shipped: Shipped) -> BrokerSettings:
    """The settings the container starts with: its environment (Secrets resolved) over the defaults."""
    namespace = only(shipped, "Deployment")["metadata"]["namespace"]
    values: dict[str, Any] = {}
    for item in container(shipped, "broker")["env"]:
        reference = item.get("valueFrom", {}).get("secretKeyRef")
        values[item["name"]] = (
            item["value"] if reference is None else secret_value(shipped, namespace, reference)
        )
    return BrokerSettings(**values)


def agent_settings(agent: Shipped) -> AgentSettings:
    [runtime_agent] = only(agent, "Deployment")["spec"]["template"]["spec"]["containers"]
    return AgentSettings(**{item["name"]: item["value"] for item in runtime_agent["env"] if "value" in item})


def crd(kind: str) -> dict[str, Any]:
    definitions = load(*(DEPLOY / "crds").glob("*.yaml"))["CustomResourceDefinition"]
    [definition] = [item for item in definitions if item["spec"]["names"]["kind"] == kind]
    return definition


def test_the_container_serves_the_broker_on_every_interface_on_the_default_ports(shipped: Shipped) -> None:
    broker = container(shipped, "broker")
    settings = broker_settings(shipped)
    ports = {port["name"]: port["containerPort"] for port in broker["ports"]}

    assert broker["command"] == ["compass-broker", "serve"]
    assert settings.host == "0.0.0.0"  # noqa: S104 - the platform calls from outside the Pod
    assert ports == {"http-broker": settings.port, "http-api-port": settings.api_port}
    assert (settings.port, settings.api_port) == (
        BrokerSettings.model_fields["port"].default,
        BrokerSettings.model_fields["api_port"].default,
    )
    assert settings.source == "kubernetes"


def test_the_probes_ask_the_health_listener(shipped: Shipped) -> None:
    broker = container(shipped, "broker")

    probes = {name: broker[name]["httpGet"] for name in ("livenessProbe", "readinessProbe")}

    assert probes == {
        "livenessProbe": {"path": "/healthz", "port": "http-api-port"},
        "readinessProbe": {"path": "/readyz", "port": "http-api-port"},
    }


def test_the_service_serves_the_broker_port_and_selects_its_pods(shipped: Shipped) -> None:
    service, deployment = only(shipped, "Service"), only(shipped, "Deployment")

    assert [(port["port"], port["targetPort"]) for port in service["spec"]["ports"]] == [(80, "http-broker")]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert service["metadata"]["namespace"] == deployment["metadata"]["namespace"]


def test_the_broker_mounts_the_agents_state_where_both_read_it_beside_the_agent(
    shipped: Shipped, agent: Shipped
) -> None:
    pod = only(shipped, "Deployment")["spec"]["template"]["spec"]
    agent_deployment = only(agent, "Deployment")
    [agents_claim] = [
        item
        for item in agent_deployment["spec"]["template"]["spec"]["volumes"]
        if "persistentVolumeClaim" in item
    ]
    [volume], [mount] = pod["volumes"], container(shipped, "broker")["volumeMounts"]
    [term] = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]

    assert volume["persistentVolumeClaim"] == agents_claim["persistentVolumeClaim"]
    assert (
        broker_settings(shipped).agent_state_dir
        == agent_settings(agent).state_dir
        == Path(mount["mountPath"])
    )
    assert only(shipped, "Deployment")["metadata"]["namespace"] == agent_deployment["metadata"]["namespace"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert (
        term["labelSelector"]["matchLabels"].items()
        <= agent_deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    assert pod["securityContext"] == agent_deployment["spec"]["template"]["spec"]["securityContext"]


def test_the_broker_may_read_no_secrets(shipped: Shipped) -> None:
    assert "Role" not in shipped
    assert "RoleBinding" not in shipped


def test_a_bindings_events_url_is_the_event_ingress_service(shipped: Shipped) -> None:
    [events_service] = load(DEPLOY / "events" / "service.yaml")["Service"]
    [port] = [item["port"] for item in events_service["spec"]["ports"] if item["name"] == "https"]
    metadata = events_service["metadata"]

    assert broker_settings(shipped).events_url == (
        f"https://{metadata['name']}.{metadata['namespace']}.svc.cluster.local:{port}"
    )


def test_the_broker_may_read_applications_and_mappings_everywhere_and_write_nothing(shipped: Shipped) -> None:
    rules = only(shipped, "ClusterRole")["rules"]

    assert rules == [
        {
            "apiGroups": ["applicationconnector.kyma-project.io"],
            "resources": ["applications", "applicationmappings"],
            "verbs": READ_ONLY,
        }
    ]


def test_the_roles_are_bound_to_the_brokers_service_account(shipped: Shipped) -> None:
    deployment = only(shipped, "Deployment")
    account = only(shipped, "ServiceAccount")
    subject = {
        "kind": "ServiceAccount",
        "name": account["metadata"]["name"],
        "namespace": deployment["metadata"]["namespace"],
    }

    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    assert only(shipped, "ClusterRoleBinding")["subjects"] == [subject]
    assert (
        only(shipped, "ClusterRoleBinding")["roleRef"]["name"]
        == only(shipped, "ClusterRole")["metadata"]["name"]
    )


def test_the_service_broker_example_calls_the_namespaces_broker_with_the_namespaces_credentials(
    shipped: Shipped,
) -> None:
    registration, service = only(shipped, "ServiceBroker"), only(shipped, "Service")
    namespace = registration["metadata"]["namespace"]
    settings = broker_settings(shipped)
    reference = registration["spec"]["authInfo"]["basic"]["secretRef"]

    assert registration["apiVersion"] == "servicecatalog.k8s.io/v1beta1"
    assert registration["spec"]["url"] == (
        f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local/{namespace}"
    )
    assert (
        secret_value(shipped, namespace, {**reference, "key": "username"})
        == settings.username.get_secret_value()
    )
    assert secret_value(shipped, namespace, {**reference, "key": "password"}) == namespace_password(
        settings.password.get_secret_value(), namespace
    )


@pytest.mark.parametrize("resource", [TokenRequestResource, ApplicationMappingResource])
def test_the_crds_define_the_resources_the_code_asks_for(resource: Any) -> None:
    info = resource._api_info
    definition = crd(info.resource.kind)

    assert definition["apiVersion"] == "apiextensions.k8s.io/v1"
    assert definition["spec"]["scope"] == "Namespaced"
    assert definition["spec"]["group"] == info.resource.group
    assert [version["name"] for version in definition["spec"]["versions"]] == [info.resource.version]
    assert definition["spec"]["names"]["plural"] == info.plural
    assert definition["metadata"]["name"] == f"{info.plural}.{info.resource.group}"


def test_the_token_request_crd_has_the_status_subresource_the_agent_writes_through() -> None:
    [version] = crd("TokenRequest")["spec"]["versions"]

    assert TokenRequestResource.Status._api_info.action == "status"
    assert version["subresources"] == {"status": {}}


def test_the_agent_may_read_token_requests_write_their_status_and_delete_them(agent: Shipped) -> None:
    rules = only(agent, "ClusterRole")["rules"]
    group = ["applicationconnector.kyma-project.io"]

    assert {"apiGroups": group, "resources": ["tokenrequests"], "verbs": [*READ_ONLY, "delete"]} in rules
    assert {"apiGroups": group, "resources": ["tokenrequests/status"], "verbs": ["update"]} in rules
