"""Runtime contexts: registered on a runtime, listed under it, assigned to formations; and the read-only automatic
scenario assignments, of which pycompass can hold none."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from kernel.db import Database
from kernel.principal import Scope
from testing.statements import count_statements
from tests.connector.support import forwarded_certificate_headers
from tests.support import DIRECTOR, Operator, TenantFactory

REGISTER_RUNTIME = 'mutation { result: registerRuntime(in: {name: "%s"}) { id } }'
REGISTER_APPLICATION = 'mutation { result: registerApplication(in: {name: "%s"}) { id } }'
CREATE_FORMATION = 'mutation { result: createFormation(formation: {name: "%s"}) { name } }'
DELETE_FORMATION = 'mutation { result: deleteFormation(formation: {name: "%s"}) { name } }'
ASSIGN = (
    'mutation { result: assignFormation(objectID: "%s", objectType: %s, formation: {name: "%s"}) { name } }'
)
UNASSIGN = (
    'mutation { result: unassignFormation(objectID: "%s", objectType: %s, formation: {name: "%s"}) { name } }'
)
FORMATION_ASSIGNMENTS = """
query { result: formationByName(name: "%s") { formationAssignments { data { source target } } } }
"""
FORMATIONS_FOR_OBJECT = 'query { result: formationsForObject(objectID: "%s") { name } }'
REGISTER = """
mutation { result: registerRuntimeContext(runtimeID: "%s", in: {key: "%s", value: "%s"}) { id key value labels } }
"""
UPDATE = 'mutation { result: updateRuntimeContext(id: "%s", in: {key: "%s", value: "%s"}) { id key value labels } }'
UNREGISTER = 'mutation { result: unregisterRuntimeContext(id: "%s") { id key value labels } }'
CONTEXTS = """
query { result: runtime(id: "%s") {
  runtimeContexts { data { id key value labels } pageInfo { startCursor endCursor hasNextPage } totalCount }
} }
"""
CONTEXTS_PAGE = """
query { result: runtime(id: "%s") {
  runtimeContexts(first: %d, after: "%s") { data { id } pageInfo { endCursor hasNextPage } totalCount }
} }
"""
CONTEXT = 'query { result: runtime(id: "%s") { runtimeContext(id: "%s") { id key value labels } } }'
CONTEXT_LABEL = 'query { result: runtime(id: "%s") { runtimeContext(id: "%s") { labels(key: "scenarios") } } }'
APPLICATIONS_FOR_RUNTIME = 'query { result: applicationsForRuntime(runtimeID: "%s") { data { name } totalCount } }'
TOKEN = 'mutation { result: requestOneTimeTokenForRuntime(id: "%s") { token } }'
RUNTIMES_WITH_CONTEXTS = """
query { result: runtimes { data { id runtimeContexts { data { id key labels } totalCount } } } }
"""
ASA_FOR_SCENARIO = 'query { result: automaticScenarioAssignmentForScenario(scenarioName: "%s") { scenarioName } }'
ASA_FOR_SELECTOR = """
query { result: automaticScenarioAssignmentsForSelector(selector: {key: "%s", value: "%s"}) {
  scenarioName selector { key value }
} }
"""
ASAS = "query { result: automaticScenarioAssignments { data { scenarioName } totalCount } }"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def runtime_of(operator: Operator) -> str:
    return str((await operator.query(REGISTER_RUNTIME % unique("runtime")))["result"]["id"])


async def context_of(operator: Operator, runtime_id: str, key: str = "subscription", value: str = "tenant") -> str:
    return str((await operator.query(REGISTER % (runtime_id, key, value)))["result"]["id"])


async def assignments_of(operator: Operator, formation: str) -> list[tuple[str, str]]:
    answer = await operator.query(FORMATION_ASSIGNMENTS % formation)
    return [(row["source"], row["target"]) for row in answer["result"]["formationAssignments"]["data"]]


async def formation_of(operator: Operator) -> str:
    return str((await operator.query(CREATE_FORMATION % unique("formation")))["result"]["name"])


# --- register, read, update, unregister ------------------------------------------------------------------


async def test_a_registered_context_answers_its_key_and_value_and_no_labels(operator: Operator) -> None:
    runtime_id = await runtime_of(operator)

    context = (await operator.query(REGISTER % (runtime_id, "subscription", "consumer-tenant")))["result"]

    assert context == {"id": context["id"], "key": "subscription", "value": "consumer-tenant", "labels": {}}


async def test_a_runtime_lists_its_contexts_by_id(operator: Operator) -> None:
    runtime_id = await runtime_of(operator)
    ids = sorted([await context_of(operator, runtime_id, "first"), await context_of(operator, runtime_id, "second")])
    await context_of(operator, await runtime_of(operator), "elsewhere")

    page = (await operator.query(CONTEXTS % runtime_id))["result"]["runtimeContexts"]

    assert [context["id"] for context in page["data"]] == ids
    assert page["totalCount"] == 2
    assert page["pageInfo"] == {"startCursor": page["pageInfo"]["startCursor"], "endCursor": "", "hasNextPage": False}


async def test_a_runtime_pages_its_contexts(operator: Operator) -> None:
    runtime_id = await runtime_of(operator)
    ids = sorted([await context_of(operator, runtime_id, key) for key in ("a", "b", "c")])
    first = (await operator.query(CONTEXTS_PAGE % (runtime_id, 2, "")))["result"]["runtimeContexts"]

    rest = (await operator.query(CONTEXTS_PAGE % (runtime_id, 2, first["pageInfo"]["endCursor"])))["result"]

    assert [context["id"] for context in first["data"]] == ids[:2]
    assert first["pageInfo"]["hasNextPage"]
    assert rest["runtimeContexts"] == {
        "data": [{"id": ids[2]}], "pageInfo": {"endCursor": "", "hasNextPage": False}, "totalCount": 3
    }


async def test_a_runtime_answers_one_of_its_contexts_by_id(operator: Operator) -> None:
    runtime_id = await runtime_of(operator)
    context_id = await context_of(operator, runtime_id, "subscription", "t1")

    answer = (await operator.query(CONTEXT % (runtime_id, context_id)))["result"]["runtimeContext"]

    assert answer == {"id": context_id, "key": "subscription", "value": "t1", "labels": {}}


async def test_a_runtime_answers_null_for_another_runtimes_context(operator: Operator) -> None:
    runtime_id = await runtime_of(operator)
    other_context = await context_of(operator, await runtime_of(operator))

    answer = (await operator.query(CONTEXT % (runtime_id, other_context)))["result"]

    assert answer == {"runtimeContext": None}


async def test_update_replaces_key_and_value(operator: Operator) -> None:
    runtime_id = await runtime_of(operator)
    context_id = await context_of(operator, runtime_id, "before", "old")

    updated = (await operator.query(UPDATE % (context_id, "after", "new")))["result"]

    assert updated == {"id": context_id, "key": "after", "value": "new", "labels": {}}
    assert (await operator.query(CONTEXT % (runtime_id, context_id)))["result"]["runtimeContext"] == updated


async def test_unregister_answers_the_context_without_labels_and_deletes_it(operator: Operator) -> None:
    """Compass reads a deleted context's labels as null."""
    runtime_id = await runtime_of(operator)
    context_id = await context_of(operator, runtime_id, "gone", "soon")

    deleted = (await operator.query(UNREGISTER % context_id))["result"]

    assert deleted == {"id": context_id, "key": "gone", "value": "soon", "labels": None}
    assert (await operator.query(CONTEXTS % runtime_id))["result"]["runtimeContexts"]["totalCount"] == 0


