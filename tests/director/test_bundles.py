"""Bundles over HTTP: their API and event definitions, documents, instance auth, nested pages and tenants."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import Operator, TenantFactory

REGISTER = """
mutation Register($in: ApplicationRegisterInput!) {
  result: registerApplication(in: $in) {
    id
    bundles {
      data {
        id
        apiDefinitions { data { id } }
        eventDefinitions { data { id } }
        documents { data { id } }
      }
    }
  }
}
"""

BUNDLE_FIELDS = """
fragment BundleFields on Bundle {
  id
  name
  description
  instanceAuthRequestInputSchema
  defaultInstanceAuth {
    credential {
      ... on BasicCredentialData { username password }
      ... on OAuthCredentialData { clientId clientSecret url }
      ... on CertificateOAuthCredentialData { clientId certificate url }
    }
    additionalHeaders
    additionalQueryParams
    additionalHeadersSerialized
    additionalQueryParamsSerialized
    requestAuth {
      csrf {
        tokenEndpointURL
        credential {
          ... on BasicCredentialData { username password }
          ... on OAuthCredentialData { clientId clientSecret url }
          ... on CertificateOAuthCredentialData { clientId certificate url }
        }
        additionalHeaders
        additionalQueryParams
      }
    }
  }
  apiDefinitions {
    totalCount
    data { id name description targetURL group spec { data type format } version { value } }
  }
  eventDefinitions {
    totalCount
    data { id name description group spec { data type format } version { value } }
  }
  documents { totalCount data { id title displayName description format kind data } }
}
"""

BUNDLE = (
    """
query Bundle($applicationID: ID!, $id: ID!) {
  result: application(id: $applicationID) { bundle(id: $id) { ...BundleFields } }
}
"""
    + BUNDLE_FIELDS
)

ADD_BUNDLE = (
    """
mutation AddBundle($applicationID: ID!, $in: BundleCreateInput!) {
  result: addBundle(applicationID: $applicationID, in: $in) { ...BundleFields }
}
"""
    + BUNDLE_FIELDS
)

# Written the way Compass clients write it: values in the document, under a result alias.
ADD_BUNDLE_INLINE = r"""
mutation AddBundle($applicationID: ID!) {
  result: addBundle(applicationID: $applicationID, in: {
    name: "inline"
    defaultInstanceAuth: {
      credential: {basic: {username: "admin", password: "secret"}}
      additionalQueryParamsSerialized: "{\"lang\":[\"en\",\"de\"]}"
    }
    apiDefinitions: [{
      name: "api", targetURL: "https://api.example.com", spec: {type: ODATA, format: XML, data: "<edmx/>"}
    }]
  }) {
    name
    defaultInstanceAuth {
      credential { ... on BasicCredentialData { username password } }
      additionalQueryParams
      additionalQueryParamsSerialized
    }
    apiDefinitions { data { name spec { type format data } } }
  }
}
"""

UPDATE_BUNDLE = (
    """
