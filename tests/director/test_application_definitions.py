"""API and event definitions added to an application directly, outside its bundles (Compass's
addAPIDefinitionToApplication, updateAPIDefinitionForApplication, apisForApplication and their event siblings)."""

from __future__ import annotations

from tests.director.examples.test_applications import add_api, add_event, register
from tests.support import Operator

APIS = 'query { result: apisForApplication(appID: "%s") { data { id name } totalCount } }'
EVENTS = 'query { result: eventsForApplication(appID: "%s") { data { id name } totalCount } }'


async def test_an_application_without_a_base_url_takes_the_apis_scheme_and_host(operator: Operator) -> None:
    # given
    application = await register(operator)
    # when
    await add_api(operator, application["id"])
    # then
    data = await operator.query(f'query {{ result: application(id: "{application["id"]}") {{ baseUrl }} }}')
    assert data["result"]["baseUrl"] == "https://shop.example.com"


async def test_an_application_with_a_base_url_keeps_it(operator: Operator) -> None:
    # given
    application = await register(operator, 'baseUrl: "https://mine.example.com/root"')
    # when
    await add_api(operator, application["id"])
    # then
    data = await operator.query(f'query {{ result: application(id: "{application["id"]}") {{ baseUrl }} }}')
    assert data["result"]["baseUrl"] == "https://mine.example.com/root"


async def test_definitions_added_to_the_application_are_in_none_of_its_bundles(operator: Operator) -> None:
    # given
    application = await register(operator, 'bundles: [{ name: "b" }]')
    # when
    await add_api(operator, application["id"])
    await add_event(operator, application["id"])
    # then
    data = await operator.query(
        f'query {{ result: application(id: "{application["id"]}") '
        "{ bundles { data { apiDefinitions { totalCount } eventDefinitions { totalCount } } } } }"
    )
    assert data["result"]["bundles"]["data"] == [{"apiDefinitions": {"totalCount": 0}, "eventDefinitions": {"totalCount": 0}}]


async def test_apis_for_application_lists_the_bundled_ones_too(operator: Operator) -> None:
    # given an API in a bundle and one added directly
    application = await register(
        operator, 'bundles: [{ name: "b", apiDefinitions: [{ name: "bundled", targetURL: "https://b.example.com" }] }]'
    )
    await add_api(operator, application["id"], "direct")
    # when
    data = await operator.query(APIS % application["id"])
    # then
    assert sorted(api["name"] for api in data["result"]["data"]) == ["bundled", "direct"]


async def test_events_for_application_lists_the_bundled_ones_too(operator: Operator) -> None:
    # given
    application = await register(operator, 'bundles: [{ name: "b", eventDefinitions: [{ name: "bundled" }] }]')
    await add_event(operator, application["id"], "direct")
    # when
    data = await operator.query(EVENTS % application["id"])
    # then
    assert sorted(event["name"] for event in data["result"]["data"]) == ["bundled", "direct"]


async def test_apis_for_a_missing_application_is_an_empty_page(operator: Operator) -> None:
    data = await operator.query(APIS % "00000000-0000-0000-0000-000000000000")

    assert data["result"] == {"data": [], "totalCount": 0}


async def test_an_update_for_application_without_a_spec_keeps_the_stored_one(operator: Operator) -> None:
    # given
    application = await register(operator)
    api = await add_api(operator, application["id"])
    # when
    data = await operator.query(
        f'mutation {{ result: updateAPIDefinitionForApplication(id: "{api["id"]}", '
        'in: { name: "renamed", targetURL: "https://shop.example.com/v2" }) { name spec { data type format } version { value } } }'
    )
    # then
    assert data["result"] == {
        "name": "renamed",
        "spec": {"data": '{"openapi":"3.0.0"}', "type": "OPEN_API", "format": "JSON"},
        "version": None,
    }


async def test_an_update_for_application_with_a_spec_replaces_it(operator: Operator) -> None:
    # given
    application = await register(operator)
    event = await add_event(operator, application["id"])
    # when
    data = await operator.query(
        f'mutation {{ result: updateEventDefinitionForApplication(id: "{event["id"]}", '
        'in: { name: "ev", spec: { data: "{}", type: ASYNC_API, format: YAML } }) { spec { data format } } }'
    )
    # then
    assert data["result"]["spec"] == {"data": "{}", "format": "YAML"}


async def test_api_definition_of_another_application_answers_null(operator: Operator) -> None:
    # given
    mine, other = await register(operator), await register(operator)
    api = await add_api(operator, other["id"])
    # when
    data = await operator.query(
        f'query {{ result: application(id: "{mine["id"]}") {{ apiDefinition(id: "{api["id"]}") {{ id }} }} }}'
    )
    # then
    assert data["result"]["apiDefinition"] is None


async def test_unregistering_the_application_deletes_its_own_definitions(operator: Operator) -> None:
    # given
    application = await register(operator)
    api = await add_api(operator, application["id"])
    # when
    await operator.query(f'mutation {{ result: unregisterApplication(id: "{application["id"]}") {{ id }} }}')
    # then
    codes = await operator.error_codes(
        f'mutation {{ result: updateAPIDefinitionForApplication(id: "{api["id"]}", '
        'in: { name: "x", targetURL: "https://x.example.com" }) { id } }'
    )
    assert codes == ["NOT_FOUND"]


async def test_an_invalid_target_url_is_refused(operator: Operator) -> None:
    # given
    application = await register(operator)
    # when
    codes = await operator.error_codes(
        f'mutation {{ result: addAPIDefinitionToApplication(appID: "{application["id"]}", '
        'in: { name: "x", targetURL: "ftp://x" }) { id } }'
    )
    # then
    assert codes == ["INVALID_INPUT"]