async def test_unregistering_a_runtime_deletes_its_contexts_out_of_their_formations(operator: Operator) -> None:
    runtime_id = await runtime_of(operator)
    context_id = await context_of(operator, runtime_id)
    formation = await formation_of(operator)
    await operator.query(ASSIGN % (context_id, "RUNTIME_CONTEXT", formation))
    assert await assignments_of(operator, formation) == [(context_id, context_id)]

    await operator.query('mutation { result: unregisterRuntime(id: "%s") { id } }' % runtime_id)

    assert await operator.error_codes(UPDATE % (context_id, "k", "v")) == ["NOT_FOUND"]
    assert await assignments_of(operator, formation) == []
    assert (await operator.query(DELETE_FORMATION % formation))["result"] == {"name": formation}


# --- refusals ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "with-dash", "inv@lid", "k" * 513], ids=["empty", "dash", "at", "too-long"])
async def test_a_key_other_than_1_to_512_letters_digits_or_underscores_is_invalid(operator: Operator, key: str) -> None:
    runtime_id = await runtime_of(operator)

    assert await operator.error_codes(REGISTER % (runtime_id, key, "v")) == ["INVALID_INPUT"]


async def test_a_value_over_512_characters_is_invalid(operator: Operator) -> None:
    context_id = await context_of(operator, await runtime_of(operator))

    assert await operator.error_codes(UPDATE % (context_id, "key", "v" * 513)) == ["INVALID_INPUT"]