mutation UpdateBundle($id: ID!, $in: BundleUpdateInput!) {
  result: updateBundle(id: $id, in: $in) { ...BundleFields }
}
"""
    + BUNDLE_FIELDS
)

UPDATE_BUNDLE_INLINE_SCHEMA = """
mutation UpdateBundle($id: ID!) {
  result: updateBundle(id: $id, in: {name: "x", instanceAuthRequestInputSchema: "{"}) { id }
}
"""

DELETE_BUNDLE = "mutation DeleteBundle($id: ID!) { result: deleteBundle(id: $id) { id name } }"

VERSION_FIELDS = "version { value deprecated deprecatedSince forRemoval }"

API_FIELDS = f"id name description targetURL group spec {{ data type format }} {VERSION_FIELDS}"

ADD_API = f"""
mutation AddAPI($bundleID: ID!, $in: APIDefinitionInput!) {{
  result: addAPIDefinitionToBundle(bundleID: $bundleID, in: $in) {{ {API_FIELDS} }}
}}
"""

UPDATE_API = f"""
mutation UpdateAPI($id: ID!, $in: APIDefinitionInput!) {{
  result: updateAPIDefinition(id: $id, in: $in) {{ {API_FIELDS} }}
}}
"""

DELETE_API = "mutation DeleteAPI($id: ID!) { result: deleteAPIDefinition(id: $id) { id name } }"

EVENT_FIELDS = f"id name description group spec {{ data type format }} {VERSION_FIELDS}"

ADD_EVENT = f"""
mutation AddEvent($bundleID: ID!, $in: EventDefinitionInput!) {{
  result: addEventDefinitionToBundle(bundleID: $bundleID, in: $in) {{ {EVENT_FIELDS} }}
}}
"""

UPDATE_EVENT = f"""
mutation UpdateEvent($id: ID!, $in: EventDefinitionInput!) {{
  result: updateEventDefinition(id: $id, in: $in) {{ {EVENT_FIELDS} }}
}}
"""

DELETE_EVENT = "mutation DeleteEvent($id: ID!) { result: deleteEventDefinition(id: $id) { id name } }"

ADD_DOCUMENT = """
mutation AddDocument($bundleID: ID!, $in: DocumentInput!) {
  result: addDocumentToBundle(bundleID: $bundleID, in: $in) {
    id title displayName description format kind data
  }
}
"""

DELETE_DOCUMENT = "mutation DeleteDocument($id: ID!) { result: deleteDocument(id: $id) { id title } }"

BUNDLE_PAGE = """
query Bundles($id: ID!, $first: Int!, $after: PageCursor) {
  result: application(id: $id) {
    bundles(first: $first, after: $after) {
      totalCount
      pageInfo { startCursor endCursor hasNextPage }
      data { name }
    }
  }
}
"""

API_PAGE = """
query APIs($applicationID: ID!, $id: ID!, $first: Int!, $after: PageCursor) {
  result: application(id: $applicationID) {
    bundle(id: $id) {
      apiDefinitions(first: $first, after: $after) {
        totalCount
        pageInfo { endCursor hasNextPage }
        data { name }
      }
    }
  }
}
"""

IN_GROUP = """
query InGroup($applicationID: ID!, $id: ID!, $group: String!) {
  result: application(id: $applicationID) {
    bundle(id: $id) {
      apiDefinitions(group: $group) { totalCount data { name group } }
      eventDefinitions(group: $group) { totalCount data { name group } }
    }
  }
}
"""

SWAGGER = '{"openapi": "3.0.0"}'


@dataclass
class Tree:
    application_id: str
    bundle_id: str
    api_ids: list[str]
    event_ids: list[str]
    document_ids: list[str]


def api(name: str, *, group: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"name": name, "targetURL": f"https://api.example.com/{name}", "group": group, **fields}


def event(name: str, *, group: str | None = None) -> dict[str, Any]:
    return {"name": name, "group": group}


def document(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "displayName": title.title(),
        "description": f"about {title}",
        "format": "MARKDOWN",
    }


def basic_auth(username: str = "admin", password: str = "secret") -> dict[str, Any]:
    return {"credential": {"basic": {"username": username, "password": password}}}


async def register_tree(operator: Operator, bundles: list[dict[str, Any]] | None = None) -> Tree:
    """An application whose first bundle holds two APIs, one event definition and one document."""
    bundles = bundles or [
        {
            "name": "orders",
            "description": "the orders",
            "defaultInstanceAuth": basic_auth(),
            "apiDefinitions": [api("orders", group="v1"), api("returns", group="v2")],
            "eventDefinitions": [event("order-created", group="v1")],
            "documents": [document("guide")],
        }
    ]
    data = await operator.query(REGISTER, {"in": {"name": f"app-{uuid.uuid4().hex[:8]}", "bundles": bundles}})
    first = data["result"]["bundles"]["data"][0]
    return Tree(
        application_id=data["result"]["id"],
        bundle_id=first["id"],
        api_ids=[row["id"] for row in first["apiDefinitions"]["data"]],
        event_ids=[row["id"] for row in first["eventDefinitions"]["data"]],
        document_ids=[row["id"] for row in first["documents"]["data"]],
    )


async def read_bundle(operator: Operator, tree: Tree, bundle_id: str | None = None) -> dict[str, Any] | None:
    variables = {"applicationID": tree.application_id, "id": bundle_id or tree.bundle_id}
    data = await operator.query(BUNDLE, variables)
    bundle: dict[str, Any] | None = data["result"]["bundle"]
    return bundle


def names(page: dict[str, Any]) -> list[str]:
    return [row["name"] for row in page["data"]]


class TestAddBundle:
    async def test_adds_a_bundle_with_its_definitions_to_the_application(self, operator: Operator) -> None:
        # given
        tree = await register_tree(operator)
        new_bundle = {
            "name": "payments",
            "description": "money",
            "instanceAuthRequestInputSchema": '{"type": "object", "required": ["user"]}',
            "defaultInstanceAuth": basic_auth("payer", "pw"),
            "apiDefinitions": [
                api("pay", group="g", spec={"data": SWAGGER, "type": "OPEN_API", "format": "JSON"})
            ],
            "eventDefinitions": [event("paid")],
            "documents": [document("howto")],
        }

        # when
        data = await operator.query(ADD_BUNDLE, {"applicationID": tree.application_id, "in": new_bundle})

        # then
        added = data["result"]
        assert added["name"] == "payments"
        assert added["description"] == "money"
        assert added["instanceAuthRequestInputSchema"] == new_bundle["instanceAuthRequestInputSchema"]
        assert added["defaultInstanceAuth"]["credential"] == {"username": "payer", "password": "pw"}
        assert [(row["name"], row["group"], row["spec"]) for row in added["apiDefinitions"]["data"]] == [
            ("pay", "g", {"data": SWAGGER, "type": "OPEN_API", "format": "JSON"})
        ]
        assert names(added["eventDefinitions"]) == ["paid"]
        assert [row["title"] for row in added["documents"]["data"]] == ["howto"]
        assert await read_bundle(operator, tree, added["id"]) == added

    async def test_accepts_values_written_into_the_document(self, operator: Operator) -> None:
        tree = await register_tree(operator)

        data = await operator.query(ADD_BUNDLE_INLINE, {"applicationID": tree.application_id})

        assert data == {
            "result": {
                "name": "inline",
                "defaultInstanceAuth": {
                    "credential": {"username": "admin", "password": "secret"},
                    "additionalQueryParams": {"lang": ["en", "de"]},
                    "additionalQueryParamsSerialized": '{"lang":["en","de"]}',
                },
                "apiDefinitions": {
                    "data": [{"name": "api", "spec": {"type": "ODATA", "format": "XML", "data": "<edmx/>"}}]
                },
            }
        }

    async def test_an_invalid_definition_adds_no_bundle(self, operator: Operator) -> None:
        # given
        tree = await register_tree(operator)
        broken = {
            "name": "broken",
            "apiDefinitions": [api("fine"), {"name": "bad", "targetURL": "//no-scheme"}],
        }

        # when
        codes = await operator.error_codes(ADD_BUNDLE, {"applicationID": tree.application_id, "in": broken})

        # then
        assert codes == ["INVALID_INPUT"]
        page = await operator.query(BUNDLE_PAGE, {"id": tree.application_id, "first": 10})
        assert names(page["result"]["bundles"]) == ["orders"]

    async def test_a_nonexistent_application_is_not_found(self, operator: Operator) -> None:
        variables = {"applicationID": str(uuid.uuid4()), "in": {"name": "b"}}

        codes = await operator.error_codes(ADD_BUNDLE, variables)

        assert codes == ["NOT_FOUND"]


class TestUpdateBundle:
    async def test_replaces_the_bundles_own_fields_and_keeps_its_definitions(
        self, operator: Operator
    ) -> None:
        # given
        tree = await register_tree(operator)
        changes = {
            "name": "orders-v2",
            "description": "renamed",
            "defaultInstanceAuth": {
                "credential": {
                    "oauth": {"clientId": "c", "clientSecret": "s", "url": "https://auth.example.com/t"}
                }
            },
        }

        # when
        updated = (await operator.query(UPDATE_BUNDLE, {"id": tree.bundle_id, "in": changes}))["result"]

        # then
        assert updated["name"] == "orders-v2"
        assert updated["description"] == "renamed"
        assert updated["defaultInstanceAuth"]["credential"] == {
            "clientId": "c",
            "clientSecret": "s",
            "url": "https://auth.example.com/t",
        }
        assert names(updated["apiDefinitions"]) == ["orders", "returns"]
        assert updated["documents"]["totalCount"] == 1
        assert await read_bundle(operator, tree) == updated

    async def test_omitted_optional_fields_are_cleared(self, operator: Operator) -> None:
        tree = await register_tree(operator)

        data = await operator.query(UPDATE_BUNDLE, {"id": tree.bundle_id, "in": {"name": "bare"}})

        updated = data["result"]

        assert (updated["description"], updated["defaultInstanceAuth"]) == (None, None)

    async def test_a_schema_that_is_not_a_json_object_is_invalid_input(self, operator: Operator) -> None:
        tree = await register_tree(operator)

        changes = {"name": "x", "instanceAuthRequestInputSchema": "[1]"}

        codes = await operator.error_codes(UPDATE_BUNDLE, {"id": tree.bundle_id, "in": changes})

        assert codes == ["INVALID_INPUT"]
        bundle = await read_bundle(operator, tree)
        assert bundle is not None and bundle["name"] == "orders"

    @pytest.mark.parametrize(
        "written",
        ["inline", "variables"],
    )
    async def test_a_schema_that_is_no_json_is_invalid_input_however_it_is_written(
        self, operator: Operator, written: str
    ) -> None:
        # given
        tree = await register_tree(operator)

        # when
        if written == "inline":
            codes = await operator.error_codes(UPDATE_BUNDLE_INLINE_SCHEMA, {"id": tree.bundle_id})
        else:
            changes = {"name": "x", "instanceAuthRequestInputSchema": "{"}
            codes = await operator.error_codes(UPDATE_BUNDLE, {"id": tree.bundle_id, "in": changes})

        # then
        assert codes == ["INVALID_INPUT"]

    async def test_a_nonexistent_bundle_is_not_found(self, operator: Operator) -> None:
        codes = await operator.error_codes(UPDATE_BUNDLE, {"id": str(uuid.uuid4()), "in": {"name": "x"}})

        assert codes == ["NOT_FOUND"]


class TestDeleteBundle:
    async def test_removes_the_bundle(self, operator: Operator) -> None:
        # given
        tree = await register_tree(operator)

        # when
        data = await operator.query(DELETE_BUNDLE, {"id": tree.bundle_id})

        # then
        assert data == {"result": {"id": tree.bundle_id, "name": "orders"}}
        assert await read_bundle(operator, tree) is None

    async def test_removes_the_bundles_definitions_and_documents(self, operator: Operator) -> None:
        # given
        tree = await register_tree(operator)

        # when
        await operator.query(DELETE_BUNDLE, {"id": tree.bundle_id})

        # then
        assert await operator.error_codes(DELETE_API, {"id": tree.api_ids[0]}) == ["NOT_FOUND"]
        assert await operator.error_codes(DELETE_EVENT, {"id": tree.event_ids[0]}) == ["NOT_FOUND"]
        assert await operator.error_codes(DELETE_DOCUMENT, {"id": tree.document_ids[0]}) == ["NOT_FOUND"]

    async def test_a_nonexistent_bundle_is_not_found(self, operator: Operator) -> None:
        assert await operator.error_codes(DELETE_BUNDLE, {"id": str(uuid.uuid4())}) == ["NOT_FOUND"]


class TestBundleQueries:
    async def test_a_bundle_of_another_application_is_null(self, operator: Operator) -> None:
        # given
        tree = await register_tree(operator)
        other = await register_tree(operator)

        # when
        data = await operator.query(BUNDLE, {"applicationID": other.application_id, "id": tree.bundle_id})

        # then
        assert data == {"result": {"bundle": None}}

    async def test_api_and_event_definitions_can_be_filtered_by_group(self, operator: Operator) -> None:
        # given
        tree = await register_tree(operator)

        # when
        variables = {"applicationID": tree.application_id, "id": tree.bundle_id, "group": "v1"}
        data = await operator.query(IN_GROUP, variables)

        # then
        assert data == {
            "result": {
                "bundle": {
                    "apiDefinitions": {"totalCount": 1, "data": [{"name": "orders", "group": "v1"}]},
                    "eventDefinitions": {"totalCount": 1, "data": [{"name": "order-created", "group": "v1"}]},
                }
            }
        }

    async def test_a_group_without_definitions_answers_an_empty_page(self, operator: Operator) -> None:
        tree = await register_tree(operator)

        variables = {"applicationID": tree.application_id, "id": tree.bundle_id, "group": "v9"}

        data = await operator.query(IN_GROUP, variables)

        bundle = data["result"]["bundle"]
        assert bundle["apiDefinitions"] == bundle["eventDefinitions"] == {"totalCount": 0, "data": []}

    async def test_bundles_come_in_pages_linked_by_end_cursor(self, operator: Operator) -> None:
        # given
        tree = await register_tree(operator, [{"name": "first"}, {"name": "second"}, {"name": "third"}])
        pages: list[dict[str, Any]] = []
        after: str | None = None

        # when
        for _ in range(3):
            data = await operator.query(BUNDLE_PAGE, {"id": tree.application_id, "first": 1, "after": after})
            pages.append(data["result"]["bundles"])
            after = pages[-1]["pageInfo"]["endCursor"]

        # then
        assert [names(page) for page in pages] == [["first"], ["second"], ["third"]]
        assert [page["totalCount"] for page in pages] == [3, 3, 3]
        assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False]
        assert pages[0]["pageInfo"]["endCursor"] != ""
        assert pages[0]["pageInfo"]["endCursor"] != pages[1]["pageInfo"]["endCursor"]
        assert pages[2]["pageInfo"]["endCursor"] == ""

    async def test_definitions_inside_a_bundle_come_in_pages(self, operator: Operator) -> None:
        # given
        tree = await register_tree(
            operator, [{"name": "b", "apiDefinitions": [api(f"api-{index}") for index in range(3)]}]
        )
        variables = {"applicationID": tree.application_id, "id": tree.bundle_id, "first": 2}

        # when
        first = (await operator.query(API_PAGE, variables))["result"]["bundle"]["apiDefinitions"]
        after = first["pageInfo"]["endCursor"]
        data = await operator.query(API_PAGE, {**variables, "after": after})
        second = data["result"]["bundle"]["apiDefinitions"]

        # then
        assert (names(first), first["totalCount"], first["pageInfo"]["hasNextPage"]) == (
            ["api-0", "api-1"],
            3,
            True,
        )
        assert (names(second), second["totalCount"], second["pageInfo"]) == (
            ["api-2"],
            3,
            {"endCursor": "", "hasNextPage": False},
        )

    @pytest.mark.parametrize("first", [0, 201, -1])
    async def test_a_page_size_outside_1_to_200_is_invalid_input(
        self, operator: Operator, first: int
    ) -> None:
        tree = await register_tree(operator)

        codes = await operator.error_codes(BUNDLE_PAGE, {"id": tree.application_id, "first": first})

        assert codes == ["INVALID_INPUT"]

    async def test_a_cursor_this_api_did_not_return_is_invalid_input(self, operator: Operator) -> None:
        tree = await register_tree(operator)

        variables = {"id": tree.application_id, "first": 1, "after": "bogus!"}

        codes = await operator.error_codes(BUNDLE_PAGE, variables)

        assert codes == ["INVALID_INPUT"]


class TestAPIDefinitions:
    async def test_add_answers_with_the_definition_and_the_bundle_lists_it(self, operator: Operator) -> None:
        # given
        tree = await register_tree(operator)
        new_api = api(
            "refunds",
            group="v2",
            description="money back",
            spec={"data": SWAGGER, "type": "OPEN_API", "format": "YAML"},
            version={"value": "2.0", "deprecated": False, "forRemoval": True, "deprecatedSince": "3.0"},
        )

        # when
        added = (await operator.query(ADD_API, {"bundleID": tree.bundle_id, "in": new_api}))["result"]

        # then
        assert {key: value for key, value in added.items() if key != "id"} == {
            "name": "refunds",
            "description": "money back",
            "targetURL": "https://api.example.com/refunds",
            "group": "v2",
            "spec": {"data": SWAGGER, "type": "OPEN_API", "format": "YAML"},
            "version": {"value": "2.0", "deprecated": False, "deprecatedSince": "3.0", "forRemoval": True},
        }
        bundle = await read_bundle(operator, tree)
        assert bundle is not None
        assert names(bundle["apiDefinitions"]) == ["orders", "returns", "refunds"]

    async def test_update_replaces_the_definition(self, operator: Operator) -> None:
        # given
        tree = await register_tree(operator)
        replacement = {"name": "orders-v2", "targetURL": "https://v2.example.com/orders"}

        # when
        updated = (await operator.query(UPDATE_API, {"id": tree.api_ids[0], "in": replacement}))["result"]

        # then
        assert updated == {
            "id": tree.api_ids[0],
            "name": "orders-v2",
            "description": None,
            "targetURL": "https://v2.example.com/orders",
            "group": None,
            "spec": None,
            "version": None,
        }
        bundle = await read_bundle(operator, tree)
        assert bundle is not None
        assert names(bundle["apiDefinitions"]) == ["orders-v2", "returns"]

    async def test_delete_removes_the_definition(self, operator: Operator) -> None:
        # given
        tree = await register_tree(operator)

        # when
        data = await operator.query(DELETE_API, {"id": tree.api_ids[0]})

        # then
        assert data == {"result": {"id": tree.api_ids[0], "name": "orders"}}
        bundle = await read_bundle(operator, tree)
        assert bundle is not None
        assert names(bundle["apiDefinitions"]) == ["returns"]

    @pytest.mark.parametrize("target_url", ["", "not a url", "ftp://files.example.com", "https://"])
    async def test_a_target_url_that_is_not_absolute_http_is_invalid_input(
        self, operator: Operator, target_url: str
    ) -> None:
        # given
        tree = await register_tree(operator)
        variables = {"bundleID": tree.bundle_id, "in": {"name": "x", "targetURL": target_url}}

        # when
        codes = await operator.error_codes(ADD_API, variables)

        # then
        assert codes == ["INVALID_INPUT"]
        bundle = await read_bundle(operator, tree)
        assert bundle is not None and bundle["apiDefinitions"]["totalCount"] == 2

    @pytest.mark.parametrize(
        ("field", "definition"),
        [
            ("group", api("x", group="g" * 257)),
            ("version.value", api("x", version={"value": "1" * 65})),
            ("version.deprecatedSince", api("x", version={"value": "1", "deprecatedSince": "1" * 65})),
            ("name", {"name": "n" * 257, "targetURL": "https://api.example.com"}),
        ],
    )
    async def test_a_field_longer_than_its_column_is_invalid_input(
        self, operator: Operator, field: str, definition: dict[str, Any]
    ) -> None:
        tree = await register_tree(operator)

        codes = await operator.error_codes(ADD_API, {"bundleID": tree.bundle_id, "in": definition})

        assert codes == ["INVALID_INPUT"], field

    async def test_an_invalid_update_changes_nothing(self, operator: Operator) -> None:
        # given
        tree = await register_tree(operator)
        before = await read_bundle(operator, tree)

        # when
        invalid = {"name": "", "targetURL": "https://x.example.com"}
        codes = await operator.error_codes(UPDATE_API, {"id": tree.api_ids[0], "in": invalid})

        # then
        assert codes == ["INVALID_INPUT"]
        assert await read_bundle(operator, tree) == before

    @pytest.mark.parametrize(
        ("document", "variables"),
        [
            (ADD_API, {"bundleID": "00000000-0000-0000-0000-000000000000", "in": api("x")}),
            (UPDATE_API, {"id": "00000000-0000-0000-0000-000000000000", "in": api("x")}),
            (DELETE_API, {"id": "00000000-0000-0000-0000-000000000000"}),
        ],
        ids=["add", "update", "delete"],
    )
    async def test_a_nonexistent_id_is_not_found(
        self, operator: Operator, document: str, variables: dict[str, Any]
    ) -> None:
        assert await operator.error_codes(document, variables) == ["NOT_FOUND"]


class TestEventDefinitions:
    async def test_add_answers_with_the_definition_and_the_bundle_lists_it(self, operator: Operator) -> None:
        # given
        tree = await register_tree(operator)
        new_event = {
            "name": "order-shipped",
            "description": "shipped",
            "group": "v1",
            "spec": {"data": '{"asyncapi": "2.0.0"}', "type": "ASYNC_API", "format": "JSON"},
            "version": {"value": "1"},
        }

        # when
        added = (await operator.query(ADD_EVENT, {"bundleID": tree.bundle_id, "in": new_event}))["result"]

        # then
        assert {key: value for key, value in added.items() if key != "id"} == {
            **new_event,
            "version": {"value": "1", "deprecated": False, "deprecatedSince": None, "forRemoval": False},
        }
        bundle = await read_bundle(operator, tree)
        assert bundle is not None
        assert names(bundle["eventDefinitions"]) == ["order-created", "order-shipped"]

    async def test_update_replaces_the_definition(self, operator: Operator) -> None:
        tree = await register_tree(operator)

        data = await operator.query(UPDATE_EVENT, {"id": tree.event_ids[0], "in": {"name": "order-placed"}})

        updated = data["result"]

        assert updated == {
            "id": tree.event_ids[0],
            "name": "order-placed",
            "description": None,
            "group": None,
            "spec": None,
            "version": None,
        }
        bundle = await read_bundle(operator, tree)
        assert bundle is not None and names(bundle["eventDefinitions"]) == ["order-placed"]

    async def test_a_group_longer_than_256_characters_is_invalid_input(self, operator: Operator) -> None:
        tree = await register_tree(operator)

        variables = {"bundleID": tree.bundle_id, "in": event("x", group="g" * 257)}

        codes = await operator.error_codes(ADD_EVENT, variables)

        assert codes == ["INVALID_INPUT"]

    async def test_delete_removes_the_definition(self, operator: Operator) -> None:
        tree = await register_tree(operator)

        data = await operator.query(DELETE_EVENT, {"id": tree.event_ids[0]})

        assert data == {"result": {"id": tree.event_ids[0], "name": "order-created"}}
        bundle = await read_bundle(operator, tree)
        assert bundle is not None and bundle["eventDefinitions"] == {"totalCount": 0, "data": []}

    @pytest.mark.parametrize(
        ("document", "variables"),
        [
            (ADD_EVENT, {"bundleID": "00000000-0000-0000-0000-000000000000", "in": event("x")}),
            (UPDATE_EVENT, {"id": "00000000-0000-0000-0000-000000000000", "in": event("x")}),
            (DELETE_EVENT, {"id": "00000000-0000-0000-0000-000000000000"}),
        ],
        ids=["add", "update", "delete"],
    )
    async def test_a_nonexistent_id_is_not_found(
        self, operator: Operator, document: str, variables: dict[str, Any]
    ) -> None:
        assert await operator.error_codes(document, variables) == ["NOT_FOUND"]


class TestDocuments:
    async def test_add_answers_with_the_document_and_the_bundle_lists_it(self, operator: Operator) -> None:
        # given
        tree = await register_tree(operator)
        new_document = {**document("faq"), "kind": "faq", "data": "# FAQ"}

        # when
        data = await operator.query(ADD_DOCUMENT, {"bundleID": tree.bundle_id, "in": new_document})

        # then
        added = data["result"]
        assert {key: value for key, value in added.items() if key != "id"} == new_document
        bundle = await read_bundle(operator, tree)
        assert bundle is not None
        assert [row["title"] for row in bundle["documents"]["data"]] == ["guide", "faq"]

    async def test_delete_removes_the_document(self, operator: Operator) -> None:
        tree = await register_tree(operator)

        data = await operator.query(DELETE_DOCUMENT, {"id": tree.document_ids[0]})

        assert data == {"result": {"id": tree.document_ids[0], "title": "guide"}}
        bundle = await read_bundle(operator, tree)
        assert bundle is not None and bundle["documents"] == {"totalCount": 0, "data": []}

    async def test_a_kind_longer_than_256_characters_is_invalid_input(self, operator: Operator) -> None:
        tree = await register_tree(operator)

        variables = {"bundleID": tree.bundle_id, "in": {**document("x"), "kind": "k" * 257}}

        codes = await operator.error_codes(ADD_DOCUMENT, variables)

        assert codes == ["INVALID_INPUT"]

    async def test_a_document_without_a_display_name_is_invalid_input(self, operator: Operator) -> None:
        tree = await register_tree(operator)

        variables = {"bundleID": tree.bundle_id, "in": {**document("x"), "displayName": ""}}

        codes = await operator.error_codes(ADD_DOCUMENT, variables)

        assert codes == ["INVALID_INPUT"]

    @pytest.mark.parametrize(
        ("document_", "variables"),
        [
            (ADD_DOCUMENT, {"bundleID": "00000000-0000-0000-0000-000000000000", "in": document("x")}),
            (DELETE_DOCUMENT, {"id": "00000000-0000-0000-0000-000000000000"}),
        ],
        ids=["add", "delete"],
    )
    async def test_a_nonexistent_id_is_not_found(
        self, operator: Operator, document_: str, variables: dict[str, Any]
    ) -> None:
        assert await operator.error_codes(document_, variables) == ["NOT_FOUND"]


CERTIFICATE_OAUTH = {
    "clientId": "orders-client",
    "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    "url": "https://auth.example.com/oauth/token",
}

AUTH_EXTRAS = """
query Bundle($applicationID: ID!, $id: ID!) {
  result: application(id: $applicationID) {
    bundle(id: $id) {
      defaultInstanceAuth {
        accessStrategy
        certCommonName
        oneTimeToken { token }
        requestAuth { csrf { additionalHeadersSerialized additionalQueryParamsSerialized } }
      }
    }
  }
}
"""


class TestDefaultInstanceAuth:
    async def test_certificate_oauth_credentials_come_back_as_certificate_oauth_credential_data(
        self, operator: Operator
    ) -> None:
        tree = await register_tree(
            operator, [{"name": "b", "defaultInstanceAuth": {"credential": {"certificateOAuth": CERTIFICATE_OAUTH}}}]
        )

        bundle = await read_bundle(operator, tree)

        assert bundle is not None
        assert bundle["defaultInstanceAuth"]["credential"] == CERTIFICATE_OAUTH

    async def test_an_update_can_switch_to_certificate_oauth(self, operator: Operator) -> None:
        # given
        tree = await register_tree(operator)
        changes = {"name": "b", "defaultInstanceAuth": {"credential": {"certificateOAuth": CERTIFICATE_OAUTH}}}

        # when
        data = await operator.query(UPDATE_BUNDLE, {"id": tree.bundle_id, "in": changes})

        # then
        assert data["result"]["defaultInstanceAuth"]["credential"] == CERTIFICATE_OAUTH

    async def test_the_access_strategy_is_kept(self, operator: Operator) -> None:
        auth = {"accessStrategy": "sap:cmp-mtls:v1"}
        tree = await register_tree(operator, [{"name": "b", "defaultInstanceAuth": auth}])

        data = await operator.query(AUTH_EXTRAS, {"applicationID": tree.application_id, "id": tree.bundle_id})

        assert data["result"]["bundle"]["defaultInstanceAuth"]["accessStrategy"] == "sap:cmp-mtls:v1"

    async def test_a_one_time_token_and_cert_common_name_are_not_kept_on_a_bundle_as_in_compass(
        self, operator: Operator
    ) -> None:
        # given
        auth = {
            **basic_auth(),
            "certCommonName": "orders",
            "oneTimeToken": {
                "token": "exported",
                "used": False,
                "expiresAt": "2030-01-01T00:00:00Z",
                "createdAt": "2029-12-31T00:00:00Z",
                "usedAt": "2029-12-31T00:00:00Z",
                "type": "Application",
            },
        }

        # when
        tree = await register_tree(operator, [{"name": "b", "defaultInstanceAuth": auth}])

        # then
        data = await operator.query(AUTH_EXTRAS, {"applicationID": tree.application_id, "id": tree.bundle_id})
        read = data["result"]["bundle"]["defaultInstanceAuth"]
        assert (read["certCommonName"], read["oneTimeToken"]) == ("", None)

    async def test_csrf_parameters_given_as_objects_come_back_serialized_too(self, operator: Operator) -> None:
        # given
        csrf = {
            "tokenEndpointURL": "https://shop.example.com/csrf",
            "additionalHeaders": {"X-CSRF-Token": ["Fetch"]},
            "additionalQueryParams": {"sap-client": ["100"]},
        }

        # when
        tree = await register_tree(operator, [{"name": "b", "defaultInstanceAuth": {"requestAuth": {"csrf": csrf}}}])

        # then
        data = await operator.query(AUTH_EXTRAS, {"applicationID": tree.application_id, "id": tree.bundle_id})
        assert data["result"]["bundle"]["defaultInstanceAuth"]["requestAuth"] == {
            "csrf": {
                "additionalHeadersSerialized": '{"X-CSRF-Token":["Fetch"]}',
                "additionalQueryParamsSerialized": '{"sap-client":["100"]}',
            }
        }

    async def test_a_caller_without_the_instance_auths_scope_reads_null_credentials(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        # given
        tree = await register_tree(
            operator, [{"name": "b", "defaultInstanceAuth": {"credential": {"certificateOAuth": CERTIFICATE_OAUTH}}}]
        )
        reader = await tenants.operator(scopes=["application:read"], tenant_id=operator.tenant_id)

        # when
        data = await reader.query(BUNDLE, {"applicationID": tree.application_id, "id": tree.bundle_id})

        # then
        assert data["result"]["bundle"]["defaultInstanceAuth"] is None

    async def test_basic_credentials_come_back_as_basic_credential_data(self, operator: Operator) -> None:
        tree = await register_tree(
            operator, [{"name": "b", "defaultInstanceAuth": basic_auth("user", "pass")}]
        )

        bundle = await read_bundle(operator, tree)

        assert bundle is not None
        assert bundle["defaultInstanceAuth"]["credential"] == {"username": "user", "password": "pass"}

    async def test_oauth_credentials_come_back_as_oauth_credential_data(self, operator: Operator) -> None:
        oauth = {"clientId": "id", "clientSecret": "secret", "url": "https://auth.example.com/oauth/token"}
        tree = await register_tree(
            operator, [{"name": "b", "defaultInstanceAuth": {"credential": {"oauth": oauth}}}]
        )

        bundle = await read_bundle(operator, tree)

        assert bundle is not None
        assert bundle["defaultInstanceAuth"]["credential"] == oauth

    async def test_headers_and_query_params_come_back_as_objects_and_as_json_strings(
        self, operator: Operator
    ) -> None:
        # given
        auth = {
            **basic_auth(),
            "additionalHeadersSerialized": '{"X-A": ["1", "2"], "X-B": []}',
            "additionalQueryParamsSerialized": '{"q": ["x"]}',
        }

        # when
        tree = await register_tree(operator, [{"name": "b", "defaultInstanceAuth": auth}])

        # then
        bundle = await read_bundle(operator, tree)
        assert bundle is not None
        read = bundle["defaultInstanceAuth"]
        assert read["additionalHeaders"] == {"X-A": ["1", "2"], "X-B": []}
        assert read["additionalQueryParams"] == {"q": ["x"]}
        assert read["additionalHeadersSerialized"] == '{"X-A":["1","2"],"X-B":[]}'
        assert read["additionalQueryParamsSerialized"] == '{"q":["x"]}'

    async def test_headers_given_as_objects_are_accepted_too(self, operator: Operator) -> None:
        auth = {"additionalHeaders": {"X-A": ["1"]}, "additionalQueryParams": {"q": ["x"]}}

        tree = await register_tree(operator, [{"name": "b", "defaultInstanceAuth": auth}])

        bundle = await read_bundle(operator, tree)
        assert bundle is not None
        read = bundle["defaultInstanceAuth"]
        assert read["credential"] is None
        assert read["additionalHeadersSerialized"] == '{"X-A":["1"]}'
        assert read["additionalQueryParamsSerialized"] == '{"q":["x"]}'

    async def test_csrf_request_auth_comes_back_with_its_credential_and_parameters(
        self, operator: Operator
    ) -> None:
        # given
        csrf = {
            "tokenEndpointURL": "https://shop.example.com/csrf",
            "credential": {
                "oauth": {"clientId": "c", "clientSecret": "s", "url": "https://auth.example.com"}
            },
            "additionalHeadersSerialized": '{"X-CSRF": ["fetch"]}',
        }

        # when
        tree = await register_tree(
            operator, [{"name": "b", "defaultInstanceAuth": {"requestAuth": {"csrf": csrf}}}]
        )

        # then
        bundle = await read_bundle(operator, tree)
        assert bundle is not None
        assert bundle["defaultInstanceAuth"]["requestAuth"] == {
            "csrf": {
                "tokenEndpointURL": "https://shop.example.com/csrf",
                "credential": {"clientId": "c", "clientSecret": "s", "url": "https://auth.example.com"},
                "additionalHeaders": {"X-CSRF": ["fetch"]},
                "additionalQueryParams": None,
            }
        }

    @pytest.mark.parametrize(
        ("case", "auth"),
        [
            ("neither basic nor oauth", {"credential": {}}),
            (
                "both basic and oauth",
                {
                    "credential": {
                        "basic": {"username": "u", "password": "p"},
                        "oauth": {"clientId": "c", "clientSecret": "s", "url": "https://auth.example.com"},
                    }
                },
            ),
            (
                "an oauth url that is no URL",
                {"credential": {"oauth": {"clientId": "c", "clientSecret": "s", "url": "token"}}},
            ),
            ("an empty username", {"credential": {"basic": {"username": " ", "password": "p"}}}),
            (
                "headers both as object and serialized",
                {"additionalHeaders": {"a": ["1"]}, "additionalHeadersSerialized": '{"a": ["1"]}'},
            ),
            ("headers that are not lists", {"additionalHeadersSerialized": '{"a": "1"}'}),
            ("query params that are a list", {"additionalQueryParamsSerialized": '["a"]'}),
            ("a csrf endpoint that is no URL", {"requestAuth": {"csrf": {"tokenEndpointURL": "csrf"}}}),
            (
                "both basic and certificateOAuth",
                {"credential": {"basic": {"username": "u", "password": "p"}, "certificateOAuth": CERTIFICATE_OAUTH}},
            ),
            (
                "a certificateOAuth url that is no URL",
                {"credential": {"certificateOAuth": {**CERTIFICATE_OAUTH, "url": "token"}}},
            ),
            (
                "a certificateOAuth without a certificate",
                {"credential": {"certificateOAuth": {**CERTIFICATE_OAUTH, "certificate": ""}}},
            ),
            ("an empty password", {"credential": {"basic": {"username": "u", "password": ""}}}),
            (
                "csrf headers both as object and serialized",
                {
                    "requestAuth": {
                        "csrf": {
                            "tokenEndpointURL": "https://shop.example.com/csrf",
                            "additionalHeaders": {"a": ["1"]},
                            "additionalHeadersSerialized": '{"a": ["1"]}',
                        }
                    }
                },
            ),
        ],
    )
    async def test_an_invalid_auth_is_invalid_input(
        self, operator: Operator, case: str, auth: dict[str, Any]
    ) -> None:
        tree = await register_tree(operator)

        changes = {"name": "b", "defaultInstanceAuth": auth}

        codes = await operator.error_codes(UPDATE_BUNDLE, {"id": tree.bundle_id, "in": changes})

        assert codes == ["INVALID_INPUT"], case


# Each mutation with the variables that make it valid except for the id (filled in from the tree).
MUTATIONS_ON_A_BUNDLE: dict[str, tuple[str, str, dict[str, Any]]] = {
    "addBundle": (ADD_BUNDLE, "application", {"in": {"name": "intruder"}}),
    "updateBundle": (UPDATE_BUNDLE, "bundle", {"in": {"name": "hijacked"}}),
    "deleteBundle": (DELETE_BUNDLE, "bundle", {}),
    "addAPIDefinitionToBundle": (ADD_API, "bundle", {"in": api("intruder")}),
    "updateAPIDefinition": (UPDATE_API, "api", {"in": api("hijacked")}),
    "deleteAPIDefinition": (DELETE_API, "api", {}),
    "addEventDefinitionToBundle": (ADD_EVENT, "bundle", {"in": event("intruder")}),
    "updateEventDefinition": (UPDATE_EVENT, "event", {"in": event("hijacked")}),
    "deleteEventDefinition": (DELETE_EVENT, "event", {}),
    "addDocumentToBundle": (ADD_DOCUMENT, "bundle", {"in": document("intruder")}),
    "deleteDocument": (DELETE_DOCUMENT, "document", {}),
}


def target_variables(mutation: str, tree: Tree, target_id: str | None = None) -> dict[str, Any]:
    document_, kind, variables = MUTATIONS_ON_A_BUNDLE[mutation]
    ids = {
        "application": ("applicationID", tree.application_id),
        "bundle": ("bundleID" if "bundleID" in document_ else "id", tree.bundle_id),
        "api": ("id", tree.api_ids[0]),
        "event": ("id", tree.event_ids[0]),
        "document": ("id", tree.document_ids[0]),
    }
    name, own_id = ids[kind]
    return {name: target_id or own_id, **variables}


class TestAnotherTenantsBundle:
    @pytest.mark.parametrize("mutation", MUTATIONS_ON_A_BUNDLE)
    async def test_mutations_answer_not_found_as_for_a_nonexistent_id(
        self, tenants: TenantFactory, mutation: str
    ) -> None:
        # given
        owner, stranger = await tenants.operator(), await tenants.operator()
        tree = await register_tree(owner)
        document_ = MUTATIONS_ON_A_BUNDLE[mutation][0]
        missing_id = str(uuid.uuid4())

        # when
        foreign = await stranger.execute(document_, target_variables(mutation, tree))
        missing = await stranger.execute(document_, target_variables(mutation, tree, missing_id))

        # then
        assert [error["extensions"]["code"] for error in foreign["errors"]] == ["NOT_FOUND"]
        assert foreign["data"] is None
        own_id = next(iter(target_variables(mutation, tree).values()))
        foreign_message = foreign["errors"][0]["message"].replace(own_id, "<id>")
        assert foreign_message == missing["errors"][0]["message"].replace(missing_id, "<id>")

    @pytest.mark.parametrize("mutation", MUTATIONS_ON_A_BUNDLE)
    async def test_mutations_change_nothing_in_the_owning_tenant(
        self, tenants: TenantFactory, mutation: str
    ) -> None:
        # given
        owner, stranger = await tenants.operator(), await tenants.operator()
        tree = await register_tree(owner)
        before = await owner.query(BUNDLE_PAGE, {"id": tree.application_id, "first": 10})
        bundle_before = await read_bundle(owner, tree)

        # when
        await stranger.execute(MUTATIONS_ON_A_BUNDLE[mutation][0], target_variables(mutation, tree))

        # then
        assert await owner.query(BUNDLE_PAGE, {"id": tree.application_id, "first": 10}) == before
        assert await read_bundle(owner, tree) == bundle_before
