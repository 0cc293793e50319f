"""The shipped gateway manifests (deploy/gateway/) fit the gateway they run and the agent that points at it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from agent.resources import DEFAULT_GATEWAY_URL
from gateway.settings import GatewaySettings
from tests.deploy_support import Shipped, container, only, shipped_in

READ_ONLY = {"get", "list", "watch"}


@pytest.fixture(scope="module")
def shipped() -> Shipped:
    return shipped_in("gateway")


def settings_of(gateway: dict[str, Any]) -> GatewaySettings:
    """The settings the container starts with: its environment over the defaults."""
    return GatewaySettings(**{item["name"]: item["value"] for item in gateway["env"]})


def test_the_service_is_kymas_and_the_one_the_agents_default_url_names(
    shipped: Shipped,
) -> None:
    service = only(shipped, "Service")
    ports = {(port["name"], port["port"]) for port in service["spec"]["ports"]}
    address = urlsplit(DEFAULT_GATEWAY_URL)

    assert ports == {("http-proxy", 8080), ("http-proxy-mps", 8082), ("http-api-port", 8081)}
    assert (service["metadata"]["name"], service["metadata"]["namespace"]) == (
        "central-application-gateway",
        "kyma-system",
    )
    assert address.hostname == "central-application-gateway.kyma-system.svc.cluster.local"
    assert ("http-proxy-mps", address.port) in ports


def test_the_service_selects_the_gateways_pods(shipped: Shipped) -> None:
    service = only(shipped, "Service")
    deployment = only(shipped, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["metadata"]["namespace"] == deployment["metadata"]["namespace"]


def test_the_container_listens_on_every_interface_on_the_ports_the_service_targets(
    shipped: Shipped,
) -> None:
    gateway = container(shipped)
    settings = settings_of(gateway)
    container_ports = {port["name"]: port["containerPort"] for port in gateway["ports"]}
    targeted = {port["targetPort"] for port in only(shipped, "Service")["spec"]["ports"]}

    assert gateway["command"] == ["compass-gateway", "serve"]
    assert settings.host == "0.0.0.0"  # noqa: S104 - a pod's listener must be reachable from other pods
    assert set(container_ports) == targeted
    assert container_ports == {
        "http-proxy": settings.port,
        "http-proxy-mps": settings.compass_port,
        "http-api-port": settings.api_port,
    }


def test_the_probes_ask_the_health_listener(shipped: Shipped) -> None:
    gateway = container(shipped)

    probes = {name: gateway[name]["httpGet"] for name in ("livenessProbe", "readinessProbe")}

    assert probes == {
        "livenessProbe": {"path": "/healthz", "port": "http-api-port"},
        "readinessProbe": {"path": "/readyz", "port": "http-api-port"},
    }


def test_the_gateway_reads_applications_cluster_wide_and_secrets_where_it_looks_for_them(
    shipped: Shipped,
) -> None:
    settings = settings_of(container(shipped))
    cluster_role, role = only(shipped, "ClusterRole"), only(shipped, "Role")

    assert settings.source == "kubernetes"
    assert cluster_role["rules"] == [
        {
            "apiGroups": ["applicationconnector.kyma-project.io"],
            "resources": ["applications"],
            "verbs": sorted(READ_ONLY),
        }
    ]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": sorted(READ_ONLY)}]
    assert role["metadata"]["namespace"] == settings.secret_namespace


def test_both_roles_are_bound_to_the_deployments_service_account(
    shipped: Shipped,
) -> None:
    deployment = only(shipped, "Deployment")
    account = only(shipped, "ServiceAccount")
    subject = {
        "kind": "ServiceAccount",
        "name": deployment["spec"]["template"]["spec"]["serviceAccountName"],
        "namespace": deployment["metadata"]["namespace"],
    }

    roles = [(kind, only(shipped, kind)["metadata"]["name"]) for kind in ("ClusterRole", "Role")]

    bound = {
        (binding["roleRef"]["kind"], binding["roleRef"]["name"]): binding["subjects"]
        for kind in ("ClusterRoleBinding", "RoleBinding")
        for binding in shipped[kind]
    }

    assert (account["metadata"]["name"], account["metadata"]["namespace"]) == (
        subject["name"],
        subject["namespace"],
    )
    assert bound == {role: [subject] for role in roles}


def test_the_container_runs_unprivileged_on_a_read_only_root(shipped: Shipped) -> None:
    pod = only(shipped, "Deployment")["spec"]["template"]["spec"]
    gateway = container(shipped)

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert gateway["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert gateway["resources"]["limits"]["memory"]