async def test_a_key_of_512_and_an_empty_value_are_accepted(operator: Operator) -> None:
    runtime_id = await runtime_of(operator)

    context = (await operator.query(REGISTER % (runtime_id, "K_9" * 170 + "ab", "")))["result"]

    assert (len(context["key"]), context["value"]) == (512, "")


async def test_a_missing_runtime_or_context_is_not_found(operator: Operator) -> None:
    missing = str(uuid.uuid4())

    assert await operator.error_codes(REGISTER % (missing, "k", "v")) == ["NOT_FOUND"]
    assert await operator.error_codes(UPDATE % (missing, "k", "v")) == ["NOT_FOUND"]
    assert await operator.error_codes(UNREGISTER % missing) == ["NOT_FOUND"]


async def test_writing_contexts_needs_runtime_write(operator: Operator, tenants: TenantFactory) -> None:
    runtime_id = await runtime_of(operator)
    context_id = await context_of(operator, runtime_id)
    reader = await tenants.operator(scopes=[Scope.RUNTIME_READ], tenant_id=operator.tenant_id)

    codes = [
        await reader.error_codes(REGISTER % (runtime_id, "k", "v")),
        await reader.error_codes(UPDATE % (context_id, "k", "v")),
        await reader.error_codes(UNREGISTER % context_id),
    ]

    assert codes == [["FORBIDDEN"]] * 3
    assert (await reader.query(CONTEXT % (runtime_id, context_id)))["result"]["runtimeContext"]["id"] == context_id


async def test_another_tenants_contexts_answer_like_missing_ones(operator: Operator, tenants: TenantFactory) -> None:
    runtime_id = await runtime_of(operator)
    context_id = await context_of(operator, runtime_id)
    intruder = await tenants.operator()

    codes = [
        await intruder.error_codes(REGISTER % (runtime_id, "k", "v")),
        await intruder.error_codes(UPDATE % (context_id, "k", "v")),
        await intruder.error_codes(UNREGISTER % context_id),
        await intruder.error_codes(ASSIGN % (context_id, "RUNTIME_CONTEXT", "DEFAULT")),
    ]

    assert codes == [["NOT_FOUND"]] * 4
    assert (await intruder.query(FORMATIONS_FOR_OBJECT % context_id))["result"] == []
    kept = (await operator.query(CONTEXTS % runtime_id))["result"]["runtimeContexts"]["data"]
    assert [context["key"] for context in kept] == ["subscription"]


# --- formations ------------------------------------------------------------------------------------------------


