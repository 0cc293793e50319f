"""The Connector's CA in a Kubernetes Secret (AGENT_CA_SECRET, Kyma's istio-system/kyma-gateway-certs-cacert, key
cacert), where an ingress that verifies the applications' client certificates reads it: the agent connected
through the real Connector, the Kubernetes API is testing/kube.py."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.resources import DEFAULT_CA_SECRET
from agent.settings import AgentSettings
from agent.status import ConnectionState
from testing.kube import FakeKubeApi
from tests.agent.support import Landscape

OWNED = {"applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent"}
CA_SECRET = "/api/v1/namespaces/istio-system/secrets"


@pytest.fixture
def in_kubernetes(landscape: Landscape, kube_api: FakeKubeApi, tmp_path: Path) -> Landscape:
    landscape.overrides.update(
        sink="kubernetes",
        kubeconfig=kube_api.write_kubeconfig(tmp_path / "kubeconfig"),
        secret_namespace="apps",
    )
    return landscape


def stored_ca(landscape: Landscape) -> bytes:
    credentials = landscape.credentials().load()
    assert credentials is not None
    return credentials.ca_pem


def cacert(kube_api: FakeKubeApi, namespace: str = "istio-system") -> bytes | None:
    secret = kube_api.object("Secret", "kyma-gateway-certs-cacert", namespace)
    return None if secret is None else base64.b64decode(secret["data"]["cacert"])


def test_kymas_secret_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENT_CA_SECRET", raising=False)

    assert AgentSettings().ca_secret_ref == ("istio-system", "kyma-gateway-certs-cacert")
    assert DEFAULT_CA_SECRET == "istio-system/kyma-gateway-certs-cacert"


@pytest.mark.parametrize("value", ["no-namespace", "istio-system/", "/name", "Istio/Name", "a/b/c"])
def test_a_value_that_is_not_namespace_and_name_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("AGENT_CA_SECRET", value)

    with pytest.raises(ValidationError, match="AGENT_CA_SECRET"):
        AgentSettings()


async def test_the_first_sync_writes_the_ca_the_agent_stored_into_the_secret_under_cacert(
    in_kubernetes: Landscape, kube_api: FakeKubeApi
) -> None:
    outcome = await in_kubernetes.run_once()

    assert outcome.state is ConnectionState.SYNCHRONIZED
    assert cacert(kube_api) == stored_ca(in_kubernetes)
    secret = kube_api.object("Secret", "kyma-gateway-certs-cacert", "istio-system")
    assert secret is not None and OWNED.items() <= secret["metadata"]["labels"].items()


async def test_an_unchanged_ca_is_not_written_again(in_kubernetes: Landscape, kube_api: FakeKubeApi) -> None:
    async with in_kubernetes.agent() as agent:
        await agent.run_once()
        kube_api.requests.clear()

        await agent.run_once()

    assert [write for write in kube_api.writes() if CA_SECRET in write.path] == []


async def test_a_changed_ca_bundle_is_written_again(in_kubernetes: Landscape, kube_api: FakeKubeApi) -> None:
    await in_kubernetes.run_once()
    # a renewal brought a second CA certificate beside the first
    bundle = stored_ca(in_kubernetes) * 2
    (in_kubernetes.state_dir / "ca.crt").write_bytes(bundle)

    await in_kubernetes.run_once()

    assert cacert(kube_api) == bundle


async def test_a_secret_deleted_by_hand_comes_back_at_the_next_sync(
    in_kubernetes: Landscape, kube_api: FakeKubeApi
) -> None:
    await in_kubernetes.run_once()
    kube_api.remove_object("Secret", "kyma-gateway-certs-cacert", "istio-system")

    await in_kubernetes.run_once()

    assert cacert(kube_api) == stored_ca(in_kubernetes)


async def test_in_the_namespace_of_the_credential_secrets_it_is_kept_across_syncs(
    in_kubernetes: Landscape, kube_api: FakeKubeApi
) -> None:
    in_kubernetes.overrides["ca_secret"] = "apps/kyma-gateway-certs-cacert"
    await in_kubernetes.application("shop")

    await in_kubernetes.run_once()
    await in_kubernetes.run_once()

    assert cacert(kube_api, "apps") == stored_ca(in_kubernetes)
    assert cacert(kube_api) is None


async def test_a_secret_of_that_name_the_agent_did_not_write_is_left_alone_and_reported(
    in_kubernetes: Landscape, kube_api: FakeKubeApi
) -> None:
    theirs = {"cacert": base64.b64encode(b"someone else's").decode()}
    kube_api.put_object(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "kyma-gateway-certs-cacert", "namespace": "istio-system"},
            "data": theirs,
        }
    )

    outcome = await in_kubernetes.run_once()

    assert cacert(kube_api) == b"someone else's"
    assert outcome.state is ConnectionState.RESOURCE_APPLICATION_FAILED
    assert "Secret/kyma-gateway-certs-cacert" in (outcome.error or "")


async def test_an_empty_setting_writes_no_ca_secret(in_kubernetes: Landscape, kube_api: FakeKubeApi) -> None:
    in_kubernetes.overrides["ca_secret"] = ""

    outcome = await in_kubernetes.run_once()

    assert outcome.state is ConnectionState.SYNCHRONIZED
    assert [write for write in kube_api.writes() if "/secrets" in write.path] == []


async def test_the_directory_sink_keeps_the_ca_in_the_state_directory_only(landscape: Landscape) -> None:
    await landscape.run_once()

    assert landscape.manifests("secret") == {}
    assert (landscape.state_dir / "ca.crt").read_bytes() == stored_ca(landscape)
