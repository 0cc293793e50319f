"""Binding through the served broker, end to end: a runtime connected for real (``compass-agent sync --once``
writing the directory sink), ``compass-broker serve`` on the agent's state and manifest directories, and
``compass-gateway serve`` in Compass mode on the same manifests, calling the upstream stand-in. One set of servers
for the module; each test offers an application of its own."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kernel.db import Database
from testing.broker import ServedBroker, start_broker
from testing.gateway import ServedGateway, start_gateway
from testing.tls import StandInTLS
from testing.upstream import UpstreamStandIn
from tests.agent.support import Landscape, make_landscape, run_agent
from tests.broker.conftest import Manifests, mapping
from tests.connector.support import Harness, harness
from tests.fixtures.servers import StartServer

NAMESPACE = "production"
BUNDLE_ID = (
    "query ($id: ID!) { result: application(id: $id) { bundles { data { id instanceAuths { id } } } } }"
)
SET = """
mutation ($id: ID!, $in: BundleInstanceAuthSetInput!) { result: setBundleInstanceAuth(authID: $id, in: $in) { id } }
"""
DELETE_AUTH = "mutation ($id: ID!) { result: deleteBundleInstanceAuth(authID: $id) { id } }"
HEADER = ("X-Region", "eu-1")


def basic_auth(username: str, password: str, *, header: bool = False) -> dict[str, Any]:
    auth: dict[str, Any] = {"credential": {"basic": {"username": username, "password": password}}}
    if header:
        auth["additionalHeadersSerialized"] = json.dumps({HEADER[0]: [HEADER[1]]})
    return auth


@dataclass(frozen=True)
class Offered:
    """An application of the runtime's formation, synced by the agent and mapped into NAMESPACE."""

    application_id: str
    bundle_id: str
    name: str  # the Application resource's

    def request(self, **changes: Any) -> dict[str, Any]:
        return {
            "service_id": self.application_id,
            "plan_id": self.bundle_id,
            "context": {"platform": "kubernetes", "namespace": NAMESPACE},
            **changes,
        }

    def ids(self) -> dict[str, str]:
        return {"service_id": self.application_id, "plan_id": self.bundle_id}


@dataclass(frozen=True)
class Bound:
    offered: Offered
    instance: str
    binding: str
    answer: dict[str, Any]  # the bind's


@dataclass
class Runtime:
    landscape: Landscape
    broker: ServedBroker
    gateway: ServedGateway
    target_url: str

    async def offer(self, *, auth: dict[str, Any] | None = None, events: bool = False) -> Offered:
        bundle: dict[str, Any] = {
            "name": "Orders",
            "apiDefinitions": [{"name": "orders api", "targetURL": self.target_url}],
        }
        if auth is not None:
            bundle["defaultInstanceAuth"] = auth
        if events:
            bundle["eventDefinitions"] = [{"name": "order events"}]
        name = f"shop-{uuid.uuid4().hex[:8]}"
        application_id = await self.landscape.application(name, bundles=[bundle])
        answer = await self.landscape.operator.query(BUNDLE_ID, {"id": application_id})
        [registered] = answer["result"]["bundles"]["data"]
        await self.sync()
        resource = self.resource_name(application_id)
        Manifests(self.landscape.manifest_dir).put_mapping(mapping(resource, NAMESPACE))
        return Offered(application_id, str(registered["id"]), resource)

    def resource_name(self, application_id: str) -> str:
        """The name of the Application resource the agent wrote for the application (the Director may have
        normalized it for the runtime)."""
        for path in self.landscape.manifest_dir.glob("application-*.yaml"):
            manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
            if manifest["spec"]["compassMetadata"]["applicationId"] == application_id:
                return str(manifest["metadata"]["name"])
        raise AssertionError(f"the agent wrote no Application for {application_id}")

    async def sync(self) -> None:
        """One sync of the runtime's agent (in this process: a ``compass-agent`` process per test would cost a
        second or two of start-up each; ``served`` connects it through the command)."""
        await self.landscape.run_once()

    async def provisioned(self, offered: Offered) -> str:
        """A new instance of the offered bundle, provisioned (the application's credentials set if needed)."""
        instance = str(uuid.uuid4())
        answer = self.broker.provision(NAMESPACE, instance, offered.request())
        if answer.status_code == 202:
            await self.set_credentials(offered, basic_auth("issued", "per-instance"))
            assert self.broker.last_operation(NAMESPACE, instance).json() == {"state": "succeeded"}
        else:
            assert answer.status_code == 201, answer.text
        return instance

    async def set_credentials(self, offered: Offered, auth: dict[str, Any]) -> None:
        """As the application: ``auth`` for the one instance auth of the bundle."""
        await self.landscape.operator.query(
            SET, {"id": await self.instance_auth_id(offered), "in": {"auth": auth}}
        )

    async def instance_auth_id(self, offered: Offered) -> str:
        answer = await self.landscape.operator.query(BUNDLE_ID, {"id": offered.application_id})
        [auth] = answer["result"]["bundles"]["data"][0]["instanceAuths"]
        return str(auth["id"])

    async def bound(self) -> Bound:
        """A new application with a default auth, an instance of its bundle, and a binding of that instance."""
        offered = await self.offer(auth=basic_auth("shop", "default-secret"))
        instance, binding = await self.provisioned(offered), str(uuid.uuid4())
        answer = self.broker.bind(NAMESPACE, instance, binding, offered.request())
        assert answer.status_code == 201, answer.text
        return Bound(offered, instance, binding, answer.json())

    def api_entry(self, offered: Offered) -> dict[str, Any]:
        """The one API entry the agent wrote into the Application resource."""
        path = self.landscape.manifest_dir / f"application-{offered.name}.yaml"
        [service] = yaml.safe_load(path.read_text(encoding="utf-8"))["spec"]["services"]
        [entry] = [item for item in service["entries"] if item["type"] == "API"]
        return dict(entry)


