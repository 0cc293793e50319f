"""A runtime asks for a one-time token of an application in its formations (pycompass's own operation behind a
TokenRequest), and for no other."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from kernel.db import Database
from tests.connector.support import Harness, harness
from tests.director.runtime_formations import RuntimeInFormation, runtime_in_formation
from tests.fixtures.servers import StartServer

TOKEN_FIELDS = "token connectorURL legacyConnectorURL expiresAt createdAt used type scenarioGroups"
FROM_RUNTIME = (
    "mutation ($id: ID!) { result: requestOneTimeTokenForApplicationFromRuntime(id: $id) { %s } }" % TOKEN_FIELDS
)
FOR_APPLICATION = "mutation ($id: ID!) { result: requestOneTimeTokenForApplication(id: $id) { %s } }" % TOKEN_FIELDS
VIEWER = "query { result: viewer { id type } }"
AUTHS = "query ($id: ID!) { result: application(id: $id) { auths { id } } }"


@pytest.fixture
async def server(start_server: StartServer, database: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(start_server(), database, tmp_path) as subject:
        yield subject


@pytest.fixture
async def world(server: Harness) -> RuntimeInFormation:
    return await runtime_in_formation(server)


def lifetime(token: dict[str, str]) -> float:
    return (datetime.fromisoformat(token["expiresAt"]) - datetime.fromisoformat(token["createdAt"])).total_seconds()


async def test_a_runtime_gets_a_token_for_an_application_in_its_formation_as_an_operator_would(
    world: RuntimeInFormation,
) -> None:
    # given
    registered = await world.application()
    operators = (await world.operator.query(FOR_APPLICATION, {"id": registered.application_id}))["result"]
    # when
    token = (await world.as_runtime(FROM_RUNTIME, {"id": registered.application_id})).result
    # then
    assert token["token"] and token["token"] != operators["token"]
    assert token["connectorURL"] == operators["connectorURL"]
    assert token["legacyConnectorURL"].startswith(operators["legacyConnectorURL"].split("?")[0])
    assert lifetime(token) == lifetime(operators)
    assert (token["type"], token["used"], token["scenarioGroups"]) == ("Application", False, [])


async def test_the_runtimes_token_connects_the_application_at_the_connector(world: RuntimeInFormation) -> None:
    # given
    registered = await world.application()
    token = (await world.as_runtime(FROM_RUNTIME, {"id": registered.application_id})).result["token"]
    # when
    connected = await world.server.connect(registered.application_id, token)
    # then
    viewer = await world.server.director(world.server.mtls(connected.credentials), VIEWER)
    assert viewer.result == {"id": registered.application_id, "type": "APPLICATION"}


async def test_each_token_is_for_a_new_system_auth_of_the_application(world: RuntimeInFormation) -> None:
    registered = await world.application()

    await world.as_runtime(FROM_RUNTIME, {"id": registered.application_id})
    await world.as_runtime(FROM_RUNTIME, {"id": registered.application_id})

    auths = (await world.operator.query(AUTHS, {"id": registered.application_id}))["result"]["auths"]
    assert len(auths) == 2


async def test_the_operators_scenario_groups_header_is_not_the_runtimes(world: RuntimeInFormation) -> None:
    registered = await world.application()

    response = await world.client.post(
        "/director/graphql",
        json={"query": FROM_RUNTIME, "variables": {"id": registered.application_id}},
        headers={"scenario_groups": "admins"},
    )

    assert response.json()["data"]["result"]["scenarioGroups"] == []


async def test_an_application_outside_the_runtimes_formations_is_forbidden(world: RuntimeInFormation) -> None:
    outside = await world.application(in_formation=False)

    answer = await world.as_runtime(FROM_RUNTIME, {"id": outside.application_id})

    assert answer.codes == ["FORBIDDEN"]
    assert answer.body["data"] is None


async def test_another_tenants_application_is_refused_as_a_missing_one_is(world: RuntimeInFormation) -> None:
    # given: another tenant's application in a formation of the same name
    stranger = await world.server.operator()
    await stranger.query("mutation ($name: String!) { createFormation(formation: {name: $name}) { id } }",
                         {"name": world.formation})  # fmt: skip
    theirs = await world.application(operator=stranger)
    missing_id = str(uuid.uuid4())
    # when
    foreign = await world.as_runtime(FROM_RUNTIME, {"id": theirs.application_id})
    missing = await world.as_runtime(FROM_RUNTIME, {"id": missing_id})
    # then: the same refusal, ids aside
    assert foreign.codes == missing.codes == ["FORBIDDEN"]
    assert foreign.messages[0].replace(theirs.application_id, "<id>") == missing.messages[0].replace(missing_id, "<id>")


async def test_an_operator_uses_its_own_operation_instead(world: RuntimeInFormation) -> None:
    registered = await world.application()

    codes = await world.operator.error_codes(FROM_RUNTIME, {"id": registered.application_id})

    assert codes == ["FORBIDDEN"]


async def test_an_applications_certificate_cannot_ask_for_a_token(world: RuntimeInFormation) -> None:
    # given: a connected application of the formation
    registered = await world.application()
    token = (await world.operator.query(FOR_APPLICATION, {"id": registered.application_id}))["result"]["token"]
    application = await world.server.connect(registered.application_id, token)
    # when
    answer = await world.server.director(
        world.server.mtls(application.credentials), FROM_RUNTIME, {"id": registered.application_id}
    )
    # then
    assert answer.codes == ["FORBIDDEN"]