async def test_an_assigned_context_is_labelled_with_its_formation(operator: Operator) -> None:
    runtime_id = await runtime_of(operator)
    context_id = await context_of(operator, runtime_id)
    formation = await formation_of(operator)

    await operator.query(ASSIGN % (context_id, "RUNTIME_CONTEXT", formation))

    labels = (await operator.query(CONTEXT_LABEL % (runtime_id, context_id)))["result"]["runtimeContext"]["labels"]
    assert labels == {"scenarios": [formation]}
    assert (await operator.query(FORMATIONS_FOR_OBJECT % context_id))["result"] == [{"name": formation}]


async def test_an_unassigned_context_loses_the_formation(operator: Operator) -> None:
    runtime_id = await runtime_of(operator)
    context_id = await context_of(operator, runtime_id)
    formation = await formation_of(operator)
    await operator.query(ASSIGN % (context_id, "RUNTIME_CONTEXT", formation))

    await operator.query(UNASSIGN % (context_id, "RUNTIME_CONTEXT", formation))

    assert (await operator.query(CONTEXT % (runtime_id, context_id)))["result"]["runtimeContext"]["labels"] == {}
    assert (await operator.query(FORMATIONS_FOR_OBJECT % context_id))["result"] == []


async def test_assigning_a_missing_context_is_not_found(operator: Operator) -> None:
    assert await operator.error_codes(ASSIGN % (uuid.uuid4(), "RUNTIME_CONTEXT", "DEFAULT")) == ["NOT_FOUND"]


async def test_a_formation_with_a_context_cannot_be_deleted(operator: Operator) -> None:
    context_id = await context_of(operator, await runtime_of(operator))
    formation = await formation_of(operator)
    await operator.query(ASSIGN % (context_id, "RUNTIME_CONTEXT", formation))

    assert await operator.error_codes(DELETE_FORMATION % formation) == ["CONFLICT"]


async def test_an_unregistered_context_leaves_its_formations(operator: Operator) -> None:
    context_id = await context_of(operator, await runtime_of(operator))
    formation = await formation_of(operator)
    await operator.query(ASSIGN % (context_id, "RUNTIME_CONTEXT", formation))

    await operator.query(UNREGISTER % context_id)

    assert (await operator.query(DELETE_FORMATION % formation))["result"] == {"name": formation}


async def test_a_runtime_does_not_see_the_applications_of_its_contexts_formations(operator: Operator) -> None:
    """As Compass's applicationsForRuntime (ListByRuntimeID): the runtime's own formations only."""
    runtime_id = await runtime_of(operator)
    context_id = await context_of(operator, runtime_id)
    formation = await formation_of(operator)
    application_id = (await operator.query(REGISTER_APPLICATION % unique("app")))["result"]["id"]
    await operator.query(ASSIGN % (application_id, "APPLICATION", formation))

    await operator.query(ASSIGN % (context_id, "RUNTIME_CONTEXT", formation))

    assert (await operator.query(APPLICATIONS_FOR_RUNTIME % runtime_id))["result"] == {"data": [], "totalCount": 0}
    await operator.query(ASSIGN % (runtime_id, "RUNTIME", formation))
    assert (await operator.query(APPLICATIONS_FOR_RUNTIME % runtime_id))["result"]["totalCount"] == 1


# --- a runtime's own certificate ---------------------------------------------------------------------------------


class Agent:
    """A connected runtime: its certificate travels in X-Forwarded-Client-Cert, as a proxy would send it."""

    def __init__(self, client: httpx.AsyncClient, runtime_id: str, headers: dict[str, str]) -> None:
        self.client = client
        self.id = runtime_id
        self.headers = headers

    async def post(self, document: str, etag: str | None = None) -> httpx.Response:
        headers = {**self.headers, **({"If-None-Match": etag} if etag else {})}
        return await self.client.post(DIRECTOR, json={"query": document, "variables": None}, headers=headers)

    async def codes(self, document: str) -> list[str]:
        return [error["extensions"]["code"] for error in (await self.post(document)).json().get("errors", [])]