@pytest.fixture(scope="module")
async def compass(
    backend: str, start_server: StartServer, database: Database, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Harness]:
    if backend != "sqlite":
        # What a bind does at the Director (read an instance auth) runs on both in test_provisioning and the
        # runtime-rights tests; one set of these servers is enough.
        pytest.skip("the binding flow runs on SQLite")
    async with harness(start_server(), database, tmp_path_factory.mktemp("compass")) as subject:
        yield subject


@pytest.fixture(scope="module")
async def landscape(compass: Harness, tmp_path_factory: pytest.TempPathFactory) -> Landscape:
    landscape = await make_landscape(compass, tmp_path_factory.mktemp("runtime"))
    landscape.manifest_dir.mkdir(parents=True)
    return landscape


@pytest.fixture(scope="module")
async def served(
    landscape: Landscape,
    upstream_tls: StandInTLS,
    upstream_stand_in_server: UpstreamStandIn,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Runtime]:
    logs = tmp_path_factory.mktemp("logs")
    gateway = start_gateway(
        landscape.manifest_dir, logs / "gateway.log", trusted_ca_file=str(upstream_tls.ca_file)
    )
    try:
        # The first connection through the command, as a user runs it: the agent's state directory for the broker.
        landscape.overrides["gateway_url"] = gateway.compass_url
        connected = await run_agent(landscape, "sync", "--once", AGENT_GATEWAY_URL=gateway.compass_url)
        assert connected.returncode == 0, connected.stderr
        broker = start_broker(
            logs / "broker.log",
            agent_state_dir=str(landscape.state_dir),
            manifest_dir=str(landscape.manifest_dir),
            state_dir=str(tmp_path_factory.mktemp("broker-state")),
            events_url="http://events.kyma-system.svc:8080",
        )
        try:
            yield Runtime(landscape, broker, gateway, upstream_stand_in_server.http_url + "/basic/api")
        finally:
            broker.process.stop()
    finally:
        gateway.process.stop()


@pytest.fixture
def runtime(served: Runtime, upstream_stand_in: UpstreamStandIn) -> Runtime:
    """The module's servers, the upstream's recordings cleared."""
    return served


def api_prefix(entry: dict[str, Any]) -> str:
    return "ORDERS_API_" + entry["id"].replace("-", "_").upper()


