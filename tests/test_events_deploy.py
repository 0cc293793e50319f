"""The shipped event ingress manifests (deploy/events/, the Subscription CRD) fit the ingress they run, the agent
that writes its CA Secret, and the Subscriptions it reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agent.resources import CA_SECRET_KEY
from agent.settings import AgentSettings
from events.settings import EventsSettings
from events.subscriptions.kubernetes import SubscriptionResource
from events.subscriptions.model import TypeMatching, subscription_from_manifest
from tests.deploy_support import DEPLOY, Shipped, container, documents, only, shipped_in

READ_ONLY = ["get", "list", "watch"]


@pytest.fixture(scope="module")
def shipped() -> Shipped:
    return shipped_in("events", leaving=("example-subscription.yaml",))


@pytest.fixture(scope="module")
def subscription_crd() -> dict[str, Any]:
    [crd] = documents(DEPLOY / "crds" / "subscriptions.eventing.kyma-project.io.yaml")
    return crd


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    [subscription] = documents(DEPLOY / "events" / "example-subscription.yaml")
    return subscription


def pod(shipped: Shipped) -> dict[str, Any]:
    spec: dict[str, Any] = only(shipped, "Deployment")["spec"]["template"]["spec"]
    return spec


def settings_of(events: dict[str, Any]) -> EventsSettings:
    """The settings the container starts with: its environment over the defaults."""
    return EventsSettings(**{item["name"]: item["value"] for item in events["env"]})


def mount_of(events: dict[str, Any], path: Path) -> dict[str, Any]:
    """The volume mount that holds ``path``."""
    [mount] = [item for item in events["volumeMounts"] if path.is_relative_to(item["mountPath"])]
    return mount


def volume(shipped: Shipped, name: str) -> dict[str, Any]:
    [found] = [item for item in pod(shipped)["volumes"] if item["name"] == name]
    return found


def schema(crd: dict[str, Any]) -> dict[str, Any]:
    [version] = crd["spec"]["versions"]
    openapi: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return openapi


def test_the_container_serves_https_and_the_api_on_every_interface(shipped: Shipped) -> None:
    events = container(shipped)
    settings = settings_of(events)
    container_ports = {port["name"]: port["containerPort"] for port in events["ports"]}

    assert events["command"] == ["compass-events", "serve"]
    assert settings.host == "0.0.0.0"  # noqa: S104 - a pod's listener must be reachable from other pods
    assert settings.source == "kubernetes"
    assert container_ports == {"https": settings.port, "http-api": settings.api_port}
    assert (settings.port, settings.api_port) == (8443, 8084)


def test_the_service_exposes_both_ports_of_the_pods_it_selects(shipped: Shipped) -> None:
    service = only(shipped, "Service")
    deployment = only(shipped, "Deployment")
    container_ports = {port["name"] for port in container(shipped)["ports"]}

    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert service["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    assert {port["targetPort"] for port in service["spec"]["ports"]} == container_ports


def test_the_probes_ask_the_api_listener(shipped: Shipped) -> None:
    events = container(shipped)

    probes = {name: events[name]["httpGet"] for name in ("livenessProbe", "readinessProbe")}

    assert probes == {
        "livenessProbe": {"path": "/healthz", "port": "http-api"},
        "readinessProbe": {"path": "/readyz", "port": "http-api"},
    }


def test_the_client_ca_is_the_cacert_of_the_secret_the_shipped_agent_writes(shipped: Shipped) -> None:
    events = container(shipped)
    settings = settings_of(events)
    [agent] = documents(DEPLOY / "agent" / "deployment.yaml")[0]["spec"]["template"]["spec"]["containers"]
    agent_settings = AgentSettings(**{item["name"]: item["value"] for item in agent["env"]})
    mount = mount_of(events, settings.ca_file)
    source = volume(shipped, mount["name"])["secret"]

    assert agent_settings.ca_secret_ref == (
        only(shipped, "Deployment")["metadata"]["namespace"],
        source["secretName"],
    )
    assert mount["readOnly"] is True
    assert source["items"] == [
        {"key": CA_SECRET_KEY, "path": str(settings.ca_file.relative_to(mount["mountPath"]))}
    ]


def test_the_event_log_is_on_a_persistent_volume_with_one_writer(shipped: Shipped) -> None:
    settings = settings_of(container(shipped))
    deployment = only(shipped, "Deployment")
    claim = volume(shipped, mount_of(container(shipped), settings.data_dir)["name"])["persistentVolumeClaim"]

    assert settings.bus == "embedded"
    assert claim["claimName"] == only(shipped, "PersistentVolumeClaim")["metadata"]["name"]
    assert (deployment["spec"]["replicas"], deployment["spec"]["strategy"]["type"]) == (1, "Recreate")


def test_the_ingress_reads_applications_and_subscriptions_cluster_wide_and_secrets_where_it_looks(
    shipped: Shipped,
) -> None:
    settings = settings_of(container(shipped))
    cluster_role, role = only(shipped, "ClusterRole"), only(shipped, "Role")

    assert cluster_role["rules"] == [
        {
            "apiGroups": ["applicationconnector.kyma-project.io"],
            "resources": ["applications"],
            "verbs": READ_ONLY,
        },
        {"apiGroups": ["eventing.kyma-project.io"], "resources": ["subscriptions"], "verbs": READ_ONLY},
    ]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": READ_ONLY}]
    assert role["metadata"]["namespace"] == settings.secret_namespace


def test_both_roles_are_bound_to_the_deployments_service_account(shipped: Shipped) -> None:
    deployment = only(shipped, "Deployment")
    account = only(shipped, "ServiceAccount")
    subject = {
        "kind": "ServiceAccount",
        "name": pod(shipped)["serviceAccountName"],
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
    events = container(shipped)

    assert pod(shipped)["securityContext"]["runAsNonRoot"] is True
    assert events["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert events["resources"]["limits"]["memory"]


def test_the_crd_defines_the_resource_the_ingress_watches(subscription_crd: dict[str, Any]) -> None:
    resource = SubscriptionResource._api_info
    spec = subscription_crd["spec"]

    assert subscription_crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert (spec["scope"], spec["group"], spec["names"]["kind"]) == (
        "Namespaced",
        "eventing.kyma-project.io",
        "Subscription",
    )
    assert spec["group"] == resource.resource.group
    assert [version["name"] for version in spec["versions"]] == [resource.resource.version]
    assert spec["names"]["plural"] == resource.plural
    assert subscription_crd["metadata"]["name"] == f"{resource.plural}.{resource.resource.group}"


def test_the_crd_allows_exactly_the_type_matchings_the_ingress_knows(
    subscription_crd: dict[str, Any],
) -> None:
    matching = schema(subscription_crd)["properties"]["spec"]["properties"]["typeMatching"]

    assert set(matching["enum"]) == {item.value for item in TypeMatching}


def test_the_example_subscription_validates_against_the_crd_and_is_usable(
    subscription_crd: dict[str, Any], example: dict[str, Any]
) -> None:
    jsonschema.validate(example, schema(subscription_crd))
    subscription = subscription_from_manifest(example)

    assert subscription.source == "shop"
    assert subscription.types == ("order.created.v1",)


@pytest.mark.parametrize(
    ("field", "value"),
    [("types", []), ("typeMatching", "prefix"), ("sink", "order-handler:8080"), ("config", {"a": 1})],
)
def test_the_crd_refuses_a_subscription_the_ingress_could_not_use(
    subscription_crd: dict[str, Any], example: dict[str, Any], field: str, value: Any
) -> None:
    broken = {**example, "spec": {**example["spec"], field: value}}

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema(subscription_crd))