@pytest.fixture
async def proxied_operator(proxied: httpx.AsyncClient, tenants: TenantFactory) -> Operator:
    operator = await tenants.operator()
    operator.client = proxied
    return operator


async def connect(operator: Operator, runtime_id: str) -> Agent:
    token = (await operator.query(TOKEN % runtime_id))["result"]["token"]
    return Agent(operator.client, runtime_id, await forwarded_certificate_headers(operator.client, token))


async def test_a_runtimes_certificate_manages_its_own_contexts(proxied_operator: Operator) -> None:
    agent = await connect(proxied_operator, await runtime_of(proxied_operator))

    registered = (await agent.post(REGISTER % (agent.id, "own", "one"))).json()["data"]["result"]
    updated = (await agent.post(UPDATE % (registered["id"], "own", "two"))).json()["data"]["result"]
    deleted = (await agent.post(UNREGISTER % registered["id"])).json()["data"]["result"]

    assert (registered["value"], updated["value"], deleted["value"]) == ("one", "two", "two")


async def test_a_runtimes_certificate_cannot_touch_another_runtimes_contexts(proxied_operator: Operator) -> None:
    agent = await connect(proxied_operator, await runtime_of(proxied_operator))
    other = await runtime_of(proxied_operator)
    others_context = await context_of(proxied_operator, other)

    codes = [
        await agent.codes(REGISTER % (other, "k", "v")),
        await agent.codes(UPDATE % (others_context, "k", "v")),
        await agent.codes(UNREGISTER % others_context),
        await agent.codes(UPDATE % (uuid.uuid4(), "k", "v")),
    ]

    assert codes == [["FORBIDDEN"]] * 4
    assert (await proxied_operator.query(CONTEXTS % other))["result"]["runtimeContexts"]["totalCount"] == 1


async def test_a_runtimes_certificate_cannot_assign_its_contexts_to_formations(proxied_operator: Operator) -> None:
    agent = await connect(proxied_operator, await runtime_of(proxied_operator))
    context_id = await context_of(proxied_operator, agent.id)

    assert await agent.codes(ASSIGN % (context_id, "RUNTIME_CONTEXT", "DEFAULT")) == ["FORBIDDEN"]


# --- the runtime's cached view ---------------------------------------------------------------------------------


async def test_a_context_joining_or_leaving_a_formation_changes_its_runtimes_cached_view(
    proxied_operator: Operator,
) -> None:
    operator = proxied_operator
    agent = await connect(operator, await runtime_of(operator))
    context_id = await context_of(operator, agent.id)
    formation = await formation_of(operator)
    first = await agent.post(CONTEXTS % agent.id)
    assert (await agent.post(CONTEXTS % agent.id, first.headers["etag"])).status_code == 304

    await operator.query(ASSIGN % (context_id, "RUNTIME_CONTEXT", formation))
    joined = await agent.post(CONTEXTS % agent.id, first.headers["etag"])
    await operator.query(UNASSIGN % (context_id, "RUNTIME_CONTEXT", formation))
    left = await agent.post(CONTEXTS % agent.id, joined.headers["etag"])

    assert joined.status_code == 200
    assert joined.json()["data"]["result"]["runtimeContexts"]["data"][0]["labels"] == {"scenarios": [formation]}
    assert left.status_code == 200
    assert left.json()["data"]["result"]["runtimeContexts"]["data"][0]["labels"] == {}


@pytest.mark.parametrize("write", ["register", "update", "unregister"])
async def test_a_context_write_changes_its_runtimes_cached_view(proxied_operator: Operator, write: str) -> None:
    operator = proxied_operator
    agent = await connect(operator, await runtime_of(operator))
    context_id = await context_of(operator, agent.id, "before", "v")
    etag = (await agent.post(CONTEXTS % agent.id)).headers["etag"]
    documents = {
        "register": REGISTER % (agent.id, "added", "v"),
        "update": UPDATE % (context_id, "after", "v"),
        "unregister": UNREGISTER % context_id,
    }

    await operator.query(documents[write])
    response = await agent.post(CONTEXTS % agent.id, etag)

    assert response.status_code == 200
    assert response.json()["data"] == await operator.query(CONTEXTS % agent.id)