async def test_a_binding_hands_out_the_apis_urls_the_instance_credentials_and_the_events_url(
    runtime: Runtime,
) -> None:
    offered = await runtime.offer(auth=basic_auth("shop", "default-secret", header=True), events=True)
    instance = await runtime.provisioned(offered)

    answer = runtime.broker.bind(NAMESPACE, instance, str(uuid.uuid4()), offered.request())

    assert answer.status_code == 201, answer.text
    entry = runtime.api_entry(offered)
    prefix = api_prefix(entry)
    assert answer.json() == {
        "credentials": {
            "CREDENTIALS_TYPE": "basicauth",
            "CONFIGURATION": {
                "credentials": {"username": "shop", "password": "default-secret"},
                "requestParameters": {"headers": {HEADER[0]: [HEADER[1]]}},
            },
            f"{prefix}_GATEWAY_URL": entry["centralGatewayUrl"],
            f"{prefix}_TARGET_URL": runtime.target_url,
            "GATEWAY_URL": entry["centralGatewayUrl"],
            "EVENTS_URL": f"http://events.kyma-system.svc:8080/{offered.name}/v1/events",
        }
    }


async def test_a_call_to_the_bindings_gateway_url_reaches_the_target_with_the_applications_credentials(
    runtime: Runtime, upstream_stand_in: UpstreamStandIn
) -> None:
    username, password = next(iter(upstream_stand_in.users.items()))
    offered = await runtime.offer(auth=basic_auth(username, password, header=True))
    instance = await runtime.provisioned(offered)
    credentials = runtime.broker.bind(NAMESPACE, instance, str(uuid.uuid4()), offered.request()).json()[
        "credentials"
    ]

    async with httpx.AsyncClient() as client:
        answer = await client.get(credentials["GATEWAY_URL"] + "/orders/1")

    assert answer.status_code == 200, answer.text
    [received] = upstream_stand_in.requests_to("/basic/api/orders/1")
    expected = base64.b64encode(f"{username}:{password}".encode()).decode()
    assert received.header("Authorization") == f"Basic {expected}"
    assert received.header(HEADER[0]) == HEADER[1]


async def test_credentials_the_application_set_for_the_instance_are_the_bindings(runtime: Runtime) -> None:
    offered = await runtime.offer()
    instance = await runtime.provisioned(offered)

    credentials = runtime.broker.bind(NAMESPACE, instance, str(uuid.uuid4()), offered.request()).json()[
        "credentials"
    ]

    assert credentials["CREDENTIALS_TYPE"] == "basicauth"
    assert credentials["CONFIGURATION"] == {"credentials": {"username": "issued", "password": "per-instance"}}


async def test_credentials_renewed_by_the_application_go_to_new_bindings_and_earlier_ones_keep_theirs(
    runtime: Runtime,
) -> None:
    offered = await runtime.offer()
    instance = await runtime.provisioned(offered)
    first = str(uuid.uuid4())
    runtime.broker.bind(NAMESPACE, instance, first, offered.request())

    await runtime.set_credentials(offered, basic_auth("issued", "renewed"))
    renewed = runtime.broker.bind(NAMESPACE, instance, str(uuid.uuid4()), offered.request())

    assert renewed.json()["credentials"]["CONFIGURATION"]["credentials"]["password"] == "renewed"
    kept = runtime.broker.fetch_binding(NAMESPACE, instance, first).json()
    assert kept["credentials"]["CONFIGURATION"]["credentials"]["password"] == "per-instance"


async def test_credentials_the_application_revoked_cannot_be_bound(runtime: Runtime) -> None:
    offered = await runtime.offer()
    instance = await runtime.provisioned(offered)
    failed = {"condition": "FAILED", "reason": "Revoked", "message": "the shop revoked the credentials"}
    await runtime.landscape.operator.query(
        SET, {"id": await runtime.instance_auth_id(offered), "in": {"status": failed}}
    )

    answer = runtime.broker.bind(NAMESPACE, instance, str(uuid.uuid4()), offered.request())

    assert answer.status_code == 400
    assert answer.json()["error"] == "CredentialsUnavailable"
    assert "the shop revoked the credentials" in answer.json()["description"]


async def test_an_identical_bind_is_answered_200_with_the_first_credentials(runtime: Runtime) -> None:
    bound = await runtime.bound()

    again = runtime.broker.bind(NAMESPACE, bound.instance, bound.binding, bound.offered.request())

    assert (again.status_code, again.json()) == (200, bound.answer)


