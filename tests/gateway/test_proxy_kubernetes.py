"""The served gateway reading Applications and Secrets from the Kubernetes API (the stand-in of testing/kube.py):
it serves what is there once ready, and follows changes and deletions as their watch events arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest

from dataplane.names import DEFAULT_SECRET_NAMESPACE
from testing.applications import Manifest, api_entry, application, secret, service
from testing.gateway import ServedGateway
from testing.kube import FakeKubeApi
from testing.upstream import UpstreamStandIn
from testing.waiting import wait_until
from tests.fixtures.gateway import StartGateway

NAME = "kube-shop"


@pytest.fixture(scope="module")
def kube_gateway(
    gateway_factory: StartGateway, kube_api_server: FakeKubeApi, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedGateway]:
    """A gateway with GATEWAY_SOURCE=kubernetes on the stand-in API server (emptied by ``kube_api`` before each
    test: the gateway's informers list it again); stopped before the API server, which waits for its watches."""
    kubeconfig = kube_api_server.write_kubeconfig(tmp_path_factory.mktemp("kubeconfig") / "config")
    served = gateway_factory(source="kubernetes", kubeconfig=str(kubeconfig))
    yield served
    served.process.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def basic_api(stand_in: UpstreamStandIn, target: str) -> Manifest:
    """Application NAME with one Basic-protected API on ``target``, a path on the stand-in's HTTP listener."""
    credentials = {"type": "Basic", "secretName": NAME}
    entry = api_entry("api", stand_in.http_url + target, credentials=credentials)
    return application(NAME, service("api", entry))


def stand_in_user_secret(stand_in: UpstreamStandIn) -> Manifest:
    user, password = next(iter(stand_in.users.items()))
    return secret(NAME, username=user, password=password)


def answered(
    client: httpx.AsyncClient, gateway: ServedGateway, wanted: Callable[[httpx.Response], bool]
) -> Callable[[], Awaitable[bool]]:
    """Whether a call of NAME's API now gets the ``wanted`` answer."""

    async def check() -> bool:
        return wanted(await client.get(f"{gateway.standalone_url}/{NAME}/api/orders"))

    return check


def reaching(path: str) -> Callable[[httpx.Response], bool]:
    return lambda answer: answer.status_code == 200 and answer.json()["path"] == path


async def published(
    client: httpx.AsyncClient, gateway: ServedGateway, kube_api: FakeKubeApi, stand_in: UpstreamStandIn
) -> None:
    """NAME's Application (target /basic/one) and Secret in the API server, and served by the gateway."""
    kube_api.put_object(basic_api(stand_in, "/basic/one"))
    kube_api.put_object(stand_in_user_secret(stand_in))
    await wait_until(answered(client, gateway, reaching("/basic/one/orders")), what="the API being served")


async def test_an_application_in_the_api_server_is_served_once_the_gateway_is_ready(
    kube_gateway: ServedGateway,
    kube_api: FakeKubeApi,
    upstream_stand_in: UpstreamStandIn,
    client: httpx.AsyncClient,
) -> None:
    kube_api.put_object(basic_api(upstream_stand_in, "/basic/one"))
    kube_api.put_object(stand_in_user_secret(upstream_stand_in))

    async def ready() -> bool:
        return (await client.get(f"{kube_gateway.api_url}/readyz")).status_code == 200

    await wait_until(ready, what="the gateway being ready")
    await wait_until(
        answered(client, kube_gateway, reaching("/basic/one/orders")), what="the API being served"
    )


async def test_a_changed_target_url_is_followed_by_the_next_calls(
    kube_gateway: ServedGateway,
    kube_api: FakeKubeApi,
    upstream_stand_in: UpstreamStandIn,
    client: httpx.AsyncClient,
) -> None:
    await published(client, kube_gateway, kube_api, upstream_stand_in)

    kube_api.put_object(basic_api(upstream_stand_in, "/basic/two"))

    await wait_until(answered(client, kube_gateway, reaching("/basic/two/orders")), what="the new target")


async def test_a_deleted_application_answers_404(
    kube_gateway: ServedGateway,
    kube_api: FakeKubeApi,
    upstream_stand_in: UpstreamStandIn,
    client: httpx.AsyncClient,
) -> None:
    await published(client, kube_gateway, kube_api, upstream_stand_in)

    kube_api.remove_object("Application", NAME)

    await wait_until(answered(client, kube_gateway, lambda answer: answer.status_code == 404), what="a 404")


async def test_a_deleted_secret_answers_500_secret_not_found(
    kube_gateway: ServedGateway,
    kube_api: FakeKubeApi,
    upstream_stand_in: UpstreamStandIn,
    client: httpx.AsyncClient,
) -> None:
    await published(client, kube_gateway, kube_api, upstream_stand_in)

    kube_api.remove_object("Secret", NAME, namespace=DEFAULT_SECRET_NAMESPACE)

    def secret_not_found(answer: httpx.Response) -> bool:
        return answer.status_code == 500 and f"secret '{NAME}' not found" in answer.json()["error"]

    await wait_until(answered(client, kube_gateway, secret_not_found), what="secret not found")
