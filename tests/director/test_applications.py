"""Applications over HTTP: registration with the whole tree, reading it back, updates, labels, tenants."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from director.models import APIDefinition, Application, Bundle, Document, EventDefinition, Label, Webhook
from kernel.db import Database
from tests.support import Operator, TenantFactory

REGISTER = """
mutation Register($in: ApplicationRegisterInput!) {
  result: registerApplication(in: $in) { id name }
}
"""

APPLICATION_TREE = """
query Application($id: ID!) {
  result: application(id: $id) {
    id
    name
    providerName
    description
    baseUrl
    healthCheckURL
    integrationSystemID
    labels
    status { condition timestamp }
    webhooks {
      applicationID
      type
      mode
      url
      auth { credential { ... on BasicCredentialData { username password } } }
    }
    bundles {
      totalCount
      pageInfo { hasNextPage endCursor }
      data {
        name
        description
        instanceAuthRequestInputSchema
        defaultInstanceAuth {
          credential {
            ... on BasicCredentialData { username password }
            ... on OAuthCredentialData { clientId clientSecret url }
          }
          additionalHeaders
          additionalQueryParams
          additionalHeadersSerialized
          additionalQueryParamsSerialized
          requestAuth {
            csrf {
              tokenEndpointURL
              credential { ... on BasicCredentialData { username password } }
            }
          }
        }
        apiDefinitions {
          totalCount
          data {
            name
            description
            targetURL
            group
            spec { data type format }
            version { value deprecated deprecatedSince forRemoval }
          }
        }
        eventDefinitions {
          totalCount
          data {
            name
            description
            group
            spec { data type format }
            version { value deprecated deprecatedSince forRemoval }
          }
        }
        documents {
          totalCount
          data { title displayName description format kind data }
        }
      }
    }
  }
}
"""

# Compass clients write every value into the document and send "variables": null.
REGISTER_INLINE = r"""
mutation {
  result: registerApplication(in: {
    name: "inline-shop"
    providerName: "ACME"
    labels: {env: "dev", owners: ["ops", "shop"]}
    healthCheckURL: "https://shop.example.com/healthz"
    bundles: [{
      name: "orders"
      defaultInstanceAuth: {
        credential: {oauth: {
          clientId: "client", clientSecret: "secret", url: "https://auth.example.com/token"
        }}
        additionalHeadersSerialized: "{\"X-Tenant\":[\"t1\"]}"
      }
      apiDefinitions: [{name: "orders-api", targetURL: "https://shop.example.com/orders", group: "v1"}]
    }]
  }) {
    name
    providerName
    labels
    healthCheckURL
    bundles {
      data {
        name
        defaultInstanceAuth {
          credential { ... on OAuthCredentialData { clientId clientSecret url } }
          additionalHeaders
          additionalHeadersSerialized
        }
        apiDefinitions { data { name targetURL group } }
      }
    }
  }
}
"""

APPLICATION_NAME = "query Application($id: ID!) { result: application(id: $id) { id name } }"

APPLICATION_FIELDS = """
query Application($id: ID!) {
  result: application(id: $id) {
    name providerName description baseUrl healthCheckURL status { condition timestamp }
  }
}
"""

APPLICATION_LABELS = """
query Labels($id: ID!, $key: String) { result: application(id: $id) { labels(key: $key) } }
"""

APPLICATION_NAMES = "{ result: applications { totalCount data { id name } } }"

UPDATE = """
mutation Update($id: ID!, $in: ApplicationUpdateInput!) {
  result: updateApplication(id: $id, in: $in) {
    id name providerName description baseUrl healthCheckURL status { condition timestamp }
  }
}
"""

UNREGISTER = "mutation Unregister($id: ID!) { result: unregisterApplication(id: $id) { id name } }"

UPDATE_BUNDLE = """
mutation UpdateBundle($id: ID!) { result: updateBundle(id: $id, in: {name: "renamed"}) { id } }
"""

SET_LABEL = """
mutation SetLabel($id: ID!, $key: String!, $value: Any!) {
  result: setApplicationLabel(applicationID: $id, key: $key, value: $value) { key value }
}
"""

DELETE_LABEL = """
mutation DeleteLabel($id: ID!, $key: String!) {
  result: deleteApplicationLabel(applicationID: $id, key: $key) { key value }
}
"""

BUNDLE_IDS = "query Bundles($id: ID!) { result: application(id: $id) { bundles { data { id } } } }"

TREE_MODELS = (Application, Bundle, APIDefinition, EventDefinition, Document, Webhook, Label)

SWAGGER = '{"openapi": "3.0.0", "info": {"title": "Orders", "version": "1"}}'
ASYNC_API = '{"asyncapi": "2.0.0", "info": {"title": "Order events", "version": "1"}}'


def full_tree(name: str) -> dict[str, Any]:
    """A registration input using every part of the tree."""
    return {
        "name": name,
        "providerName": "ACME",
        "description": "The web shop",
        "baseUrl": "https://shop.example.com",
        "healthCheckURL": "https://shop.example.com/healthz",
        "labels": {"env": "prod", "owners": ["ops", "shop"]},
        "webhooks": [
            {
                "type": "CONFIGURATION_CHANGED",
                "url": "https://shop.example.com/hooks/config",
                "mode": "SYNC",
                "auth": {"credential": {"basic": {"username": "hook", "password": "hook-secret"}}},
            }
        ],
        "bundles": [
            {
                "name": "orders",
                "description": "Orders and their events",
                "instanceAuthRequestInputSchema": '{"type": "object"}',
                "defaultInstanceAuth": {
                    "credential": {"basic": {"username": "admin", "password": "s3cret"}},
                    "additionalHeadersSerialized": '{"X-Tenant": ["t1", "t2"]}',
                    "additionalQueryParamsSerialized": '{"lang": ["en"]}',
                    "requestAuth": {
                        "csrf": {
                            "tokenEndpointURL": "https://shop.example.com/csrf",
                            "credential": {"basic": {"username": "csrf", "password": "csrf-secret"}},
                        }
                    },
                },
                "apiDefinitions": [
                    {
                        "name": "orders-api",
                        "description": "Orders REST API",
                        "targetURL": "https://shop.example.com/api/orders",
                        "group": "v1",
                        "spec": {"data": SWAGGER, "type": "OPEN_API", "format": "JSON"},
                        "version": {
                            "value": "1.2",
                            "deprecated": True,
                            "deprecatedSince": "1.1",
                            "forRemoval": False,
                        },
                    }
                ],
                "eventDefinitions": [
                    {
                        "name": "order-events",
                        "description": "Order lifecycle",
                        "group": "events",
                        "spec": {"data": ASYNC_API, "type": "ASYNC_API", "format": "JSON"},
                        "version": {"value": "v1"},
                    }
                ],
                "documents": [
                    {
                        "title": "Guide",
                        "displayName": "Integration guide",
                        "description": "How to connect",
                        "format": "MARKDOWN",
                        "kind": "guide",
                        "data": "# Hello",
                    }
                ],
            },
            {
                "name": "payments",
                "defaultInstanceAuth": {
                    "credential": {
                        "oauth": {
                            "clientId": "pay-client",
                            "clientSecret": "pay-secret",
                            "url": "https://auth.example.com/oauth/token",
                        }
                    }
                },
                "apiDefinitions": [{"name": "payments-api", "targetURL": "https://pay.example.com/api"}],
            },
        ],
    }


async def register(operator: Operator, name: str | None = None, **fields: Any) -> str:
    data = await operator.query(REGISTER, {"in": {"name": name or unique_name(), **fields}})
    return str(data["result"]["id"])


def unique_name() -> str:
    return f"app-{uuid.uuid4().hex[:8]}"


async def application_names(operator: Operator) -> list[str]:
    return [row["name"] for row in (await operator.query(APPLICATION_NAMES))["result"]["data"]]


async def rows_of_tenant(database: Database, tenant_id: str) -> dict[str, int]:
    """How many rows of each part of an application tree the tenant holds, read from the database itself."""
    counts: dict[str, int] = {}
    async with database.read_sessions() as session:
        for model in TREE_MODELS:
            statement = select(func.count()).select_from(model).where(model.tenant_id == tenant_id)
            counts[model.__tablename__] = (await session.execute(statement)).scalar_one()
    return counts


def is_rfc3339(value: str) -> bool:
    return value.endswith("Z") and datetime.fromisoformat(value).tzinfo is not None


class TestRegisterApplication:
    async def test_registers_the_whole_tree_in_one_call_and_reads_it_back(self, operator: Operator) -> None:
        # given
        application_id = await register(operator, **full_tree("shop"))

        # when
        data = await operator.query(APPLICATION_TREE, {"id": application_id})

        # then
        application = data["result"]
        timestamp = application["status"].pop("timestamp")
        assert is_rfc3339(timestamp)
        assert application == {
            "id": application_id,
            "name": "shop",
            "providerName": "ACME",
            "description": "The web shop",
            "baseUrl": "https://shop.example.com",
            "healthCheckURL": "https://shop.example.com/healthz",
            "integrationSystemID": None,
            "labels": {"env": "prod", "owners": ["ops", "shop"]},
            "status": {"condition": "INITIAL"},
            "webhooks": [
                {
                    "applicationID": application_id,
                    "type": "CONFIGURATION_CHANGED",
                    "mode": "SYNC",
                    "url": "https://shop.example.com/hooks/config",
                    "auth": {"credential": {"username": "hook", "password": "hook-secret"}},
                }
            ],
            "bundles": {
                "totalCount": 2,
                "pageInfo": {"hasNextPage": False, "endCursor": ""},
                "data": [
                    {
                        "name": "orders",
                        "description": "Orders and their events",
                        "instanceAuthRequestInputSchema": '{"type": "object"}',
                        "defaultInstanceAuth": {
                            "credential": {"username": "admin", "password": "s3cret"},
                            "additionalHeaders": {"X-Tenant": ["t1", "t2"]},
                            "additionalQueryParams": {"lang": ["en"]},
                            "additionalHeadersSerialized": '{"X-Tenant":["t1","t2"]}',
                            "additionalQueryParamsSerialized": '{"lang":["en"]}',
                            "requestAuth": {
                                "csrf": {
                                    "tokenEndpointURL": "https://shop.example.com/csrf",
                                    "credential": {"username": "csrf", "password": "csrf-secret"},
                                }
                            },
                        },
                        "apiDefinitions": {
                            "totalCount": 1,
                            "data": [
                                {
                                    "name": "orders-api",
                                    "description": "Orders REST API",
                                    "targetURL": "https://shop.example.com/api/orders",
                                    "group": "v1",
                                    "spec": {"data": SWAGGER, "type": "OPEN_API", "format": "JSON"},
                                    "version": {
                                        "value": "1.2",
                                        "deprecated": True,
                                        "deprecatedSince": "1.1",
                                        "forRemoval": False,
                                    },
                                }
                            ],
                        },
                        "eventDefinitions": {
                            "totalCount": 1,
                            "data": [
                                {
                                    "name": "order-events",
                                    "description": "Order lifecycle",
                                    "group": "events",
                                    "spec": {"data": ASYNC_API, "type": "ASYNC_API", "format": "JSON"},
                                    "version": {
                                        "value": "v1",
                                        "deprecated": False,
                                        "deprecatedSince": None,
                                        "forRemoval": False,
                                    },
                                }
                            ],
                        },
                        "documents": {
                            "totalCount": 1,
                            "data": [
                                {
                                    "title": "Guide",
                                    "displayName": "Integration guide",
                                    "description": "How to connect",
                                    "format": "MARKDOWN",
                                    "kind": "guide",
                                    "data": "# Hello",
                                }
                            ],
                        },
                    },
                    {
                        "name": "payments",
                        "description": None,
                        "instanceAuthRequestInputSchema": None,
                        "defaultInstanceAuth": {
                            "credential": {
                                "clientId": "pay-client",
                                "clientSecret": "pay-secret",
                                "url": "https://auth.example.com/oauth/token",
                            },
                            "additionalHeaders": None,
                            "additionalQueryParams": None,
                            "additionalHeadersSerialized": None,
                            "additionalQueryParamsSerialized": None,
                            "requestAuth": None,
                        },
                        "apiDefinitions": {
                            "totalCount": 1,
                            "data": [
                                {
                                    "name": "payments-api",
                                    "description": None,
                                    "targetURL": "https://pay.example.com/api",
                                    "group": None,
                                    "spec": None,
                                    "version": None,
                                }
                            ],
                        },
                        "eventDefinitions": {"totalCount": 0, "data": []},
                        "documents": {"totalCount": 0, "data": []},
                    },
                ],
            },
        }

    async def test_accepts_values_written_into_the_document_under_a_result_alias(
        self, operator: Operator
    ) -> None:
        # when
        response = await operator.client.post(
            "/director/graphql",
            content=json.dumps({"query": REGISTER_INLINE, "variables": None}),
            headers={**operator.headers, "Content-Type": "application/json; charset=utf-8"},
        )

        # then
        assert response.status_code == 200
        assert response.json() == {
            "data": {
                "result": {
                    "name": "inline-shop",
                    "providerName": "ACME",
                    "labels": {"env": "dev", "owners": ["ops", "shop"]},
                    "healthCheckURL": "https://shop.example.com/healthz",
                    "bundles": {
                        "data": [
                            {
                                "name": "orders",
                                "defaultInstanceAuth": {
                                    "credential": {
                                        "clientId": "client",
                                        "clientSecret": "secret",
                                        "url": "https://auth.example.com/token",
                                    },
                                    "additionalHeaders": {"X-Tenant": ["t1"]},
                                    "additionalHeadersSerialized": '{"X-Tenant":["t1"]}',
                                },
                                "apiDefinitions": {
                                    "data": [
                                        {
                                            "name": "orders-api",
                                            "targetURL": "https://shop.example.com/orders",
                                            "group": "v1",
                                        }
                                    ]
                                },
                            }
                        ]
                    },
                }
            }
        }

    async def test_keeps_the_order_of_definitions_given_in_one_bundle(self, operator: Operator) -> None:
        # given
        names = [f"api-{index:02d}" for index in range(30)]
        bundle = {
            "name": "many",
            "apiDefinitions": [{"name": name, "targetURL": f"https://example.com/{name}"} for name in names],
        }
        application_id = await register(operator, bundles=[bundle])

        # when
        data = await operator.query(APPLICATION_TREE, {"id": application_id})

        # then
        apis = data["result"]["bundles"]["data"][0]["apiDefinitions"]["data"]
        assert [api["name"] for api in apis] == names

    @pytest.mark.parametrize(
        ("case", "broken"),
        [
            (
                "bad targetURL in the 2nd bundle's API",
                {"apiDefinitions": [{"name": "x", "targetURL": "not a url"}]},
            ),
            (
                "credential with both basic and oauth",
                {
                    "defaultInstanceAuth": {
                        "credential": {
                            "basic": {"username": "u", "password": "p"},
                            "oauth": {"clientId": "c", "clientSecret": "s", "url": "https://a.example.com"},
                        }
                    }
                },
            ),
            (
                "headers that are not lists of strings",
                {"defaultInstanceAuth": {"additionalHeadersSerialized": '{"h": 1}'}},
            ),
            (
                "a document without a title",
                {"documents": [{"title": " ", "displayName": "d", "description": "", "format": "MARKDOWN"}]},
            ),
        ],
    )
    async def test_an_invalid_element_deep_in_the_tree_creates_nothing(
        self, operator: Operator, database: Database, case: str, broken: dict[str, Any]
    ) -> None:
        # given
        await register(operator, **full_tree("existing"))
        rows_before = await rows_of_tenant(database, operator.tenant_id)
        tree = full_tree("half-valid")
        tree["bundles"][1].update(broken)

        # when
        codes = await operator.error_codes(REGISTER, {"in": tree})

        # then
        assert codes == ["INVALID_INPUT"], case
        assert await application_names(operator) == ["existing"]
        assert await rows_of_tenant(database, operator.tenant_id) == rows_before

    async def test_an_invalid_webhook_url_creates_nothing(
        self, operator: Operator, database: Database
    ) -> None:
        # given
        tree = full_tree("bad-hook")
        tree["webhooks"].append({"type": "CONFIGURATION_CHANGED", "url": "ftp://shop.example.com"})

        # when
        codes = await operator.error_codes(REGISTER, {"in": tree})

        # then
        assert codes == ["INVALID_INPUT"]
        assert await application_names(operator) == []
        assert set((await rows_of_tenant(database, operator.tenant_id)).values()) == {0}

    async def test_a_duplicate_name_is_a_conflict(self, operator: Operator) -> None:
        # given
        await register(operator, "shop")

        # when
        codes = await operator.error_codes(REGISTER, {"in": {"name": "shop"}})

        # then
        assert codes == ["CONFLICT"]
        assert await application_names(operator) == ["shop"]

    async def test_concurrent_registrations_of_one_name_create_it_once(self, operator: Operator) -> None:
        # when
        answers = await asyncio.gather(
            *(operator.execute(REGISTER, {"in": {"name": "shop"}}) for _ in range(5))
        )

        # then
        codes = [error["extensions"]["code"] for answer in answers for error in answer.get("errors", [])]
        assert codes == ["CONFLICT"] * 4
        assert await application_names(operator) == ["shop"]

    async def test_the_same_name_in_another_tenant_is_no_conflict(self, tenants: TenantFactory) -> None:
        # given
        first, second = await tenants.operator(), await tenants.operator()
        await register(first, "shop")

        # when
        await register(second, "shop")

        # then
        assert await application_names(first) == ["shop"]
        assert await application_names(second) == ["shop"]

    @pytest.mark.parametrize("name", ["", "   "])
    async def test_an_empty_name_is_invalid_input(self, operator: Operator, name: str) -> None:
        codes = await operator.error_codes(REGISTER, {"in": {"name": name}})

        assert codes == ["INVALID_INPUT"]
        assert await application_names(operator) == []

    async def test_an_integration_system_id_longer_than_an_id_is_invalid_input(
        self, operator: Operator
    ) -> None:
        given = {"name": "shop", "integrationSystemID": "i" * 37}

        codes = await operator.error_codes(REGISTER, {"in": given})

        assert codes == ["INVALID_INPUT"]

    async def test_a_nul_character_in_the_name_is_invalid_input_on_every_backend(
        self, operator: Operator
    ) -> None:
        codes = await operator.error_codes(REGISTER, {"in": {"name": "sh\x00op"}})

        assert codes == ["INVALID_INPUT"]


class TestApplicationQuery:
    @pytest.mark.parametrize("application_id", ["74af336b-dd1d-4580-b04d-b0755df0997e", "not-a-uuid", "x" * 100])
    async def test_a_nonexistent_id_is_null_without_error(
        self, operator: Operator, application_id: str
    ) -> None:
        body = await operator.execute(APPLICATION_NAME, {"id": application_id})

        assert body == {"data": {"result": None}}

    async def test_an_application_of_another_tenant_is_null(self, tenants: TenantFactory) -> None:
        # given
        owner, stranger = await tenants.operator(), await tenants.operator()
        application_id = await register(owner)

        # when
        body = await stranger.execute(APPLICATION_NAME, {"id": application_id})

        # then
        assert body == {"data": {"result": None}}

    async def test_a_new_application_has_status_initial_with_a_timestamp(self, operator: Operator) -> None:
        application_id = await register(operator)

        data = await operator.query(APPLICATION_FIELDS, {"id": application_id})

        status = data["result"]["status"]
        assert status["condition"] == "INITIAL"
        assert is_rfc3339(status["timestamp"])


class TestUpdateApplication:
    async def test_replaces_the_applications_own_fields(self, operator: Operator) -> None:
        # given
        application_id = await register(
            operator, "shop", providerName="ACME", description="old", baseUrl="https://old.example.com"
        )
        changes = {
            "providerName": "Globex",
            "description": "new",
            "baseUrl": "https://new.example.com",
            "healthCheckURL": "https://new.example.com/healthz",
            "statusCondition": "CONNECTED",
        }

        # when
        updated = (await operator.query(UPDATE, {"id": application_id, "in": changes}))["result"]

        # then
        read = (await operator.query(APPLICATION_FIELDS, {"id": application_id}))["result"]
        for answer in (updated, read):
            assert answer["name"] == "shop"
            assert answer["providerName"] == "Globex"
            assert answer["description"] == "new"
            assert answer["baseUrl"] == "https://new.example.com"
            assert answer["healthCheckURL"] == "https://new.example.com/healthz"
            assert answer["status"]["condition"] == "CONNECTED"
            assert is_rfc3339(answer["status"]["timestamp"])

    async def test_clears_the_fields_it_is_not_given(self, operator: Operator) -> None:
        # given
        application_id = await register(
            operator, providerName="ACME", description="old", healthCheckURL="https://old.example.com/healthz"
        )

        # when
        data = await operator.query(UPDATE, {"id": application_id, "in": {"description": "new"}})

        # then
        updated = data["result"]
        assert (updated["providerName"], updated["description"], updated["healthCheckURL"]) == (
            None,
            "new",
            None,
        )

    async def test_keeps_the_status_timestamp_while_the_condition_stays(self, operator: Operator) -> None:
        # given
        application_id = await register(operator, statusCondition="CONNECTED")
        before = (await operator.query(APPLICATION_FIELDS, {"id": application_id}))["result"]["status"]

        # when
        changes = {"description": "changed", "statusCondition": "CONNECTED"}
        updated = (await operator.query(UPDATE, {"id": application_id, "in": changes}))["result"]

        # then
        assert updated["status"] == before
        assert before["condition"] == "CONNECTED"

    async def test_without_a_status_condition_keeps_the_status(self, operator: Operator) -> None:
        # given
        application_id = await register(operator, statusCondition="FAILED")
        before = (await operator.query(APPLICATION_FIELDS, {"id": application_id}))["result"]["status"]

        # when
        updated = (await operator.query(UPDATE, {"id": application_id, "in": {"description": "x"}}))["result"]

        # then
        assert updated["status"] == before
        assert before["condition"] == "FAILED"

    async def test_an_invalid_url_changes_nothing(self, operator: Operator) -> None:
        # given
        application_id = await register(
            operator, "shop", description="kept", baseUrl="https://shop.example.com"
        )

        # when
        codes = await operator.error_codes(
            UPDATE, {"id": application_id, "in": {"description": "lost", "baseUrl": "shop.example.com"}}
        )

        # then
        assert codes == ["INVALID_INPUT"]
        read = (await operator.query(APPLICATION_FIELDS, {"id": application_id}))["result"]
        assert (read["description"], read["baseUrl"]) == ("kept", "https://shop.example.com")

    async def test_a_nonexistent_application_is_not_found(self, operator: Operator) -> None:
        codes = await operator.error_codes(UPDATE, {"id": str(uuid.uuid4()), "in": {"description": "x"}})

        assert codes == ["NOT_FOUND"]


class TestUnregisterApplication:
    async def test_removes_the_application(self, operator: Operator) -> None:
        # given
        application_id = await register(operator, "shop")

        # when
        data = await operator.query(UNREGISTER, {"id": application_id})

        # then
        assert data == {"result": {"id": application_id, "name": "shop"}}
        assert (await operator.execute(APPLICATION_NAME, {"id": application_id}))["data"] == {"result": None}
        assert await application_names(operator) == []

    async def test_removes_the_applications_bundles(self, operator: Operator) -> None:
        # given
        application_id = await register(operator, **full_tree("shop"))
        bundles = (await operator.query(BUNDLE_IDS, {"id": application_id}))["result"]["bundles"]["data"]
        bundle_ids = [row["id"] for row in bundles]

        # when
        await operator.query(UNREGISTER, {"id": application_id})

        # then
        for bundle_id in bundle_ids:
            assert await operator.error_codes(UPDATE_BUNDLE, {"id": bundle_id}) == ["NOT_FOUND"]

    async def test_frees_the_name_for_a_new_registration(self, operator: Operator) -> None:
        # given
        old_id = await register(operator, "shop")
        await operator.query(UNREGISTER, {"id": old_id})

        # when
        new_id = await register(operator, "shop")

        # then
        assert new_id != old_id
        assert await application_names(operator) == ["shop"]

    async def test_a_nonexistent_application_is_not_found(self, operator: Operator) -> None:
        assert await operator.error_codes(UNREGISTER, {"id": str(uuid.uuid4())}) == ["NOT_FOUND"]


class TestApplicationLabels:
    async def test_set_label_answers_with_the_label_and_stores_it(self, operator: Operator) -> None:
        # given
        application_id = await register(operator, labels={"env": "dev"})

        # when
        variables = {"id": application_id, "key": "owners", "value": ["ops", "shop"]}
        data = await operator.query(SET_LABEL, variables)

        # then
        assert data == {"result": {"key": "owners", "value": ["ops", "shop"]}}
        labels = (await operator.query(APPLICATION_LABELS, {"id": application_id}))["result"]["labels"]
        assert labels == {"env": "dev", "owners": ["ops", "shop"]}

    async def test_set_label_replaces_the_value_of_an_existing_key(self, operator: Operator) -> None:
        # given
        application_id = await register(operator, labels={"env": "dev"})

        # when
        await operator.query(SET_LABEL, {"id": application_id, "key": "env", "value": {"stage": 2}})

        # then
        labels = (await operator.query(APPLICATION_LABELS, {"id": application_id}))["result"]["labels"]
        assert labels == {"env": {"stage": 2}}

    async def test_labels_with_a_key_answer_only_that_label(self, operator: Operator) -> None:
        application_id = await register(operator, labels={"env": "dev", "team": "shop"})

        data = await operator.query(APPLICATION_LABELS, {"id": application_id, "key": "team"})

        assert data == {"result": {"labels": {"team": "shop"}}}

    async def test_delete_label_answers_with_the_deleted_label_and_removes_it(
        self, operator: Operator
    ) -> None:
        # given
        application_id = await register(operator, labels={"env": "dev", "team": "shop"})

        # when
        data = await operator.query(DELETE_LABEL, {"id": application_id, "key": "env"})

        # then
        assert data == {"result": {"key": "env", "value": "dev"}}
        labels = (await operator.query(APPLICATION_LABELS, {"id": application_id}))["result"]["labels"]
        assert labels == {"team": "shop"}

    async def test_deleting_a_missing_label_is_not_found(self, operator: Operator) -> None:
        application_id = await register(operator, labels={"env": "dev"})

        codes = await operator.error_codes(DELETE_LABEL, {"id": application_id, "key": "missing"})

        assert codes == ["NOT_FOUND"]

    async def test_setting_a_label_on_a_nonexistent_application_is_not_found(
        self, operator: Operator
    ) -> None:
        codes = await operator.error_codes(SET_LABEL, {"id": str(uuid.uuid4()), "key": "env", "value": "dev"})

        assert codes == ["NOT_FOUND"]


MUTATIONS_ON_AN_APPLICATION: dict[str, tuple[str, dict[str, Any]]] = {
    "updateApplication": (UPDATE, {"in": {"description": "hijacked"}}),
    "unregisterApplication": (UNREGISTER, {}),
    "setApplicationLabel": (SET_LABEL, {"key": "env", "value": "hijacked"}),
    "deleteApplicationLabel": (DELETE_LABEL, {"key": "env"}),
}


class TestAnotherTenantsApplication:
    @pytest.mark.parametrize("mutation", MUTATIONS_ON_AN_APPLICATION)
    async def test_mutations_answer_not_found_as_for_a_nonexistent_id(
        self, tenants: TenantFactory, mutation: str
    ) -> None:
        # given
        owner, stranger = await tenants.operator(), await tenants.operator()
        application_id = await register(owner, "shop", description="mine", labels={"env": "prod"})
        document, variables = MUTATIONS_ON_AN_APPLICATION[mutation]

        missing_id = str(uuid.uuid4())

        # when
        foreign = await stranger.execute(document, {"id": application_id, **variables})
        missing = await stranger.execute(document, {"id": missing_id, **variables})

        # then
        assert [error["extensions"]["code"] for error in foreign["errors"]] == ["NOT_FOUND"]
        assert foreign["data"] is None
        assert missing["data"] is None
        assert foreign["errors"][0]["message"].replace(application_id, "<id>") == missing["errors"][0][
            "message"
        ].replace(missing_id, "<id>")

    @pytest.mark.parametrize("mutation", MUTATIONS_ON_AN_APPLICATION)
    async def test_mutations_change_nothing_in_the_owning_tenant(
        self, tenants: TenantFactory, mutation: str
    ) -> None:
        # given
        owner, stranger = await tenants.operator(), await tenants.operator()
        application_id = await register(owner, "shop", description="mine", labels={"env": "prod"})
        before = await owner.query(APPLICATION_TREE, {"id": application_id})
        document, variables = MUTATIONS_ON_AN_APPLICATION[mutation]

        # when
        await stranger.execute(document, {"id": application_id, **variables})

        # then
        assert await owner.query(APPLICATION_TREE, {"id": application_id}) == before

