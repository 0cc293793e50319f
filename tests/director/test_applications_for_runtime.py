"""applicationsForRuntime: what a runtime sees, and the Compass Runtime Agent's one-document sync query."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.support import (
    ASSIGN_FORMATION,
    CREATE_FORMATION,
    REGISTER_RUNTIME,
    UNASSIGN_FORMATION,
    Operator,
    TenantFactory,
)

# The Compass Runtime Agent's whole poll, as it writes it: values inline, no `first`, the page under `result:`.
AGENT_SYNC_QUERY = """
query {
  runtime(id: "RUNTIME_ID") { labels }
  result: applicationsForRuntime(runtimeID: "RUNTIME_ID") {
    data {
      id name providerName description labels
      auths { id }
      bundles {
        data {
          id name description instanceAuthRequestInputSchema
          apiDefinitions {
            data {
              id name description targetURL group
              spec { data type format }
              version { value deprecated deprecatedSince forRemoval }
            }
            pageInfo { startCursor endCursor hasNextPage }
            totalCount
          }
          eventDefinitions {
            data {
              id name description group
              spec { data type format }
              version { value deprecated deprecatedSince forRemoval }
            }
            pageInfo { startCursor endCursor hasNextPage }
            totalCount
          }
          defaultInstanceAuth {
            credential {
              ... on BasicCredentialData { username password }
              ... on OAuthCredentialData { clientId clientSecret url }
            }
            additionalHeaders
            additionalQueryParams
            requestAuth { csrf { tokenEndpointURL } }
          }
        }
        pageInfo { startCursor endCursor hasNextPage }
        totalCount
      }
    }
    pageInfo { startCursor endCursor hasNextPage }
    totalCount
  }
}
"""


def agent_sync_query(runtime_id: str) -> str:
    """AGENT_SYNC_QUERY for one runtime, with the id written into the document as the agent does."""
    return AGENT_SYNC_QUERY.replace("RUNTIME_ID", runtime_id)


APPLICATIONS_FOR_RUNTIME = """
query ($runtimeID: ID!, $first: Int!, $after: PageCursor) {
  result: applicationsForRuntime(runtimeID: $runtimeID, first: $first, after: $after) {
    data { id name }
    pageInfo { startCursor endCursor hasNextPage }
    totalCount
  }
}
"""
REGISTER_APPLICATION = """
mutation ($in: ApplicationRegisterInput!) { result: registerApplication(in: $in) { id name } }
"""
REQUEST_APPLICATION_TOKEN = "mutation ($id: ID!) { result: requestOneTimeTokenForApplication(id: $id) { token } }"
APPLICATION_AUTHS = "query ($id: ID!) { result: application(id: $id) { auths { id } } }"
APPLICATION_NAME = "query ($id: ID!) { result: application(id: $id) { name } }"

OPEN_API_SPEC = '{"openapi": "3.0.0", "info": {"title": "orders", "version": "1"}, "paths": {}}'
ASYNC_API_SPEC = '{"asyncapi": "2.0.0", "info": {"title": "order events", "version": "1"}, "channels": {}}'


def basic_auth(index: int = 0) -> dict[str, Any]:
    return {
        "credential": {"basic": {"username": f"user-{index}", "password": f"secret-{index}"}},
        "additionalHeadersSerialized": json.dumps({"X-Bundle": [str(index)]}),
        "additionalQueryParamsSerialized": json.dumps({"tenant": ["t1", "t2"]}),
    }


def oauth_auth() -> dict[str, Any]:
    return {
        "credential": {
            "oauth": {
                "clientId": "client",
                "clientSecret": "client-secret",
                "url": "https://auth.example.com/token",
            }
        },
        "requestAuth": {"csrf": {"tokenEndpointURL": "https://shop.example.com/csrf"}},
    }


def bundle_input(
    index: int, *, apis: int = 2, events: int = 1, auth: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "name": f"bundle {index}",
        "description": f"bundle number {index}",
        "instanceAuthRequestInputSchema": '{"type": "object"}',
        "defaultInstanceAuth": auth if auth is not None else basic_auth(index),
        "apiDefinitions": [
            {
                "name": f"api {index}.{api}",
                "description": "orders API",
                "targetURL": f"https://shop.example.com/api/{index}/{api}",
                "spec": {"type": "OPEN_API", "format": "JSON", "data": OPEN_API_SPEC},
                "version": {"value": "v1", "deprecated": True, "deprecatedSince": "v0", "forRemoval": False},
            }
            for api in range(apis)
        ],
        "eventDefinitions": [
            {
                "name": f"events {index}.{event}",
                "description": "order events",
                "spec": {"type": "ASYNC_API", "format": "JSON", "data": ASYNC_API_SPEC},
            }
            for event in range(events)
        ],
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def register_application(
    operator: Operator,
    name: str | None = None,
    *,
    scenarios: list[str] | None = None,
    bundles: list[dict[str, Any]] | None = None,
    auth: bool = False,
) -> str:
    """Registers an application with its tree; ``auth`` gives it a system auth (by requesting a token)."""
    data: dict[str, Any] = {"name": name or unique("app"), "providerName": "ACME", "description": "a shop"}
    if scenarios:
        data["labels"] = {"scenarios": scenarios}
    if bundles:
        data["bundles"] = bundles
    application_id = str((await operator.query(REGISTER_APPLICATION, {"in": data}))["result"]["id"])
    if auth:
        await operator.query(REQUEST_APPLICATION_TOKEN, {"id": application_id})
    return application_id


async def register_runtime(
    operator: Operator, *, scenarios: list[str] | None = None, labels: dict[str, Any] | None = None
) -> str:
    all_labels = dict(labels or {})
    if scenarios:
        all_labels["scenarios"] = scenarios
    data = {"name": unique("runtime"), "labels": all_labels or None}
    return str((await operator.query(REGISTER_RUNTIME, {"in": data}))["result"]["id"])


async def create_formations(operator: Operator, *names: str) -> None:
    for name in names:
        await operator.query(CREATE_FORMATION, {"name": name})


async def visible_names(operator: Operator, runtime_id: str) -> list[str]:
    data = await operator.query(APPLICATIONS_FOR_RUNTIME, {"runtimeID": runtime_id, "first": 200})
    return [application["name"] for application in data["result"]["data"]]


def empty_page() -> dict[str, Any]:
    return {"data": [], "pageInfo": {"startCursor": "", "endCursor": "", "hasNextPage": False}, "totalCount": 0}


class TestVisibility:
    async def test_returns_exactly_the_applications_sharing_a_formation(self, operator: Operator) -> None:
        # given
        await create_formations(operator, "shared", "elsewhere")
        runtime_id = await register_runtime(operator, scenarios=["shared"])
        await register_application(operator, "in-shared", scenarios=["shared"])
        await register_application(operator, "in-both", scenarios=["elsewhere", "shared"])
        await register_application(operator, "in-elsewhere", scenarios=["elsewhere"])
        await register_application(operator, "in-default", scenarios=["DEFAULT"])
        await register_application(operator, "in-none")
        # when
        names = await visible_names(operator, runtime_id)
        # then
        assert names == ["mp-in-both", "mp-in-shared"]

    async def test_a_runtime_without_scenarios_sees_nothing(self, operator: Operator) -> None:
        runtime_id = await register_runtime(operator)
        await register_application(operator, scenarios=["DEFAULT"])
        data = await operator.query(APPLICATIONS_FOR_RUNTIME, {"runtimeID": runtime_id, "first": 200})
        assert data["result"] == empty_page()

    async def test_an_application_in_two_shared_formations_appears_once(self, operator: Operator) -> None:
        await create_formations(operator, "one", "two")
        runtime_id = await register_runtime(operator, scenarios=["one", "two"])
        await register_application(operator, "twice", scenarios=["one", "two"])
        data = await operator.query(APPLICATIONS_FOR_RUNTIME, {"runtimeID": runtime_id, "first": 200})
        assert [application["name"] for application in data["result"]["data"]] == ["mp-twice"]
        assert data["result"]["totalCount"] == 1

    async def test_assigning_and_unassigning_formations_changes_what_the_runtime_sees(
        self, operator: Operator
    ) -> None:
        # given
        await create_formations(operator, "live")
        runtime_id = await register_runtime(operator)
        application_id = await register_application(operator, "shop")
        # when the runtime and then the application join
        await operator.query(ASSIGN_FORMATION, {"id": runtime_id, "type": "RUNTIME", "name": "live"})
        before = await visible_names(operator, runtime_id)
        await operator.query(ASSIGN_FORMATION, {"id": application_id, "type": "APPLICATION", "name": "live"})
        joined = await visible_names(operator, runtime_id)
        await operator.query(UNASSIGN_FORMATION, {"id": application_id, "type": "APPLICATION", "name": "live"})
        left = await visible_names(operator, runtime_id)
        # then
        assert (before, joined, left) == ([], ["mp-shop"], [])

    async def test_applications_of_another_tenant_in_a_formation_of_the_same_name_are_invisible(
        self, tenants: TenantFactory
    ) -> None:
        operator, other = await tenants.operator(), await tenants.operator()
        runtime_id = await register_runtime(operator, scenarios=["DEFAULT"])
        await register_application(other, "foreign", scenarios=["DEFAULT"])
        await register_application(operator, "own", scenarios=["DEFAULT"])
        assert await visible_names(operator, runtime_id) == ["mp-own"]


class TestPaging:
    async def test_pages_walk_through_every_application_once(self, operator: Operator) -> None:
        # given
        runtime_id = await register_runtime(operator, scenarios=["DEFAULT"])
        for index in range(5):
            await register_application(operator, f"app-{index}", scenarios=["DEFAULT"])
        # when
        pages: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            variables = {"runtimeID": runtime_id, "first": 2, "after": after}
            page = (await operator.query(APPLICATIONS_FOR_RUNTIME, variables))["result"]
            pages.append(page)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        # then
        assert [[a["name"] for a in page["data"]] for page in pages] == [
            ["mp-app-0", "mp-app-1"],
            ["mp-app-2", "mp-app-3"],
            ["mp-app-4"],
        ]
        assert {page["totalCount"] for page in pages} == {5}
        assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False]
        assert pages[-1]["pageInfo"]["endCursor"] == ""

    @pytest.mark.parametrize("first", [0, 201])
    async def test_a_page_size_outside_1_to_200_is_invalid_input(
        self, operator: Operator, first: int
    ) -> None:
        runtime_id = await register_runtime(operator, scenarios=["DEFAULT"])
        variables = {"runtimeID": runtime_id, "first": first}
        assert await operator.error_codes(APPLICATIONS_FOR_RUNTIME, variables) == ["INVALID_INPUT"]


class TestUnknownRuntime:
    async def test_a_runtime_that_does_not_exist_is_not_found(self, operator: Operator) -> None:
        variables = {"runtimeID": str(uuid.uuid4()), "first": 200}
        assert await operator.error_codes(APPLICATIONS_FOR_RUNTIME, variables) == ["NOT_FOUND"]

    async def test_a_runtime_of_another_tenant_answers_exactly_as_one_that_does_not_exist(
        self, tenants: TenantFactory
    ) -> None:
        # given
        operator, other = await tenants.operator(), await tenants.operator()
        foreign_id = await register_runtime(other, scenarios=["DEFAULT"])
        await register_application(other, scenarios=["DEFAULT"])
        missing_id = str(uuid.uuid4())
        # when
        foreign = await operator.execute(APPLICATIONS_FOR_RUNTIME, {"runtimeID": foreign_id, "first": 200})
        missing = await operator.execute(APPLICATIONS_FOR_RUNTIME, {"runtimeID": missing_id, "first": 200})
        # then
        assert json.dumps(foreign).replace(foreign_id, "ID") == json.dumps(missing).replace(missing_id, "ID")
        assert [error["extensions"]["code"] for error in foreign["errors"]] == ["NOT_FOUND"]


class TestNormalization:
    async def test_names_are_normalized_for_a_runtime_registered_by_default(self, operator: Operator) -> None:
        runtime_id = await register_runtime(operator, scenarios=["DEFAULT"])
        await register_application(operator, "My Shop_2.0 (EU)", scenarios=["DEFAULT"])
        assert await visible_names(operator, runtime_id) == ["mp-my-shop-2-0-eu"]

    async def test_names_are_kept_for_a_runtime_registered_with_is_normalized_false(
        self, operator: Operator
    ) -> None:
        runtime_id = await register_runtime(operator, scenarios=["DEFAULT"], labels={"isNormalized": "false"})
        await register_application(operator, "My Shop_2.0 (EU)", scenarios=["DEFAULT"])
        assert await visible_names(operator, runtime_id) == ["My Shop_2.0 (EU)"]

    async def test_normalization_does_not_change_the_stored_name(self, operator: Operator) -> None:
        runtime_id = await register_runtime(operator, scenarios=["DEFAULT"])
        application_id = await register_application(operator, "Shop", scenarios=["DEFAULT"])
        await visible_names(operator, runtime_id)
        data = await operator.query(APPLICATION_NAME, {"id": application_id})
        assert data["result"]["name"] == "Shop"


class TestAgentSyncQuery:
    async def test_answers_the_whole_tree_in_one_document(self, operator: Operator) -> None:
        # given
        runtime_id = await register_runtime(operator, scenarios=["DEFAULT"])
        application_id = await register_application(
            operator,
            "Order Shop",
            scenarios=["DEFAULT"],
            bundles=[bundle_input(0), bundle_input(1, apis=1, events=0, auth=oauth_auth())],
            auth=True,
        )
        auths = (await operator.query(APPLICATION_AUTHS, {"id": application_id}))["result"]["auths"]
        # when
        body = await operator.execute(agent_sync_query(runtime_id))
        # then
        assert "errors" not in body
        assert body["data"]["runtime"]["labels"] == {"isNormalized": "true", "scenarios": ["DEFAULT"]}
        page = body["data"]["result"]
        assert page["totalCount"] == 1
        assert (page["pageInfo"]["endCursor"], page["pageInfo"]["hasNextPage"]) == ("", False)
        [application] = page["data"]
        assert application["id"] == application_id
        assert application["name"] == "mp-order-shop"
        assert (application["providerName"], application["description"]) == ("ACME", "a shop")
        assert application["labels"] == {"scenarios": ["DEFAULT"]}
        assert len(auths) == 1
        assert application["auths"] == auths
        bundles = application["bundles"]
        assert bundles["totalCount"] == 2
        assert bundles["pageInfo"]["hasNextPage"] is False
        first, second = sorted(bundles["data"], key=lambda bundle: bundle["name"])
        assert (first["name"], first["description"]) == ("bundle 0", "bundle number 0")
        assert first["instanceAuthRequestInputSchema"] == '{"type": "object"}'
        assert first["apiDefinitions"]["totalCount"] == 2
        assert first["apiDefinitions"]["pageInfo"]["hasNextPage"] is False
        api = first["apiDefinitions"]["data"][0]
        assert api["name"] == "api 0.0"
        assert api["targetURL"] == "https://shop.example.com/api/0/0"
        assert api["spec"] == {"data": OPEN_API_SPEC, "type": "OPEN_API", "format": "JSON"}
        assert api["version"] == {"value": "v1", "deprecated": True, "deprecatedSince": "v0", "forRemoval": False}
        assert first["eventDefinitions"]["totalCount"] == 1
        event = first["eventDefinitions"]["data"][0]
        assert event["name"] == "events 0.0"
        assert event["spec"] == {"data": ASYNC_API_SPEC, "type": "ASYNC_API", "format": "JSON"}
        assert first["defaultInstanceAuth"] == {
            "credential": {"username": "user-0", "password": "secret-0"},
            "additionalHeaders": {"X-Bundle": ["0"]},
            "additionalQueryParams": {"tenant": ["t1", "t2"]},
            "requestAuth": None,
        }
        assert second["apiDefinitions"]["totalCount"] == 1
        assert second["eventDefinitions"] == {
            "data": [],
            "pageInfo": {"startCursor": "", "endCursor": "", "hasNextPage": False},
            "totalCount": 0,
        }
        assert second["defaultInstanceAuth"] == {
            "credential": {
                "clientId": "client",
                "clientSecret": "client-secret",
                "url": "https://auth.example.com/token",
            },
            "additionalHeaders": None,
            "additionalQueryParams": None,
            "requestAuth": {"csrf": {"tokenEndpointURL": "https://shop.example.com/csrf"}},
        }

    async def test_a_runtime_that_sees_nothing_gets_an_empty_page_and_its_labels(
        self, operator: Operator
    ) -> None:
        runtime_id = await register_runtime(operator)
        body = await operator.execute(agent_sync_query(runtime_id))
        assert body == {"data": {"runtime": {"labels": {"isNormalized": "true"}}, "result": empty_page()}}

    async def test_is_sent_as_the_agent_sends_it(self, operator: Operator) -> None:
        """The agent posts the document with ``"variables": null`` and a charset in the content type."""
        runtime_id = await register_runtime(operator, scenarios=["DEFAULT"])
        await register_application(operator, "shop", scenarios=["DEFAULT"], bundles=[bundle_input(0)])
        payload = json.dumps({"query": agent_sync_query(runtime_id), "variables": None}).encode()
        response = await operator.client.post(
            "/director/graphql",
            content=payload,
            headers={**operator.headers, "Content-Type": "application/json; charset=utf-8"},
        )
        assert response.status_code == 200
        body = response.json()
        assert "errors" not in body
        assert [application["name"] for application in body["data"]["result"]["data"]] == ["mp-shop"]

