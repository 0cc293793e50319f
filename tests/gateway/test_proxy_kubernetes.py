"""The served gateway reading Applications and Secrets from the Kubernetes API (the stand-in of testing/kube.py):
it serves what is there once ready, and follows changes and deletions as their watch events arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from dataplane.names import DEFAULT_SECRET_NAMESPACE
from testing.applications import api_entry, application, secret, service
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


@dataclass(frozen=True)
class Shop:
    """NAME's Application and Secret in the stand-in API server, and calls of its API through the gateway."""

    gateway: ServedGateway
    kube_api: FakeKubeApi
    stand_in: UpstreamStandIn
    client: httpx.AsyncClient

    def put_api(self, target: str) -> None:
        """Application NAME with one Basic-protected API on ``target``, a path on the stand-in's HTTP listener."""
        credentials = {"type": "Basic", "secretName": NAME}
        entry = api_entry("api", self.stand_in.http_url + target, credentials=credentials)
        self.kube_api.put_object(application(NAME, service("api", entry)))

    def put_secret(self) -> None:
        """Secret NAME with a user the stand-in knows."""
        user, password = next(iter(self.stand_in.users.items()))
        self.kube_api.put_object(secret(NAME, username=user, password=password))

    async def answers(self, wanted: Callable[[httpx.Response], bool], what: str) -> None:
        """Waits until a call of NAME's API gets the ``wanted`` answer."""

        async def check() -> bool:
            return wanted(await self.client.get(f"{self.gateway.standalone_url}/{NAME}/api/orders"))

        await wait_until(check, what=what)


@pytest.fixture
async def shop(
    kube_gateway: ServedGateway, kube_api: FakeKubeApi, upstream_stand_in: UpstreamStandIn
) -> AsyncIterator[Shop]:
    async with httpx.AsyncClient() as client:
        yield Shop(kube_gateway, kube_api, upstream_stand_in, client)


@pytest.fixture
async def published(shop: Shop) -> Shop:
    """NAME's Application (target /basic/one) and Secret in the API server, and served by the gateway."""
    shop.put_api("/basic/one")
    shop.put_secret()
    await shop.answers(reaching("/basic/one/orders"), what="the API being served")
    return shop


def reaching(path: str) -> Callable[[httpx.Response], bool]:
    return lambda answer: answer.status_code == 200 and answer.json()["path"] == path


def not_found(answer: httpx.Response) -> bool:
    return answer.status_code == 404


def secret_not_found(answer: httpx.Response) -> bool:
    return answer.status_code == 500 and f"secret '{NAME}' not found" in answer.json()["error"]


async def test_an_application_in_the_api_server_is_served_once_the_gateway_is_ready(shop: Shop) -> None:
    shop.put_api("/basic/one")
    shop.put_secret()

    async def ready() -> bool:
        return (await shop.client.get(f"{shop.gateway.api_url}/readyz")).status_code == 200

    await wait_until(ready, what="the gateway being ready")
    await shop.answers(reaching("/basic/one/orders"), what="the API being served")


async def test_a_changed_target_url_is_followed_by_the_next_calls(published: Shop) -> None:
    published.put_api("/basic/two")

    await published.answers(reaching("/basic/two/orders"), what="the new target")


@pytest.mark.parametrize(
    ("kind", "namespace", "wanted"),
    [
        pytest.param("Application", None, not_found, id="a-deleted-application-answers-404"),
        pytest.param(
            "Secret",
            DEFAULT_SECRET_NAMESPACE,
            secret_not_found,
            id="a-deleted-secret-answers-500-secret-not-found",
        ),
    ],
)
async def test_a_deletion_is_followed_by_the_next_calls(
    published: Shop, kind: str, namespace: str | None, wanted: Callable[[httpx.Response], bool]
) -> None:
    published.kube_api.remove_object(kind, NAME, namespace=namespace)

    await published.answers(wanted, what=f"the answer to a deleted {kind}")