async def test_the_same_binding_id_for_another_instance_conflicts(runtime: Runtime) -> None:
    offered = await runtime.offer(auth=basic_auth("shop", "default-secret"))
    binding = str(uuid.uuid4())
    runtime.broker.bind(NAMESPACE, await runtime.provisioned(offered), binding, offered.request())

    other = runtime.broker.bind(NAMESPACE, await runtime.provisioned(offered), binding, offered.request())

    assert other.status_code == 409
    assert other.json()["error"] == "Conflict"


async def test_concurrent_binds_of_one_id_on_two_instances_answer_201_once(runtime: Runtime) -> None:
    offered = await runtime.offer(auth=basic_auth("shop", "default-secret"))
    instances, binding = (
        [await runtime.provisioned(offered), await runtime.provisioned(offered)],
        str(uuid.uuid4()),
    )

    answers = await asyncio.gather(
        *(
            asyncio.to_thread(runtime.broker.bind, NAMESPACE, instance, binding, offered.request())
            for instance in instances
        )
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses in ([201, 409], [201, 422]), [answer.text for answer in answers]


async def test_binding_an_instance_the_broker_does_not_have_is_a_bad_request(runtime: Runtime) -> None:
    offered = await runtime.offer(auth=basic_auth("shop", "default-secret"))

    answer = runtime.broker.bind(NAMESPACE, str(uuid.uuid4()), str(uuid.uuid4()), offered.request())

    assert answer.status_code == 400
    assert answer.json()["error"] == "UnknownInstance"


async def test_binding_an_instance_as_another_service_or_plan_is_a_bad_request(runtime: Runtime) -> None:
    offered = await runtime.offer(auth=basic_auth("shop", "default-secret"))
    other = await runtime.offer(auth=basic_auth("shop", "default-secret"))
    instance = await runtime.provisioned(offered)

    as_other_service = runtime.broker.bind(NAMESPACE, instance, str(uuid.uuid4()), other.request())
    as_other_plan = runtime.broker.bind(
        NAMESPACE, instance, str(uuid.uuid4()), offered.request(plan_id=other.bundle_id)
    )

    assert (as_other_service.status_code, as_other_service.json()["error"]) == (400, "MalformedRequest")
    assert (as_other_plan.status_code, as_other_plan.json()["error"]) == (400, "MalformedRequest")


async def test_binding_a_service_no_longer_offered_in_the_namespace_is_a_bad_request(
    runtime: Runtime,
) -> None:
    offered = await runtime.offer(auth=basic_auth("shop", "default-secret"))
    instance = await runtime.provisioned(offered)
    (runtime.landscape.manifest_dir / f"applicationmapping-{NAMESPACE}-{offered.name}.yaml").unlink()

    answer = runtime.broker.bind(NAMESPACE, instance, str(uuid.uuid4()), offered.request())

    assert (answer.status_code, answer.json()["error"]) == (400, "UnknownService")


async def test_binding_while_the_instance_is_being_provisioned_is_a_concurrency_error(
    runtime: Runtime,
) -> None:
    offered = await runtime.offer()
    instance = str(uuid.uuid4())
    assert runtime.broker.provision(NAMESPACE, instance, offered.request()).status_code == 202

    answer = runtime.broker.bind(NAMESPACE, instance, str(uuid.uuid4()), offered.request())

    assert (answer.status_code, answer.json()["error"]) == (422, "ConcurrencyError")


async def test_a_binding_takes_no_parameters(runtime: Runtime) -> None:
    offered = await runtime.offer(auth=basic_auth("shop", "default-secret"))
    instance = await runtime.provisioned(offered)

    answer = runtime.broker.bind(NAMESPACE, instance, str(uuid.uuid4()), offered.request(parameters={"a": 1}))

    assert (answer.status_code, answer.json()["error"]) == (400, "MalformedRequest")


async def test_a_binding_is_fetched_with_its_credentials_and_an_unknown_one_is_not_found(
    runtime: Runtime,
) -> None:
    bound = await runtime.bound()

    fetched = runtime.broker.fetch_binding(NAMESPACE, bound.instance, bound.binding, **bound.offered.ids())
    unknown = runtime.broker.fetch_binding(NAMESPACE, bound.instance, str(uuid.uuid4()))

    assert (fetched.status_code, fetched.json()) == (200, bound.answer)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "NotFound")


