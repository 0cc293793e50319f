"""The Application Gateway end to end, from the Director: an application registered through the Director's
GraphQL, written by ``compass-agent sync --once`` into a manifest directory, and called through the gateway
at the ``centralGatewayUrl`` the agent wrote, taken as it is."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml

from testing.gateway import ServedGateway, start_gateway
from testing.tls import StandInTLS
from testing.upstream import UpstreamStandIn
from tests.agent.support import Landscape, run_agent

BUNDLE = "Orders"
API = "orders api"
ADDITIONAL_HEADER = ("X-Region", "eu-1")
APPLICATION_BUNDLES = "query ($id: ID!) { result: application(id: $id) { bundles { data { id } } } }"
UPDATE_BUNDLE = (
    "mutation ($id: ID!, $in: BundleUpdateInput!) { result: updateBundle(id: $id, in: $in) { id } }"
)


def default_instance_auth(username: str, password: str) -> dict[str, Any]:
    """Basic credentials and one additional header (a request parameter the gateway adds to every call)."""
    name, value = ADDITIONAL_HEADER
    return {
        "credential": {"basic": {"username": username, "password": password}},
        "additionalHeadersSerialized": json.dumps({name: [value]}),
    }


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@dataclass(frozen=True)
class Registered:
    application_id: str
    bundle_id: str


@dataclass
class Runtime:
    """The operator's Director, the runtime's agent writing into the landscape's manifest directory, and the
    gateway reading it."""

    landscape: Landscape
    gateway: ServedGateway

    async def register(self, target_url: str, username: str, password: str) -> Registered:
        """An application of the runtime's formation with one bundle calling ``target_url``."""
        bundle = {
            "name": BUNDLE,
            "defaultInstanceAuth": default_instance_auth(username, password),
            "apiDefinitions": [{"name": API, "targetURL": target_url}],
        }
        application_id = await self.landscape.application(bundles=[bundle])
        answer = await self.landscape.operator.query(APPLICATION_BUNDLES, {"id": application_id})
        [registered] = answer["result"]["bundles"]["data"]
        return Registered(application_id, str(registered["id"]))

    async def change_credentials(self, bundle_id: str, username: str, password: str) -> None:
        bundle = {"name": BUNDLE, "defaultInstanceAuth": default_instance_auth(username, password)}
        await self.landscape.operator.query(UPDATE_BUNDLE, {"id": bundle_id, "in": bundle})

    async def sync(self) -> None:
        done = await run_agent(
            self.landscape,
            "sync",
            "--once",
            AGENT_GATEWAY_URL=self.gateway.compass_url,
        )
        assert done.returncode == 0, done.stderr

    def central_gateway_url(self, application: Registered) -> str:
        """The one API entry's URL in the Application manifest the agent wrote for ``application``."""
        [manifest] = [
            manifest
            for manifest in map(yaml.safe_load, self.landscape.manifests().values())
            if manifest["spec"]["compassMetadata"]["applicationId"] == application.application_id
        ]
        [service] = manifest["spec"]["services"]
        [entry] = [item for item in service["entries"] if item["type"] == "API"]
        return str(entry["centralGatewayUrl"])

    async def call(self, application: Registered, path: str) -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.get(self.central_gateway_url(application) + path)


@pytest.fixture(scope="module")
def runtime(module_landscape: Landscape, upstream_tls: StandInTLS) -> Iterator[Runtime]:
    """One runtime and gateway per module and backend: each test registers an application of its own."""
    manifest_dir = module_landscape.manifest_dir
    manifest_dir.mkdir(parents=True)
    gateway = start_gateway(
        manifest_dir, manifest_dir.with_name("gateway.log"), trusted_ca_file=str(upstream_tls.ca_file)
    )
    try:
        yield Runtime(module_landscape, gateway)
    finally:
        gateway.process.stop()


async def test_an_api_registered_in_the_director_is_called_through_the_url_the_agent_wrote(
    runtime: Runtime, upstream_stand_in: UpstreamStandIn
) -> None:
    # given
    username, password = next(iter(upstream_stand_in.users.items()))
    application = await runtime.register(upstream_stand_in.http_url + "/basic/api", username, password)
    await runtime.sync()

    # when
    answer = await runtime.call(application, "/orders/1")

    # then
    assert answer.status_code == 200, answer.text
    [received] = upstream_stand_in.requests_to("/basic/api/orders/1")
    assert received.header("Authorization") == basic(username, password)
    assert received.header(ADDITIONAL_HEADER[0]) == ADDITIONAL_HEADER[1]


async def test_credentials_changed_in_the_director_are_used_from_the_next_sync_on(
    runtime: Runtime, upstream_stand_in: UpstreamStandIn
) -> None:
    # given
    upstream_stand_in.users = {"before": "old-password", "after": "new-password"}
    application = await runtime.register(upstream_stand_in.http_url + "/basic/api", "before", "old-password")
    await runtime.sync()
    assert (await runtime.call(application, "/orders/1")).status_code == 200

    # when
    await runtime.change_credentials(application.bundle_id, "after", "new-password")
    await runtime.sync()
    answer = await runtime.call(application, "/orders/2")

    # then
    assert answer.status_code == 200, answer.text
    [received] = upstream_stand_in.requests_to("/basic/api/orders/2")
    assert received.header("Authorization") == basic("after", "new-password")
