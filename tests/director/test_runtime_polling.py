"""Change-aware polling: a runtime's repeated poll of an unchanged view costs a revision lookup, not a rebuild."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from datetime import timedelta
from typing import Any

import graphql
import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from director import models
from director.polling import shared_views
from director.polling.last_seen import LastSeenRecorder
from director.polling.middleware import KeptAnswer, _admits_gzip, _etag
from director.polling.shared_views import SharingExecutionContext
from kernel.cache import MemoryCache
from kernel.db import Database
from kernel.models import utcnow
from kernel.observability.metrics import REGISTRY
from kernel.settings import Settings
from testing.statements import count_statements
from tests.connector.support import forwarded_certificate_headers
from tests.fixtures.proxied import ProxiedWith
from tests.support import DIRECTOR, Operator, TenantFactory, registered_runtimes

SYNC = '{ result: applicationsForRuntime(runtimeID: "%s") { data { id name } totalCount } }'
REGISTER_RUNTIME = 'mutation { result: registerRuntime(in: {name: "%s"}) { id } }'
REGISTER_APPLICATION = 'mutation { result: registerApplication(in: {name: "%s"}) { id } }'
ASSIGN = (
    'mutation { result: assignFormation(objectID: "%s", objectType: %s, formation: {name: "DEFAULT"}) { name } }'
)
TOKEN = 'mutation { result: requestOneTimeTokenForRuntime(id: "%s") { token } }'


class Runtime:
    """A connected runtime: its certificate travels in X-Forwarded-Client-Cert, as a proxy would send it."""

    def __init__(self, client: httpx.AsyncClient, runtime_id: str, headers: dict[str, str]) -> None:
        self.client = client
        self.id = runtime_id
        self.headers = headers

    async def poll(self, etag: str | None = None) -> httpx.Response:
        headers = {**self.headers, **({"If-None-Match": etag} if etag else {})}
        return await self.client.post(DIRECTOR, json={"query": SYNC % self.id, "variables": None}, headers=headers)

    async def poll_encoded(
        self, accept_encoding: str | None, etag: str | None = None
    ) -> tuple[httpx.Response, bytes]:
        """A poll with exactly this Accept-Encoding (None: without one, which httpx would add), and the body as
        the server sent it."""
        headers = {**self.headers, **({"If-None-Match": etag} if etag else {})}
        request = self.client.build_request("POST", DIRECTOR, json={"query": SYNC % self.id}, headers=headers)
        del request.headers["accept-encoding"]
        if accept_encoding is not None:
            request.headers["accept-encoding"] = accept_encoding
        response = await self.client.send(request, stream=True)
        sent = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        return response, sent


async def _connect(client: httpx.AsyncClient, operator: Operator, runtime_id: str) -> Runtime:
    token = (await operator.query(TOKEN % runtime_id))["result"]["token"]
    return Runtime(client, runtime_id, await forwarded_certificate_headers(client, token))


async def _runtime_in_default(operator: Operator, proxied: httpx.AsyncClient, name: str, labels: str = "") -> Runtime:
    runtime_id = (
        await operator.query('mutation { result: registerRuntime(in: {name: "%s"%s}) { id } }' % (name, labels))
    )["result"]["id"]
    await operator.query(ASSIGN % (runtime_id, "RUNTIME"))
    return await _connect(proxied, operator, runtime_id)


@pytest.fixture
async def operator_and_runtime(proxied: httpx.AsyncClient, tenants: TenantFactory) -> tuple[Operator, Runtime]:
    operator = await tenants.operator()
    operator.client = proxied
    application_id = (await operator.query(REGISTER_APPLICATION % "shop"))["result"]["id"]
    await operator.query(ASSIGN % (application_id, "APPLICATION"))
    return operator, await _runtime_in_default(operator, proxied, "polled")


async def test_a_runtime_answer_carries_an_etag(operator_and_runtime: tuple[Operator, Runtime]) -> None:
    _, runtime = operator_and_runtime

    response = await runtime.poll()

    assert response.status_code == 200
    assert response.json()["data"]["result"]["totalCount"] == 1
    assert response.headers["etag"].startswith('"')


async def test_the_etag_sent_back_on_an_unchanged_view_answers_304(
    operator_and_runtime: tuple[Operator, Runtime],
) -> None:
    _, runtime = operator_and_runtime
    etag = (await runtime.poll()).headers["etag"]

    response = await runtime.poll(etag)

    assert response.status_code == 304
    assert response.content == b""


async def test_a_change_in_the_tenant_gives_a_new_etag_and_the_new_view(
    operator_and_runtime: tuple[Operator, Runtime],
) -> None:
    operator, runtime = operator_and_runtime
    etag = (await runtime.poll()).headers["etag"]
    application_id = (await operator.query(REGISTER_APPLICATION % "second"))["result"]["id"]
    await operator.query(ASSIGN % (application_id, "APPLICATION"))

    response = await runtime.poll(etag)

    assert response.status_code == 200
    assert response.headers["etag"] != etag
    assert response.json()["data"]["result"]["totalCount"] == 2


async def test_a_repeated_poll_is_answered_from_memory_without_a_statement(
    operator_and_runtime: tuple[Operator, Runtime], database: Database
) -> None:
    _, runtime = operator_and_runtime
    first = await runtime.poll()

    with count_statements(database) as statements:
        again = await runtime.poll()

    assert again.content == first.content
    assert statements == []


async def test_an_operator_answer_is_never_served_from_the_runtime_cache(
    operator_and_runtime: tuple[Operator, Runtime],
) -> None:
    operator, runtime = operator_and_runtime

    response = await operator.post(SYNC % runtime.id)

    assert "etag" not in response.headers
    assert response.json()["data"]["result"]["totalCount"] == 1


async def test_a_poll_is_recorded_as_last_seen_and_the_runtime_shows_active(
    operator_and_runtime: tuple[Operator, Runtime], proxied_app: Starlette
) -> None:
    operator, runtime = operator_and_runtime
    before = await operator.query('{ result: runtime(id: "%s") { lastSeen agentStatus } }' % runtime.id)

    await runtime.poll()
    await proxied_app.state.last_seen.flush()
    after = await operator.query('{ result: runtime(id: "%s") { lastSeen agentStatus } }' % runtime.id)

    assert before["result"] == {"lastSeen": None, "agentStatus": "NEVER_SEEN"}
    assert after["result"]["lastSeen"] is not None
    assert after["result"]["agentStatus"] == "ACTIVE"


async def test_a_runtime_silent_for_five_sync_periods_shows_silent(
    operator_and_runtime: tuple[Operator, Runtime], proxied_app: Starlette, database: Database, settings: Settings
) -> None:
    operator, runtime = operator_and_runtime
    recorder = proxied_app.state.last_seen
    silent_since = recorder.clock() - timedelta(seconds=5 * settings.agent_sync_period_seconds + 1)
    recorder._pending[runtime.id] = silent_since  # a poll long ago, without waiting for it
    await recorder.flush()

    data = await operator.query('{ result: runtime(id: "%s") { agentStatus } }' % runtime.id)

    assert data["result"]["agentStatus"] == "SILENT"


async def test_a_flush_writes_every_runtimes_poll_time_in_one_statement_and_never_an_earlier_one(
    database: Database,
) -> None:
    runtimes = await registered_runtimes(database, 3, "flushed")
    now = utcnow()
    earlier = LastSeenRecorder(database, lambda: now - timedelta(minutes=1))
    later = LastSeenRecorder(database, lambda: now)
    for runtime_id in runtimes:
        later.seen(runtime_id)
    earlier.seen(runtimes[0])  # another worker's older note, flushed after

    with count_statements(database) as statements:
        await later.flush()
    await earlier.flush()

    assert len(statements) == 1
    async with database.read_sessions() as session:
        rows = await session.execute(
            select(models.Runtime.id, models.Runtime.last_seen_at).where(models.Runtime.id.in_(runtimes))
        )
    assert dict(rows.all()) == dict.fromkeys(runtimes, now)


def test_the_etag_depends_on_the_document() -> None:
    assert _etag("r", (1, 0), b'{"query":"a"}') != _etag("r", (1, 0), b'{"query":"b"}')
    assert _etag("r", (1, 0), b"x") != _etag("r", (2, 0), b"x")
    assert _etag("r", (1, 0), b"x") != _etag("r", (1, 1), b"x")
    assert json.loads(_etag("r", (1, 0), b"x"))  # a quoted string, as HTTP wants


async def test_a_runtime_mutation_always_runs_and_is_never_answered_from_memory(
    operator_and_runtime: tuple[Operator, Runtime],
) -> None:
    _, runtime = operator_and_runtime
    label = 'mutation { result: setRuntimeLabel(runtimeID: "%s", key: "k", value: "%s") { value } }'
    first = await runtime.client.post(DIRECTOR, json={"query": label % (runtime.id, "a")}, headers=runtime.headers)

    again = await runtime.client.post(
        DIRECTOR, json={"query": label % (runtime.id, "a")}, headers={**runtime.headers, "If-None-Match": "*"}
    )

    assert first.json()["data"]["result"]["value"] == "a"
    assert again.status_code == 200
    assert "etag" not in again.headers


async def test_a_runtime_may_report_itself_connected_but_not_join_formations_through_update(
    operator_and_runtime: tuple[Operator, Runtime],
) -> None:
    _, runtime = operator_and_runtime
    update = 'mutation { result: updateRuntime(id: "%s", in: {name: "polled", statusCondition: CONNECTED%s}) { status { condition } } }'

    connected = await runtime.client.post(DIRECTOR, json={"query": update % (runtime.id, "")}, headers=runtime.headers)
    joining = await runtime.client.post(
        DIRECTOR, json={"query": update % (runtime.id, ', labels: {scenarios: ["DEFAULT"]}')}, headers=runtime.headers
    )

    assert connected.json()["data"]["result"]["status"]["condition"] == "CONNECTED"
    assert joining.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_polls_are_counted_by_how_they_were_answered(operator_and_runtime: tuple[Operator, Runtime]) -> None:
    def count(outcome: str) -> float:
        return REGISTRY.get_sample_value("compass_runtime_polls_total", {"outcome": outcome}) or 0.0

    _, runtime = operator_and_runtime
    before = {outcome: count(outcome) for outcome in ("executed", "cached", "not_modified")}

    etag = (await runtime.poll()).headers["etag"]
    await runtime.poll()
    await runtime.poll(etag)

    assert {outcome: count(outcome) - before[outcome] for outcome in before} == {
        "executed": 1,
        "cached": 1,
        "not_modified": 1,
    }


async def test_an_answer_with_errors_is_never_kept(operator_and_runtime: tuple[Operator, Runtime]) -> None:
    def executed() -> float:
        return REGISTRY.get_sample_value("compass_runtime_polls_total", {"outcome": "executed"}) or 0.0

    # given: a document the runtime may not ask (another runtime's view)
    _, runtime = operator_and_runtime
    refused = {"query": SYNC % "00000000-0000-4000-8000-000000000000"}
    before = executed()

    # when
    answers = [await runtime.client.post(DIRECTOR, json=refused, headers=runtime.headers) for _ in range(2)]

    # then: both were executed, each answering its error
    assert [answer.json()["errors"][0]["extensions"]["code"] for answer in answers] == ["FORBIDDEN"] * 2
    assert executed() - before == 2


async def test_a_write_to_another_runtime_keeps_this_runtimes_view_cached(
    operator_and_runtime: tuple[Operator, Runtime],
) -> None:
    operator, runtime = operator_and_runtime
    etag = (await runtime.poll()).headers["etag"]
    other = (await operator.query(REGISTER_RUNTIME % "other"))["result"]["id"]

    await operator.query('mutation { result: setRuntimeLabel(runtimeID: "%s", key: "k", value: "v") { key } }' % other)

    assert (await runtime.poll(etag)).status_code == 304


async def test_a_write_to_this_runtime_changes_its_view(operator_and_runtime: tuple[Operator, Runtime]) -> None:
    operator, runtime = operator_and_runtime
    etag = (await runtime.poll()).headers["etag"]

    await operator.query(
        'mutation { result: setRuntimeLabel(runtimeID: "%s", key: "k", value: "v") { key } }' % runtime.id
    )

    assert (await runtime.poll(etag)).status_code == 200


VIEW = """
query ($runtimeID: ID!) {
  runtime(id: $runtimeID) { labels }
  result: applicationsForRuntime(runtimeID: $runtimeID) {
    totalCount
    data {
      id description baseUrl labels webhooks { id url } auths { id }
      integrationDependencies { data { id name aspects { name } } }
      bundles { data {
        id name
        apiDefinitions { data { id name targetURL } }
        eventDefinitions { data { id name } }
        documents { data { id title } }
        instanceAuths { id status { condition } }
      } }
    }
  }
}
"""

BUNDLE = (
    '{name: "b", apiDefinitions: [{name: "api", targetURL: "http://a"}], eventDefinitions: [{name: "ev"}], '
    'documents: [{title: "doc", displayName: "d", description: "d", format: MARKDOWN}]}'
)
# (what the write is, its field with {id} placeholders, the ids it answers, whether the runtime's view changes)
WRITES: list[tuple[str, str, dict[str, str], bool]] = [
    ("update an application", 'updateApplication(id: "{A}", in: {description: "one"}) { id }', {}, True),
    ("add a bundle", 'addBundle(applicationID: "{A}", in: ' + BUNDLE + ") { id apiDefinitions { data { id } } eventDefinitions { data { id } } documents { data { id } } }", {"bundle": "id", "api": "apiDefinitions.data.0.id", "event": "eventDefinitions.data.0.id", "document": "documents.data.0.id"}, True),
    ("update a bundle", 'updateBundle(id: "{bundle}", in: {name: "b2"}) { id }', {}, True),
    ("add an API", 'addAPIDefinitionToBundle(bundleID: "{bundle}", in: {name: "api2", targetURL: "http://b"}) { id }', {"api2": "id"}, True),
    ("update an API", 'updateAPIDefinition(id: "{api}", in: {name: "api", targetURL: "http://c"}) { id }', {}, True),
    ("give an API a spec to fetch", 'updateAPIDefinition(id: "{api}", in: {name: "api", targetURL: "http://c", spec: {type: OPEN_API, format: JSON, fetchRequest: {url: "http://127.0.0.1:9/spec"}}}) { id }', {}, True),
    ("refetch an API's spec", 'refetchAPISpec(apiID: "{api}") { id }', {}, True),
    ("delete an API", 'deleteAPIDefinition(id: "{api2}") { id }', {}, True),
    ("add an event", 'addEventDefinitionToBundle(bundleID: "{bundle}", in: {name: "ev2"}) { id }', {"event2": "id"}, True),
    ("update an event", 'updateEventDefinition(id: "{event}", in: {name: "ev1"}) { id }', {}, True),
    ("delete an event", 'deleteEventDefinition(id: "{event2}") { id }', {}, True),
    ("add a document", 'addDocumentToBundle(bundleID: "{bundle}", in: {title: "t", displayName: "d", description: "d", format: MARKDOWN}) { id }', {"document2": "id"}, True),
    ("delete a document", 'deleteDocument(id: "{document2}") { id }', {}, True),
    ("add a webhook", 'addWebhook(applicationID: "{A}", in: {type: CONFIGURATION_CHANGED, url: "http://w"}) { id }', {"webhook": "id"}, True),
    ("update a webhook", 'updateWebhook(webhookID: "{webhook}", in: {type: CONFIGURATION_CHANGED, url: "http://x"}) { id }', {}, True),
    ("delete a webhook", 'deleteWebhook(webhookID: "{webhook}") { id }', {}, True),
    ("label an application", 'setApplicationLabel(applicationID: "{A}", key: "team", value: "red") { key }', {}, True),
    ("delete an application's label", 'deleteApplicationLabel(applicationID: "{A}", key: "team") { key }', {}, True),
    ("request instance credentials", 'requestBundleInstanceAuthCreation(bundleID: "{bundle}", in: {}) { id }', {"auth": "id"}, True),
    ("set instance credentials", 'setBundleInstanceAuth(authID: "{auth}", in: {status: {condition: FAILED, reason: "r", message: "m"}}) { id }', {}, True),
    ("delete instance credentials", 'requestBundleInstanceAuthDeletion(authID: "{auth}") { id }', {}, True),
    ("request an application token", 'requestOneTimeTokenForApplication(id: "{A}") { token }', {}, True),
    ("request application client credentials", 'requestClientCredentialsForApplication(id: "{A}") { id }', {"client": "id"}, True),
    ("update the application's system auth", 'updateSystemAuth(authID: "{client}", in: {certCommonName: "cn"}) { id }', {}, True),
    ("delete the application's system auth", 'deleteSystemAuthForApplication(authID: "{client}") { id }', {}, True),
    ("register an integration system", 'registerIntegrationSystem(in: {name: "polled"}) { id }', {"integration": "id"}, False),
    ("request integration system client credentials", 'requestClientCredentialsForIntegrationSystem(id: "{integration}") { id }', {}, False),
    ("unregister an integration system", 'unregisterIntegrationSystem(id: "{integration}") { id }', {}, False),
    ("add an API to the application", 'addAPIDefinitionToApplication(appID: "{A}", in: {name: "own", targetURL: "http://own.example.com/a"}) { id }', {"own_api": "id"}, True),
    ("update the application's API", 'updateAPIDefinitionForApplication(id: "{own_api}", in: {name: "own2", targetURL: "http://own"}) { id }', {}, True),
    ("add an event to the application", 'addEventDefinitionToApplication(appID: "{A}", in: {name: "own-ev"}) { id }', {"own_event": "id"}, True),
    ("update the application's event", 'updateEventDefinitionForApplication(id: "{own_event}", in: {name: "own-ev2"}) { id }', {}, True),
    ("add an integration dependency", 'addIntegrationDependencyToApplication(appID: "{A}", in: {name: "dep", ordID: ":integrationDependency:dep:v1", aspects: [{name: "a"}]}) { id }', {"dependency": "id"}, True),
    ("delete an integration dependency", 'deleteIntegrationDependency(id: "{dependency}") { id }', {}, True),
    ("add an API to an application in another formation", 'addAPIDefinitionToApplication(appID: "{B}", in: {name: "b", targetURL: "http://b"}) { id }', {}, False),
    ("update an application in another formation", 'updateApplication(id: "{B}", in: {description: "b"}) { id }', {}, False),
    ("add a bundle to an application in another formation", 'addBundle(applicationID: "{B}", in: {name: "x"}) { id }', {}, False),
    ("assign an application to the runtime's formation", 'assignFormation(objectID: "{B}", objectType: APPLICATION, formation: {name: "DEFAULT"}) { name }', {}, True),
    ("unassign an application from the runtime's formation", 'unassignFormation(objectID: "{A}", objectType: APPLICATION, formation: {name: "DEFAULT"}) { name }', {}, True),
    ("change an application outside the runtime's formations", 'updateApplication(id: "{A}", in: {description: "two"}) { id }', {}, False),
    ("label an application into the runtime's formation", 'setApplicationLabel(applicationID: "{A}", key: "scenarios", value: ["DEFAULT"]) { key }', {}, True),
    ("label an application out of the runtime's formation", 'setApplicationLabel(applicationID: "{B}", key: "scenarios", value: ["other"]) { key }', {}, True),
    ("label another runtime", 'setRuntimeLabel(runtimeID: "{R2}", key: "k", value: "v") { key }', {}, False),
    ("move another runtime into the formation", 'assignFormation(objectID: "{R2}", objectType: RUNTIME, formation: {name: "DEFAULT"}) { name }', {}, False),
    ("move the runtime into another formation", 'assignFormation(objectID: "{R}", objectType: RUNTIME, formation: {name: "other"}) { name }', {}, True),
    ("register a context of the runtime", 'registerRuntimeContext(runtimeID: "{R}", in: {key: "k", value: "v"}) { id }', {"context": "id"}, True),
    ("assign the runtime's context to a formation", 'assignFormation(objectID: "{context}", objectType: RUNTIME_CONTEXT, formation: {name: "DEFAULT"}) { name }', {}, True),
    ("register a context of another runtime", 'registerRuntimeContext(runtimeID: "{R2}", in: {key: "k", value: "v"}) { id }', {"context2": "id"}, False),
    ("assign another runtime's context to the runtime's formation", 'assignFormation(objectID: "{context2}", objectType: RUNTIME_CONTEXT, formation: {name: "DEFAULT"}) { name }', {}, False),
    ("unregister the runtime's context", 'unregisterRuntimeContext(id: "{context}") { id }', {}, True),
    ("create a formation", 'createFormation(formation: {name: "third"}) { name }', {}, True),
    ("create an application template", 'createApplicationTemplate(in: {name: "polled-template", accessLevel: GLOBAL, applicationInput: {name: "from-template"}}) { id }', {"template": "id"}, False),
    ("update an application template", 'updateApplicationTemplate(id: "{template}", in: {name: "polled-template", accessLevel: GLOBAL, applicationInput: {name: "from-template", labels: {scenarios: ["DEFAULT"]}}}) { id }', {}, False),
    ("add a webhook to an application template", 'addWebhook(applicationTemplateID: "{template}", in: {type: CONFIGURATION_CHANGED, url: "http://t"}) { id }', {}, False),
    ("register an application from a template into the formation", 'registerApplicationFromTemplate(in: {templateName: "polled-template", placeholdersPayload: "{}"}) { id }', {}, True),
    ("delete an application template", 'deleteApplicationTemplate(id: "{template}") { id }', {}, False),
    ("delete a bundle", 'deleteBundle(id: "{bundle}") { id }', {}, True),
    ("unregister an application", 'unregisterApplication(id: "{A}") { id }', {}, True),
]


def _without_instance_auths(view: dict[str, Any]) -> dict[str, Any]:
    """The operator's view as the runtime sees it: the instance auths here are the operator's requests, and a
    runtime sees only those requested for it (tests/security/test_least_visibility.py)."""
    for application in view["result"]["data"]:
        for bundle in application["bundles"]["data"]:
            bundle["instanceAuths"] = []
    return view


def _pick(answer: object, path: str) -> str:
    for step in path.split("."):
        answer = answer[int(step)] if isinstance(answer, list) else answer[step]  # type: ignore[index]
    return str(answer)


async def test_every_write_leaves_a_runtime_an_exact_view_and_rebuilds_only_the_views_it_changes(
    operator_and_runtime: tuple[Operator, Runtime], tenants: TenantFactory, proxied: httpx.AsyncClient
) -> None:
    """After each write the runtime's answer (cached, 304 or rebuilt) equals a fresh one built for an operator
    reading what a runtime may (applications' webhooks are null to both), and it is rebuilt exactly when the
    write concerns it."""
    operator, runtime = operator_and_runtime
    reader = await tenants.operator(
        scopes=["application:read", "runtime:read", "bundle.instance_auths:read"], tenant_id=operator.tenant_id
    )
    reader.client = proxied
    ids = {"R": runtime.id, "A": (await operator.query(SYNC % runtime.id))["result"]["data"][0]["id"]}
    await operator.query('mutation { result: createFormation(formation: {name: "other"}) { name } }')
    ids["B"] = (await operator.query(REGISTER_APPLICATION % "elsewhere"))["result"]["id"]
    ids["R2"] = (await operator.query(REGISTER_RUNTIME % "neighbour"))["result"]["id"]
    for object_id, kind in ((ids["B"], "APPLICATION"), (ids["R2"], "RUNTIME")):
        await operator.query(ASSIGN.replace("DEFAULT", "other") % (object_id, kind))
    variables = {"runtimeID": runtime.id}

    async def runtime_view(etag: str | None) -> httpx.Response:
        headers = {**runtime.headers, **({"If-None-Match": etag} if etag else {})}
        return await runtime.client.post(DIRECTOR, json={"query": VIEW, "variables": variables}, headers=headers)

    first = await runtime_view(None)
    etag, seen = first.headers["etag"], first.json()["data"]
    outcomes = []
    for description, template, answers, _ in WRITES:
        field = re.sub(r"\{(\w+)\}", lambda match: ids[match.group(1)], template)
        result = (await operator.query("mutation { result: " + field + " }"))["result"]
        ids.update({name: _pick(result, path) for name, path in answers.items()})

        response = await runtime_view(etag)

        if response.status_code == 200:
            etag, seen = response.headers["etag"], response.json()["data"]
        expected = _without_instance_auths(await reader.query(VIEW, variables))
        outcomes.append((description, response.status_code == 200, seen == expected))
    assert outcomes == [(description, changes, True) for description, _, _, changes in WRITES]


async def test_a_runtime_in_the_same_formations_gets_the_view_another_built_without_building_it(
    operator_and_runtime: tuple[Operator, Runtime], proxied: httpx.AsyncClient, database: Database
) -> None:
    operator, first = operator_and_runtime
    second = await _runtime_in_default(operator, proxied, "twin")
    await first.poll()

    with count_statements(database) as statements:
        answer = await second.poll()

    assert answer.json()["data"] == await operator.query(SYNC % second.id)
    assert not any("FROM applications" in statement for statement in statements), statements


async def _reads_of_applications(database: Database, polls: list[Any]) -> int:
    """The statements reading applications while ``polls`` (coroutines) run at once."""
    with count_statements(database) as statements:
        answers = await asyncio.gather(*polls)
    assert [answer.status_code for answer in answers] == [200] * len(answers)
    return sum("FROM applications" in statement for statement in statements)


@pytest.fixture
def slow_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every build of a view takes a while, so that polls sent at once all arrive while one is under way."""
    executed = SharingExecutionContext._executed

    async def slowly(self: SharingExecutionContext, execute: Any) -> Any:
        await asyncio.sleep(0.2)
        return await executed(self, execute)

    monkeypatch.setattr(SharingExecutionContext, "_executed", slowly)


async def test_runtimes_polling_at_once_after_a_change_build_their_shared_view_once(
    operator_and_runtime: tuple[Operator, Runtime],
    proxied: httpx.AsyncClient,
    database: Database,
    slow_builds: None,
) -> None:
    # given: five runtimes in the same formation, a build that takes a while (so that every poll arrives while
    # it runs), and what one build of their view reads after a change
    operator, first = operator_and_runtime
    runtimes = [first, *[await _runtime_in_default(operator, proxied, f"twin-{index}") for index in range(4)]]
    await operator.query(ASSIGN % ((await operator.query(REGISTER_APPLICATION % "second"))["result"]["id"], "APPLICATION"))
    one_build = await _reads_of_applications(database, [first.poll()])

    # when: another change, and every runtime polls at once (as a push makes them)
    await operator.query(ASSIGN % ((await operator.query(REGISTER_APPLICATION % "third"))["result"]["id"], "APPLICATION"))
    reads = await _reads_of_applications(database, [runtime.poll() for runtime in runtimes])

    # then
    assert one_build > 0
    assert reads == one_build


async def test_with_shared_views_off_runtimes_polling_at_once_each_build_their_own_view(
    proxied_with: ProxiedWith, tenants: TenantFactory, database: Database, slow_builds: None
) -> None:
    # given: COMPASS_SHARED_VIEW_ENTRIES=0, twins in one formation, builds that take a while (as above)
    async with proxied_with(shared_view_entries=0) as client:
        operator = await tenants.operator()
        operator.client = client
        await operator.query(ASSIGN % ((await operator.query(REGISTER_APPLICATION % "shop"))["result"]["id"], "APPLICATION"))
        runtimes = [await _runtime_in_default(operator, client, f"twin-{index}") for index in range(3)]
        one_build = await _reads_of_applications(database, [runtimes[0].poll()])

        # when
        await operator.query(ASSIGN % ((await operator.query(REGISTER_APPLICATION % "more"))["result"]["id"], "APPLICATION"))
        reads = await _reads_of_applications(database, [runtime.poll() for runtime in runtimes])

    # then: nothing shared, not even a build under way
    assert one_build > 0
    assert reads == 3 * one_build


async def test_a_runtimes_document_is_printed_for_its_shared_view_once_however_many_changes_follow(
    operator_and_runtime: tuple[Operator, Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: every print of a selection for a shared view's key counted, and the runtime's first poll
    printed: list[object] = []

    def counted(node: Any) -> str:
        printed.append(node)
        return graphql.print_ast(node)

    monkeypatch.setattr(shared_views, "print_ast", counted)
    operator, runtime = operator_and_runtime
    await runtime.poll()
    first = len(printed)

    # when: two changes, each followed by a poll executed again
    for name in ("second", "third"):
        await operator.query(ASSIGN % ((await operator.query(REGISTER_APPLICATION % name))["result"]["id"], "APPLICATION"))
        assert (await runtime.poll()).json()["data"]["result"]["totalCount"] > 0

    # then
    assert first > 0
    assert len(printed) == first


async def test_a_runtime_in_other_formations_builds_its_own_view(
    operator_and_runtime: tuple[Operator, Runtime], proxied: httpx.AsyncClient
) -> None:
    operator, first = operator_and_runtime
    other = await _runtime_in_default(operator, proxied, "elsewhere")
    await operator.query('mutation { result: createFormation(formation: {name: "other"}) { name } }')
    await operator.query(ASSIGN.replace("DEFAULT", "other") % (other.id, "RUNTIME"))
    await operator.query(
        'mutation { result: unassignFormation(objectID: "%s", objectType: RUNTIME, formation: {name: "DEFAULT"}) '
        "{ name } }" % other.id
    )
    await first.poll()

    answer = await other.poll()

    assert answer.json()["data"]["result"]["totalCount"] == 0


async def test_a_change_to_an_application_reaches_every_runtime_sharing_its_view(
    operator_and_runtime: tuple[Operator, Runtime], proxied: httpx.AsyncClient
) -> None:
    operator, first = operator_and_runtime
    second = await _runtime_in_default(operator, proxied, "twin")
    query = '{ result: applicationsForRuntime(runtimeID: "%s") { data { id description } } }'

    async def descriptions() -> list[str | None]:
        answers = [
            await runtime.client.post(DIRECTOR, json={"query": query % runtime.id}, headers=runtime.headers)
            for runtime in (first, second)
        ]
        return [answer.json()["data"]["result"]["data"][0]["description"] for answer in answers]

    before = await descriptions()
    application_id = (await first.poll()).json()["data"]["result"]["data"][0]["id"]
    await operator.query('mutation { result: updateApplication(id: "%s", in: {description: "new"}) { id } }' % application_id)

    assert (before, await descriptions()) == ([None, None], ["new", "new"])


async def test_runtimes_that_ask_for_normalized_names_and_those_that_do_not_get_their_own_views(
    operator_and_runtime: tuple[Operator, Runtime], proxied: httpx.AsyncClient
) -> None:
    operator, normalized = operator_and_runtime
    plain = await _runtime_in_default(operator, proxied, "plain", ', labels: {isNormalized: "false"}')

    names = [(await runtime.poll()).json()["data"]["result"]["data"][0]["name"] for runtime in (normalized, plain)]

    assert names == ["mp-shop", "shop"]


# --- kept answers in the representation the runtime accepts -------------------------------------------------


def _encodings_made(encoding: str) -> float:
    return REGISTRY.get_sample_value("compass_runtime_answer_encodings_total", {"encoding": encoding}) or 0.0


async def test_a_gzip_accepting_runtime_gets_gzip_that_decompresses_to_exactly_the_identity_answer(
    operator_and_runtime: tuple[Operator, Runtime],
) -> None:
    _, runtime = operator_and_runtime

    compressed, compressed_bytes = await runtime.poll_encoded("gzip")
    plain, plain_bytes = await runtime.poll_encoded(None)

    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.headers["content-length"] == str(len(compressed_bytes))
    assert "content-encoding" not in plain.headers
    assert plain.headers["content-length"] == str(len(plain_bytes))
    assert gzip.decompress(compressed_bytes) == plain_bytes
    assert json.loads(plain_bytes)["data"]["result"]["totalCount"] == 1


async def test_a_kept_identity_answer_is_served_as_gzip_to_a_runtime_that_accepts_it(
    operator_and_runtime: tuple[Operator, Runtime],
) -> None:
    _, runtime = operator_and_runtime

    _, plain_bytes = await runtime.poll_encoded("identity")
    compressed, compressed_bytes = await runtime.poll_encoded("gzip")

    assert compressed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(compressed_bytes) == plain_bytes


@pytest.mark.parametrize("accept_encoding", [None, "gzip;q=0", "identity", "br, deflate", "*;q=0", "gzip;q=0, *"])
async def test_a_runtime_that_does_not_accept_gzip_gets_the_identity_answer(
    operator_and_runtime: tuple[Operator, Runtime], accept_encoding: str | None
) -> None:
    _, runtime = operator_and_runtime

    for _ in range(2):  # executed, then kept
        response, sent = await runtime.poll_encoded(accept_encoding)

        assert "content-encoding" not in response.headers
        assert json.loads(sent)["data"]["result"]["totalCount"] == 1


@pytest.mark.parametrize(
    ("accept_encoding", "admitted"),
    [
        (b"gzip", True),
        (b"GZIP ; Q=0.5", True),
        (b"x-gzip", True),
        (b"*", True),
        (b"deflate, *;q=0.1", True),
        (b"br;q=1.0, gzip;q=0.001", True),
        (b"gzip;q=0", False),
        (b"gzip;q=0.000", False),
        (b"*;q=0", False),
        (b"gzip;q=0, *", False),
        (b"gzip;q=2", False),
        (b"gzip;q=nan", False),
        (b"identity, deflate", False),
        (b"", False),
    ],
)
def test_accept_encoding_admits_gzip_by_its_q_value_or_the_wildcard(accept_encoding: bytes, admitted: bool) -> None:
    assert _admits_gzip(accept_encoding) is admitted


async def test_a_kept_answer_is_compressed_once_however_often_it_is_served(
    operator_and_runtime: tuple[Operator, Runtime],
) -> None:
    _, runtime = operator_and_runtime
    before = _encodings_made("gzip")

    for _ in range(4):
        await runtime.poll_encoded("gzip")

    assert _encodings_made("gzip") - before == 1


async def test_a_kept_gzip_answer_is_decompressed_once_for_identity_runtimes(
    operator_and_runtime: tuple[Operator, Runtime],
) -> None:
    _, runtime = operator_and_runtime
    await runtime.poll_encoded("gzip")
    before = {encoding: _encodings_made(encoding) for encoding in ("gzip", "identity")}

    for accept_encoding in (None, "gzip", None, "gzip"):
        await runtime.poll_encoded(accept_encoding)

    assert {encoding: _encodings_made(encoding) - before[encoding] for encoding in before} == {
        "gzip": 0,
        "identity": 1,
    }


@pytest.mark.parametrize("accept_encoding", ["gzip", None])
async def test_each_representation_answers_304_to_its_own_etag(
    operator_and_runtime: tuple[Operator, Runtime], accept_encoding: str | None
) -> None:
    _, runtime = operator_and_runtime
    etag = (await runtime.poll_encoded(accept_encoding))[0].headers["etag"]

    response, sent = await runtime.poll_encoded(accept_encoding, etag)
    weakened, _ = await runtime.poll_encoded(accept_encoding, f"W/{etag}")

    assert (response.status_code, sent, response.headers["etag"]) == (304, b"", etag)
    assert weakened.status_code == 304


async def test_the_representations_have_distinct_etags_and_the_other_ones_etag_gets_a_full_answer(
    operator_and_runtime: tuple[Operator, Runtime],
) -> None:
    _, runtime = operator_and_runtime
    compressed_etag = (await runtime.poll_encoded("gzip"))[0].headers["etag"]
    plain_etag = (await runtime.poll_encoded(None))[0].headers["etag"]

    response, sent = await runtime.poll_encoded(None, compressed_etag)

    assert compressed_etag != plain_etag
    assert (response.status_code, response.headers["etag"]) == (200, plain_etag)
    assert json.loads(sent)["data"]["result"]["totalCount"] == 1


@pytest.mark.parametrize("accept_encoding", ["gzip", None])
async def test_every_runtime_answer_varies_by_accept_encoding(
    operator_and_runtime: tuple[Operator, Runtime], accept_encoding: str | None
) -> None:
    _, runtime = operator_and_runtime

    executed = (await runtime.poll_encoded(accept_encoding))[0]
    kept = (await runtime.poll_encoded(accept_encoding))[0]
    not_modified = (await runtime.poll_encoded(accept_encoding, kept.headers["etag"]))[0]

    assert [response.headers["vary"] for response in (executed, kept, not_modified)] == ["Accept-Encoding"] * 3


def test_the_cache_counts_the_bytes_a_kept_answer_actually_holds() -> None:
    cache: MemoryCache[str, KeptAnswer] = MemoryCache(max_entries=10, max_bytes=100, size_of=len)

    cache.put("compressed", KeptAnswer(None, b"z" * 10))
    cache.put("both", KeptAnswer(b"j" * 50, b"z" * 20))

    assert cache.bytes == 80