async def test_unbinding_forgets_the_binding_and_then_it_is_gone(runtime: Runtime) -> None:
    bound = await runtime.bound()
    ids = bound.offered.ids()

    unbound = runtime.broker.unbind(NAMESPACE, bound.instance, bound.binding, **ids)

    assert (unbound.status_code, unbound.json()) == (200, {})
    assert runtime.broker.fetch_binding(NAMESPACE, bound.instance, bound.binding).status_code == 404
    again = runtime.broker.unbind(NAMESPACE, bound.instance, bound.binding, **ids)
    assert (again.status_code, again.json()["error"]) == (410, "Gone")


async def test_deprovisioning_removes_the_instance_auth_at_the_director_and_forgets_the_bindings(
    runtime: Runtime,
) -> None:
    bound = await runtime.bound()

    deleted = runtime.broker.deprovision(NAMESPACE, bound.instance, **bound.offered.ids())

    assert (deleted.status_code, deleted.json()) == (200, {})
    answer = await runtime.landscape.operator.query(BUNDLE_ID, {"id": bound.offered.application_id})
    assert not answer["result"]["bundles"]["data"][0]["instanceAuths"]
    assert runtime.broker.fetch_binding(NAMESPACE, bound.instance, bound.binding).status_code == 404


async def test_a_binding_survives_a_restart_of_the_broker(runtime: Runtime) -> None:
    bound = await runtime.bound()

    runtime.broker.process.stop()
    await runtime.broker.process.restart()

    assert runtime.broker.fetch_binding(NAMESPACE, bound.instance, bound.binding).json() == bound.answer


async def answer_lost(runtime: Runtime, instance: str) -> None:
    """The broker restarted with the instance as a broker whose request's answer was lost keeps it: in progress,
    without the instance auth's id."""
    runtime.broker.process.stop()
    path = Path(runtime.broker.process.env["BROKER_STATE_DIR"]) / (
        f"instance-{hashlib.sha256(instance.encode()).hexdigest()}.json"
    )
    record = json.loads(path.read_bytes())
    path.write_text(json.dumps({**record, "auth_id": None, "state": "in progress"}))
    await runtime.broker.process.restart()


async def test_an_instance_whose_answer_was_lost_adopts_its_instance_auth_by_its_context(
    runtime: Runtime,
) -> None:
    offered = await runtime.offer()
    instance = str(uuid.uuid4())
    assert runtime.broker.provision(NAMESPACE, instance, offered.request()).status_code == 202
    await answer_lost(runtime, instance)

    pending = runtime.broker.last_operation(NAMESPACE, instance).json()
    await runtime.set_credentials(offered, basic_auth("issued", "per-instance"))

    assert pending["state"] == "in progress"
    assert runtime.broker.last_operation(NAMESPACE, instance).json() == {"state": "succeeded"}
    bound = runtime.broker.bind(NAMESPACE, instance, str(uuid.uuid4()), offered.request())
    assert bound.json()["credentials"]["CONFIGURATION"]["credentials"]["username"] == "issued"


async def test_deprovisioning_an_instance_whose_answer_was_lost_deletes_its_instance_auth(
    runtime: Runtime,
) -> None:
    offered = await runtime.offer()
    instance = str(uuid.uuid4())
    assert runtime.broker.provision(NAMESPACE, instance, offered.request()).status_code == 202
    await answer_lost(runtime, instance)

    deleted = runtime.broker.deprovision(NAMESPACE, instance, **offered.ids())

    assert (deleted.status_code, deleted.json()) == (200, {})
    answer = await runtime.landscape.operator.query(BUNDLE_ID, {"id": offered.application_id})
    assert not answer["result"]["bundles"]["data"][0]["instanceAuths"]


async def test_an_instance_whose_answer_was_lost_fails_when_the_director_made_no_instance_auth(
    runtime: Runtime,
) -> None:
    offered = await runtime.offer()
    instance = str(uuid.uuid4())
    assert runtime.broker.provision(NAMESPACE, instance, offered.request()).status_code == 202
    # The Director's instance auth gone behind the broker's back (as if it had never been made).
    await runtime.landscape.operator.query(DELETE_AUTH, {"id": await runtime.instance_auth_id(offered)})
    await answer_lost(runtime, instance)

    answer = runtime.broker.last_operation(NAMESPACE, instance).json()

    assert answer["state"] == "failed"
    assert "has no credentials" in answer["description"]