async def test_another_runtimes_context_keeps_this_runtimes_view_cached(proxied_operator: Operator) -> None:
    operator = proxied_operator
    agent = await connect(operator, await runtime_of(operator))
    other_context = await context_of(operator, await runtime_of(operator))
    formation = await formation_of(operator)
    etag = (await agent.post(CONTEXTS % agent.id)).headers["etag"]

    await operator.query(ASSIGN % (other_context, "RUNTIME_CONTEXT", formation))
    await operator.query(UPDATE % (other_context, "k", "v"))

    assert (await agent.post(CONTEXTS % agent.id, etag)).status_code == 304


# --- statement counts ----------------------------------------------------------------------------------------------


async def _runtimes_with_contexts(operator: Operator, count: int, formation: str) -> None:
    for _ in range(count):
        runtime_id = await runtime_of(operator)
        for key in ("first", "second"):
            context_id = await context_of(operator, runtime_id, key)
            await operator.query(ASSIGN % (context_id, "RUNTIME_CONTEXT", formation))


async def _counted(operator: Operator, database: Database) -> tuple[dict[str, Any], list[str]]:
    with count_statements(database) as statements:
        data = await operator.query(RUNTIMES_WITH_CONTEXTS)
    return data, list(statements)


# Count and page of runtimes, the runtimes' contexts, the contexts' labels.
RUNTIMES_WITH_CONTEXTS_STATEMENTS = 4


async def test_a_page_of_runtimes_with_their_contexts_costs_the_same_for_1_and_20_runtimes(
    operator: Operator, database: Database
) -> None:
    formation = await formation_of(operator)
    await _runtimes_with_contexts(operator, 1, formation)
    one, with_one = await _counted(operator, database)
    await _runtimes_with_contexts(operator, 19, formation)

    twenty, with_twenty = await _counted(operator, database)

    assert len(one["result"]["data"]) == 1
    assert len(twenty["result"]["data"]) == 20
    contexts = [context for runtime in twenty["result"]["data"] for context in runtime["runtimeContexts"]["data"]]
    assert len(contexts) == 40
    assert all(context["labels"] == {"scenarios": [formation]} for context in contexts)
    assert len(with_one) == RUNTIMES_WITH_CONTEXTS_STATEMENTS, "\n\n".join(with_one)
    assert len(with_twenty) == RUNTIMES_WITH_CONTEXTS_STATEMENTS, "\n\n".join(with_twenty)


# --- automatic scenario assignments ----------------------------------------------------------------------------------


async def test_a_tenant_has_no_automatic_scenario_assignments(operator: Operator) -> None:
    assert (await operator.query(ASAS))["result"] == {"data": [], "totalCount": 0}


async def test_no_scenario_has_an_automatic_assignment(operator: Operator) -> None:
    """Compass answers its not-found error, not null, for a scenario without one."""
    assert await operator.error_codes(ASA_FOR_SCENARIO % "DEFAULT") == ["NOT_FOUND"]


async def test_no_automatic_assignment_selects_a_subaccount(operator: Operator) -> None:
    answer = await operator.query(ASA_FOR_SELECTOR % ("global_subaccount_id", operator.tenant_id))

    assert answer["result"] == []


async def test_a_selector_key_other_than_global_subaccount_id_is_invalid(operator: Operator) -> None:
    assert await operator.error_codes(ASA_FOR_SELECTOR % ("region", "eu")) == ["INVALID_INPUT"]


async def test_automatic_scenario_assignments_need_their_scope(operator: Operator, tenants: TenantFactory) -> None:
    reader = await tenants.operator(scopes=[Scope.FORMATION_READ], tenant_id=operator.tenant_id)

    assert await reader.error_codes(ASAS) == ["FORBIDDEN"]
