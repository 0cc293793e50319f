"""The Application Gateway end to end, from the Director: an application registered through the Director's
GraphQL, written by ``compass-agent sync --once`` into a manifest directory, and called through the gateway
at the ``centralGatewayUrl`` the agent wrote, taken as it is."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from testing.gateway import ServedGateway
from testing.upstream import UpstreamStandIn
from tests.agent.support import Landscape, run_agent
from tests.fixtures.gateway import StartGateway

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


@dataclass
class Runtime:
    """The operator's Director, the runtime's agent writing into ``manifest_dir``, and the gateway reading it."""

    landscape: Landscape
    gateway: ServedGateway
    manifest_dir: Path

    async def register(self, target_url: str, username: str, password: str) -> str:
        """An application of the runtime's formation with one bundle calling ``target_url``; its bundle's id."""
        bundle = {
            "name": BUNDLE,
            "defaultInstanceAuth": default_instance_auth(username, password),
            "apiDefinitions": [{"name": API, "targetURL": target_url}],
        }
        application_id = await self.landscape.application(bundles=[bundle])
        answer = await self.landscape.operator.query(APPLICATION_BUNDLES, {"id": application_id})
        [registered] = answer["result"]["bundles"]["data"]
        return str(registered["id"])

    async def change_credentials(self, bundle_id: str, username: str, password: str) -> None:
        bundle = {"name": BUNDLE, "defaultInstanceAuth": default_instance_auth(username, password)}
        await self.landscape.operator.query(UPDATE_BUNDLE, {"id": bundle_id, "in": bundle})

    async def sync(self) -> None:
        done = await run_agent(
            self.landscape,
            "sync",
            "--once",
            AGENT_MANIFEST_DIR=str(self.manifest_dir),
            AGENT_GATEWAY_URL=self.gateway.compass_url,
        )
        assert done.returncode == 0, done.stderr

    def central_gateway_url(self) -> str:
        """The one API entry's URL in the one Application manifest the agent wrote."""
        [path] = self.manifest_dir.glob("application-*.yaml")
        [service] = yaml.safe_load(path.read_text(encoding="utf-8"))["spec"]["services"]
        [entry] = [item for item in service["entries"] if item["type"] == "API"]
        return str(entry["centralGatewayUrl"])

    async def call(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.get(self.central_gateway_url() + path)


@pytest.fixture
def runtime(landscape: Landscape, gateway_factory: StartGateway, tmp_path: Path) -> Runtime:
    manifest_dir = tmp_path / "runtime-manifests"
    manifest_dir.mkdir()
    return Runtime(landscape, gateway_factory(manifest_dir=manifest_dir), manifest_dir)


async def test_an_api_registered_in_the_director_is_called_through_the_url_the_agent_wrote(
    runtime: Runtime, upstream_stand_in: UpstreamStandIn
) -> None:
    # given
    username, password = next(iter(upstream_stand_in.users.items()))
    await runtime.register(upstream_stand_in.http_url + "/basic/api", username, password)
    await runtime.sync()

    # when
    answer = await runtime.call("/orders/1")

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
    bundle_id = await runtime.register(upstream_stand_in.http_url + "/basic/api", "before", "old-password")
    await runtime.sync()
    assert (await runtime.call("/orders/1")).status_code == 200

    # when
    await runtime.change_credentials(bundle_id, "after", "new-password")
    await runtime.sync()
    answer = await runtime.call("/orders/2")

    # then
    assert answer.status_code == 200, answer.text
    [received] = upstream_stand_in.requests_to("/basic/api/orders/2")
    assert received.header("Authorization") == basic("after", "new-password")
