"""Provisioning through the served broker against a real Director over mTLS: a runtime connected for real, in a
formation with the application, the agent's files written for it, and ``compass-broker serve`` offering the
application in a namespace. An instance is the runtime's bundle instance auth at the Director."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from agent.resources import application_resources
from kernel.db import Database
from testing.broker import ServedBroker, start_broker
from testing.control_plane import ClientCredentials, write_agent_state
from tests.broker.conftest import Manifests, mapping
from tests.connector.support import Harness, harness
from tests.director.runtime_formations import Registered, RuntimeInFormation, runtime_in_formation
from tests.fixtures.servers import StartServer

NAMESPACE = "production"
INSTANCE_AUTHS = """
query ($id: ID!) {
  result: application(id: $id) { bundles { data { instanceAuths { id runtimeID context inputParams status { condition } } } } }
}
"""
SET = """
mutation ($id: ID!, $in: BundleInstanceAuthSetInput!) { result: setBundleInstanceAuth(authID: $id, in: $in) { id } }
"""
ISSUED = {"credential": {"basic": {"username": "issued", "password": "per-runtime"}}}
TIER_SCHEMA = json.dumps({"type": "object", "required": ["tier"], "properties": {"tier": {"type": "string"}}})


# One server, runtime and broker for the module: each test offers an application of its own and provisions
# instances of its own.
@pytest.fixture(scope="module")
async def server(
    start_server: StartServer, database: Database, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Harness]:
    async with harness(start_server(), database, tmp_path_factory.mktemp("compass")) as subject:
        yield subject


@pytest.fixture(scope="module")
async def world(server: Harness) -> RuntimeInFormation:
    return await runtime_in_formation(server)


@dataclass
class Runtime:
    """The broker of the connected runtime, and what it offers."""

    world: RuntimeInFormation
    broker: ServedBroker
    manifests: Manifests

    async def offer(self, *, default_auth: bool = False, schema: str | None = None) -> Registered:
        """A new application of the formation, written as the agent writes it and mapped into NAMESPACE."""
        registered = await self.world.application(default_auth=default_auth, schema=schema)
        bundle = {"id": registered.bundle_id, "name": "orders", "instanceAuthRequestInputSchema": schema}
        name = f"shop-{registered.application_id[:8]}"
        self.manifests.put(
            application_resources(
                {"id": registered.application_id, "name": name, "bundles": {"data": [bundle]}}
            )[0]
        )
        self.manifests.put_mapping(mapping(name, NAMESPACE))
        return registered

    async def instance_auths(self, registered: Registered) -> list[dict[str, Any]]:
        answer = await self.world.operator.query(INSTANCE_AUTHS, {"id": registered.application_id})
        return list(answer["result"]["bundles"]["data"][0]["instanceAuths"] or [])


@pytest.fixture(scope="module")
def runtime(
    world: RuntimeInFormation, server: Harness, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runtime]:
    tmp_path = tmp_path_factory.mktemp("runtime")
    credentials = world.runtime.credentials
    agent_state = tmp_path / "agent"
    write_agent_state(
        agent_state,
        ClientCredentials(credentials.chain_file.read_bytes(), credentials.key_file.read_bytes()),
        server.ca.ca_pem.encode(),
        f"{server.server.https_url}/director/graphql",
    )
    manifests = Manifests(tmp_path / "manifests")
    broker = start_broker(
        tmp_path / "broker.log",
        agent_state_dir=str(agent_state),
        manifest_dir=str(manifests.directory),
        state_dir=str(tmp_path / "instances"),
    )
    yield Runtime(world, broker, manifests)
    broker.process.stop()


def request(registered: Registered, **parameters: str) -> dict[str, Any]:
    return {
        "service_id": registered.application_id,
        "plan_id": registered.bundle_id,
        "context": {"platform": "kubernetes", "namespace": NAMESPACE},
        "parameters": parameters or None,
    }


async def test_a_bundle_with_a_default_auth_is_provisioned_at_once_as_the_runtimes_instance_auth(
    runtime: Runtime,
) -> None:
    registered = await runtime.offer(default_auth=True)
    instance = str(uuid.uuid4())

    answer = runtime.broker.provision(NAMESPACE, instance, request(registered))

    assert (answer.status_code, answer.json()) == (201, {})
    [auth] = await runtime.instance_auths(registered)
    assert auth["runtimeID"] == runtime.world.runtime.object_id
    assert json.loads(auth["context"]) == {"namespace": NAMESPACE, "serviceInstanceID": instance}
    assert auth["status"] == {"condition": "SUCCEEDED"}
    assert runtime.broker.last_operation(NAMESPACE, instance).json() == {"state": "succeeded"}


async def test_without_a_default_auth_the_instance_is_in_progress_until_the_application_sets_credentials(
    runtime: Runtime,
) -> None:
    registered = await runtime.offer()
    instance = str(uuid.uuid4())

    answer = runtime.broker.provision(NAMESPACE, instance, request(registered))

    assert answer.status_code == 202
    operation = answer.json()["operation"]
    polled = runtime.broker.last_operation(NAMESPACE, instance, operation=operation)
    assert polled.json()["state"] == "in progress"
    [auth] = await runtime.instance_auths(registered)
    await runtime.world.operator.query(SET, {"id": auth["id"], "in": {"auth": ISSUED}})
    assert runtime.broker.last_operation(NAMESPACE, instance, operation=operation).json() == {
        "state": "succeeded"
    }


async def test_credentials_the_application_reports_as_failed_fail_the_operation_with_its_message(
    runtime: Runtime,
) -> None:
    registered = await runtime.offer()
    instance = str(uuid.uuid4())
    runtime.broker.provision(NAMESPACE, instance, request(registered))
    [auth] = await runtime.instance_auths(registered)

    failed = {"condition": "FAILED", "reason": "NoQuota", "message": "the shop has no quota left"}
    await runtime.world.operator.query(SET, {"id": auth["id"], "in": {"status": failed}})

    polled = runtime.broker.last_operation(NAMESPACE, instance).json()
    assert polled == {"state": "failed", "description": "the shop has no quota left"}


async def test_the_parameters_are_the_instance_auths_input_params(runtime: Runtime) -> None:
    registered = await runtime.offer(default_auth=True, schema=TIER_SCHEMA)

    answer = runtime.broker.provision(NAMESPACE, str(uuid.uuid4()), request(registered, tier="gold"))

    assert answer.status_code == 201
    [auth] = await runtime.instance_auths(registered)
    assert json.loads(auth["inputParams"]) == {"tier": "gold"}


async def test_parameters_the_bundles_schema_refuses_are_a_bad_request_and_nothing_is_kept(
    runtime: Runtime,
) -> None:
    registered = await runtime.offer(default_auth=True, schema=TIER_SCHEMA)
    instance = str(uuid.uuid4())

    answer = runtime.broker.provision(NAMESPACE, instance, request(registered, plan="gold"))

    assert answer.status_code == 400
    assert answer.json()["error"] == "ProvisioningRefused"
    assert await runtime.instance_auths(registered) == []
    assert runtime.broker.last_operation(NAMESPACE, instance).status_code == 404


async def test_an_identical_provision_is_answered_as_the_first_without_asking_again(runtime: Runtime) -> None:
    registered = await runtime.offer(default_auth=True, schema=TIER_SCHEMA)
    instance = str(uuid.uuid4())
    runtime.broker.provision(NAMESPACE, instance, request(registered, tier="gold"))

    again = runtime.broker.provision(NAMESPACE, instance, request(registered, tier="gold"))

    assert (again.status_code, again.json()) == (200, {})
    assert len(await runtime.instance_auths(registered)) == 1


async def test_a_provision_of_an_existing_instance_with_other_parameters_conflicts(runtime: Runtime) -> None:
    registered = await runtime.offer(default_auth=True, schema=TIER_SCHEMA)
    instance = str(uuid.uuid4())
    runtime.broker.provision(NAMESPACE, instance, request(registered, tier="gold"))

    other = runtime.broker.provision(NAMESPACE, instance, request(registered, tier="silver"))

    assert other.status_code == 409
    assert other.json()["error"] == "Conflict"
    assert len(await runtime.instance_auths(registered)) == 1


async def test_deprovisioning_gives_the_instance_auth_back_and_then_the_instance_is_gone(
    runtime: Runtime,
) -> None:
    registered = await runtime.offer(default_auth=True)
    instance = str(uuid.uuid4())
    runtime.broker.provision(NAMESPACE, instance, request(registered))
    ids = {"service_id": registered.application_id, "plan_id": registered.bundle_id}

    deleted = runtime.broker.deprovision(NAMESPACE, instance, **ids)

    assert (deleted.status_code, deleted.json()) == (200, {})
    assert await runtime.instance_auths(registered) == []
    assert runtime.broker.deprovision(NAMESPACE, instance, **ids).status_code == 410


async def test_an_instance_survives_a_restart_of_the_broker(runtime: Runtime) -> None:
    registered = await runtime.offer()
    instance = str(uuid.uuid4())
    operation = runtime.broker.provision(NAMESPACE, instance, request(registered)).json()["operation"]

    runtime.broker.process.stop()
    await runtime.broker.process.restart()

    assert (
        runtime.broker.last_operation(NAMESPACE, instance, operation=operation).json()["state"]
        == "in progress"
    )
    again = runtime.broker.provision(NAMESPACE, instance, request(registered))
    assert (again.status_code, again.json()) == (202, {"operation": operation})


async def test_an_instance_is_not_another_namespaces(runtime: Runtime) -> None:
    registered = await runtime.offer(default_auth=True)
    instance = str(uuid.uuid4())
    runtime.broker.provision(NAMESPACE, instance, request(registered))

    assert runtime.broker.last_operation("staging", instance).status_code == 404
    ids = {"service_id": registered.application_id, "plan_id": registered.bundle_id}
    assert runtime.broker.deprovision("staging", instance, **ids).status_code == 410


async def test_polling_an_operation_the_instance_did_not_have_is_a_bad_request(runtime: Runtime) -> None:
    registered = await runtime.offer()
    instance = str(uuid.uuid4())
    runtime.broker.provision(NAMESPACE, instance, request(registered))

    polled = runtime.broker.last_operation(NAMESPACE, instance, operation="provision-of-another")

    assert polled.status_code == 400
    assert polled.json()["error"] == "UnknownOperation"
