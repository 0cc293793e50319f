"""Tenant isolation of the operations on applications' definitions, integration dependencies and lifecycle:
another tenant's objects answer exactly like missing ones."""

from __future__ import annotations

import json

import pytest

from tests.director.examples.test_applications import add_api, add_dependency, add_event, register
from tests.support import Operator, TenantFactory

MISSING = "00000000-0000-0000-0000-000000000000"
API_INPUT = '{ name: "x", targetURL: "https://x.example.com" }'
# (operation, document with {app}, {api}, {event}, {dependency} and {other} for ids)
OPERATIONS = [
    ("addAPIDefinitionToApplication", 'mutation { r: addAPIDefinitionToApplication(appID: "{app}", in: ' + API_INPUT + ") { id } }"),
    ("addEventDefinitionToApplication", 'mutation { r: addEventDefinitionToApplication(appID: "{app}", in: { name: "e" }) { id } }'),
    ("updateAPIDefinitionForApplication", 'mutation { r: updateAPIDefinitionForApplication(id: "{api}", in: ' + API_INPUT + ") { id } }"),
    ("updateEventDefinitionForApplication", 'mutation { r: updateEventDefinitionForApplication(id: "{event}", in: { name: "e" }) { id } }'),
    ("apisForApplication", 'query { r: apisForApplication(appID: "{app}") { totalCount } }'),
    ("eventsForApplication", 'query { r: eventsForApplication(appID: "{app}") { totalCount } }'),
    ("Application.apiDefinition", 'query { r: application(id: "{other}") { apiDefinition(id: "{api}") { id } } }'),
    ("Application.eventDefinition", 'query { r: application(id: "{other}") { eventDefinition(id: "{event}") { id } } }'),
    ("addIntegrationDependencyToApplication", 'mutation { r: addIntegrationDependencyToApplication(appID: "{app}", in: { name: "d", ordID: ":integrationDependency:d:v1" }) { id } }'),
    ("deleteIntegrationDependency", 'mutation { r: deleteIntegrationDependency(id: "{dependency}") { id } }'),
    ("mergeApplications as source", 'mutation { r: mergeApplications(destinationID: "{other}", sourceID: "{app}") { id } }'),
    ("mergeApplications as destination", 'mutation { r: mergeApplications(destinationID: "{app}", sourceID: "{other}") { id } }'),
    ("unpairApplication", 'mutation { r: unpairApplication(id: "{app}") { id } }'),
    ("applicationBySystemNumber", 'query { r: applicationBySystemNumber(systemNumber: "{app}") { id } }'),
    ("applicationsByLocalTenantID", 'query { r: applicationsByLocalTenantID(localTenantID: "lt-{app}") { totalCount } }'),
    ("formationsForObject", 'query { r: formationsForObject(objectID: "{app}") { name } }'),
]


def _fill(document: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        document = document.replace("{" + name + "}", value)
    return document


@pytest.mark.parametrize("document", [document for _, document in OPERATIONS], ids=[name for name, _ in OPERATIONS])
async def test_another_tenants_objects_answer_like_missing_ones(tenants: TenantFactory, document: str) -> None:
    # given a tenant's application with every part, and another tenant with an application of its own
    owner = await tenants.operator()
    application = await register(owner, f'localTenantID: "lt-{MISSING}" statusCondition: CONNECTED')
    theirs = {
        "app": application["id"],
        "api": (await add_api(owner, application["id"]))["id"],
        "event": (await add_event(owner, application["id"]))["id"],
        "dependency": (await add_dependency(owner, application["id"]))["id"],
    }
    await owner.query(
        f'mutation {{ r: assignFormation(objectID: "{application["id"]}", objectType: APPLICATION, '
        'formation: { name: "DEFAULT" }) { name } }'
    )
    intruder: Operator = await tenants.operator()
    other = (await register(intruder))["id"]
    # when
    foreign = json.dumps(await intruder.execute(_fill(document, {**theirs, "other": other})))
    missing = json.dumps(await intruder.execute(_fill(document, dict.fromkeys(theirs, MISSING) | {"other": other})))
    # then (refusals name the id asked for)
    for value in theirs.values():
        foreign = foreign.replace(value, MISSING)
    assert foreign == missing
    assert (await owner.query(f'query {{ r: application(id: "{application["id"]}") {{ status {{ condition }} }} }}'))[
        "r"
    ] == {"status": {"condition": "CONNECTED"}}
