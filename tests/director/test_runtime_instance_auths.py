"""A runtime asks for, reads and gives back credentials of its formations' bundles with its own certificate
(Compass's runtime consumer of requestBundleInstanceAuthCreation), exactly that far."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kernel.db import Database
from tests.connector.support import Harness, harness
from tests.director.runtime_formations import RuntimeInFormation, runtime_in_formation
from tests.fixtures.servers import StartServer

REQUEST = """
mutation ($bundle: ID!, $in: BundleInstanceAuthRequestInput!) {
  result: requestBundleInstanceAuthCreation(bundleID: $bundle, in: $in) {
    id runtimeID context inputParams status { condition reason }
    auth { credential { ... on BasicCredentialData { username password } } }
  }
}
"""
READ = """
query ($id: ID!) {
  result: bundleInstanceAuth(id: $id) {
    id runtimeID status { condition } auth { credential { ... on BasicCredentialData { username password } } }
  }
}
"""
BUNDLE_OF = "query ($id: ID!) { result: bundleByInstanceAuth(authID: $id) { id } }"
DELETE = "mutation ($id: ID!) { result: requestBundleInstanceAuthDeletion(authID: $id) { id status { condition } } }"
SET = """
mutation ($id: ID!, $in: BundleInstanceAuthSetInput!) { result: setBundleInstanceAuth(authID: $id, in: $in) { id } }
"""
VIEW = """
query ($runtime: ID!) {
  result: applicationsForRuntime(runtimeID: $runtime) {
    data { id bundles { data { id instanceAuths { id status { condition } } } } }
  }
}
"""
OPERATORS_VIEW = "query ($id: ID!) { result: bundleInstanceAuth(id: $id) { id status { condition } } }"
ISSUED = {"credential": {"basic": {"username": "issued", "password": "per-runtime"}}}


@pytest.fixture
async def server(start_server: StartServer, database: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(start_server(), database, tmp_path) as subject:
        yield subject


@pytest.fixture
async def world(server: Harness) -> RuntimeInFormation:
    return await runtime_in_formation(server)


async def requested(world: RuntimeInFormation, bundle_id: str, **given: str) -> dict[str, object]:
    return dict((await world.as_runtime(REQUEST, {"bundle": bundle_id, "in": given})).result)


async def test_a_runtime_gets_the_default_auth_of_a_bundle_in_its_formation_at_once(world: RuntimeInFormation) -> None:
    # given
    registered = await world.application(default_auth=True)
    # when
    auth = await requested(world, registered.bundle_id, context='{"namespace": "shop"}')
    # then
    assert auth["status"] == {"condition": "SUCCEEDED", "reason": "CredentialsProvided"}
    assert auth["auth"] == {"credential": {"username": "shop", "password": "default-secret"}}
    assert auth["context"] == '{"namespace": "shop"}'


async def test_the_instance_auth_is_the_requesting_runtimes(world: RuntimeInFormation) -> None:
    registered = await world.application()

    auth = await requested(world, registered.bundle_id)

    assert auth["runtimeID"] == world.runtime.object_id


async def test_without_a_default_auth_the_runtimes_request_is_pending(world: RuntimeInFormation) -> None:
    registered = await world.application()

    auth = await requested(world, registered.bundle_id)

    assert auth["status"] == {"condition": "PENDING", "reason": "CredentialsNotProvided"}
    assert auth["auth"] is None


async def test_the_runtimes_input_params_are_checked_against_the_bundles_schema(world: RuntimeInFormation) -> None:
    schema = json.dumps({"type": "object", "required": ["plan"], "properties": {"plan": {"type": "string"}}})
    registered = await world.application(schema=schema)

    wrong = await world.as_runtime(REQUEST, {"bundle": registered.bundle_id, "in": {"inputParams": '{"plan": 1}'}})
    right = await requested(world, registered.bundle_id, inputParams='{"plan": "gold"}')

    assert wrong.codes == ["INVALID_INPUT"]
    assert right["inputParams"] == '{"plan": "gold"}'


async def test_a_runtime_may_not_choose_the_instance_auths_id(world: RuntimeInFormation) -> None:
    registered = await world.application()

    answer = await world.as_runtime(REQUEST, {"bundle": registered.bundle_id, "in": {"id": str(uuid.uuid4())}})

    assert answer.codes == ["INVALID_INPUT"]


async def test_a_bundle_outside_the_runtimes_formations_is_forbidden(world: RuntimeInFormation) -> None:
    # given: an application of the tenant in no formation
    outside = await world.application(in_formation=False)
    # when
    answer = await world.as_runtime(REQUEST, {"bundle": outside.bundle_id, "in": {}})
    # then
    assert answer.codes == ["FORBIDDEN"]
    assert answer.body["data"] is None


async def test_another_tenants_bundle_is_refused_as_a_missing_one_is(world: RuntimeInFormation) -> None:
    # given: a bundle of another tenant's application, in a formation of the same name
    stranger = await world.server.operator()
    await stranger.query("mutation ($name: String!) { createFormation(formation: {name: $name}) { id } }",
                         {"name": world.formation})  # fmt: skip
    theirs = await world.application(operator=stranger)
    missing_id = str(uuid.uuid4())
    # when
    foreign = await world.as_runtime(REQUEST, {"bundle": theirs.bundle_id, "in": {}})
    missing = await world.as_runtime(REQUEST, {"bundle": missing_id, "in": {}})
    # then: the same refusal, ids aside
    assert foreign.codes == missing.codes == ["FORBIDDEN"]
    assert foreign.messages[0].replace(theirs.bundle_id, "<id>") == missing.messages[0].replace(missing_id, "<id>")


async def test_a_runtime_reads_its_own_instance_auth(world: RuntimeInFormation) -> None:
    registered = await world.application(default_auth=True)
    auth = await requested(world, registered.bundle_id)

    read = (await world.as_runtime(READ, {"id": auth["id"]})).result
    bundle = (await world.as_runtime(BUNDLE_OF, {"id": auth["id"]})).result

    assert read["runtimeID"] == world.runtime.object_id
    assert read["auth"] == {"credential": {"username": "shop", "password": "default-secret"}}
    assert bundle == {"id": registered.bundle_id}


async def test_another_runtimes_instance_auth_is_neither_read_nor_deleted(world: RuntimeInFormation) -> None:
    # given: a second runtime of the same formation with an instance auth of its own
    registered = await world.application()
    other = await world.server.connect_runtime(world.operator, scenarios=[world.formation])
    other_client = world.server.mtls(other.credentials)
    theirs = (await world.server.director(other_client, REQUEST, {"bundle": registered.bundle_id, "in": {}})).result
    # when
    read = await world.as_runtime(READ, {"id": theirs["id"]})
    deleted = await world.as_runtime(DELETE, {"id": theirs["id"]})
    # then
    assert read.codes == deleted.codes == ["FORBIDDEN"]
    assert (await world.operator.query(OPERATORS_VIEW, {"id": theirs["id"]}))["result"]["id"] == theirs["id"]


async def test_an_operators_instance_auth_is_not_a_runtimes_to_delete(world: RuntimeInFormation) -> None:
    registered = await world.application()
    operators = (await world.operator.query(REQUEST, {"bundle": registered.bundle_id, "in": {}}))["result"]

    deleted = await world.as_runtime(DELETE, {"id": operators["id"]})

    assert operators["runtimeID"] is None
    assert deleted.codes == ["FORBIDDEN"]


async def test_a_runtime_deletes_its_own_instance_auth(world: RuntimeInFormation) -> None:
    # given
    registered = await world.application(default_auth=True)
    auth = await requested(world, registered.bundle_id)
    # when
    deleted = (await world.as_runtime(DELETE, {"id": auth["id"]})).result
    # then
    assert deleted["id"] == auth["id"]
    assert (await world.operator.query(OPERATORS_VIEW, {"id": auth["id"]}))["result"] is None


async def test_credentials_the_application_sets_are_then_the_runtimes_to_read(world: RuntimeInFormation) -> None:
    # given: a pending request of the runtime
    registered = await world.application()
    auth = await requested(world, registered.bundle_id)
    # when: the application (here its operator) sets the credentials
    await world.operator.query(SET, {"id": auth["id"], "in": {"auth": ISSUED}})
    # then
    read = (await world.as_runtime(READ, {"id": auth["id"]})).result
    assert read["status"] == {"condition": "SUCCEEDED"}
    assert read["auth"] == {"credential": {"username": "issued", "password": "per-runtime"}}


async def test_the_runtimes_polled_view_shows_its_new_instance_auth_at_once(world: RuntimeInFormation) -> None:
    """The agent polls its view with the ETag: the runtime's own write must change it."""
    # given: the runtime's view and its ETag
    registered = await world.application()
    variables = {"runtime": world.runtime.object_id}
    first = await world.client.post("/director/graphql", json={"query": VIEW, "variables": variables})
    etag = first.headers["etag"]
    # when
    auth = await requested(world, registered.bundle_id)
    # then
    again = await world.client.post(
        "/director/graphql", json={"query": VIEW, "variables": variables}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 200
    [application] = again.json()["data"]["result"]["data"]
    assert application["bundles"]["data"][0]["instanceAuths"] == [{"id": auth["id"], "status": {"condition": "PENDING"}}]


async def test_the_runtimes_polled_view_loses_the_instance_auth_it_deleted_at_once(world: RuntimeInFormation) -> None:
    # given: the runtime's view with its instance auth, and its ETag
    registered = await world.application(default_auth=True)
    auth = await requested(world, registered.bundle_id)
    variables = {"runtime": world.runtime.object_id}
    first = await world.client.post("/director/graphql", json={"query": VIEW, "variables": variables})
    etag = first.headers["etag"]
    # when
    await world.as_runtime(DELETE, {"id": auth["id"]})
    # then
    again = await world.client.post(
        "/director/graphql", json={"query": VIEW, "variables": variables}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 200
    [application] = again.json()["data"]["result"]["data"]
    assert application["bundles"]["data"][0]["instanceAuths"] == []
