"""The Application Registry of the REST API (``/{app}/v1/metadata/services``, DATAPLANE.md D.2, D.3.3, D.3.4) as
the seed tutorial uses it, over real HTTP and TLS sockets: an application connected with a certificate registers,
lists, reads, updates and deletes its services, each one bundle of the Director that runtimes see like any other.
Runs on every backend the Connector tests run on."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.queries import APPLICATIONS_FOR_RUNTIME
from director.normalization import normalize_name
from testing.upstream import Answer, UpstreamStandIn
from tests.connector.support import (
    JSON_TYPE,
    Harness,
    HarnessFactory,
    assert_error,
    credentials_of,
    needs_openssl,
    openssl_csr,
    register_application,
)
from tests.connector.test_adapter_connector import connected_application, legacy_token
from tests.connector.test_proxy_header import PROXY, xfcc
from tests.support import Operator

SET_LABEL = (
    "mutation ($id: ID!, $key: String!, $value: Any!) "
    "{ result: setApplicationLabel(applicationID: $id, key: $key, value: $value) { key } }"
)
APPLICATION_LABELS = "query ($id: ID!) { result: application(id: $id) { labels } }"
ADD_BUNDLE = "mutation ($id: ID!, $in: BundleCreateInput!) { result: addBundle(applicationID: $id, in: $in) { id } }"
BUNDLES = """
query ($id: ID!) {
  result: application(id: $id) {
    labels(key: "legacy_servicesMetadata")
    bundles {
      data {
        id name description
        apiDefinitions { data { name description targetURL spec { data type format } } }
        eventDefinitions { data { name description spec { data type format } } }
        documents { data { title displayName description format data } }
        defaultInstanceAuth {
          credential {
            ... on BasicCredentialData { username password }
            ... on OAuthCredentialData { clientId clientSecret url }
          }
          additionalHeaders additionalQueryParams
          requestAuth { csrf { tokenEndpointURL } }
        }
      }
    }
  }
}
"""

OPENAPI = {
    "openapi": "3.0.0",
    "info": {"title": "Orders", "version": "1.0"},
    "paths": {"/orders": {"get": {"responses": {"200": {"description": "The orders"}}}}},
}
ASYNCAPI = {
    "asyncapi": "1.0.0",
    "info": {"title": "Order events", "version": "1.0.0"},
    "topics": {
        "order.created.v1": {
            "subscribe": {
                "summary": "An order was created",
                "payload": {"type": "object", "properties": {"orderCode": {"type": "string"}}},
            }
        }
    },
}
# The seed tutorial's registration body, every part of it.
SEED_SERVICE: dict[str, Any] = {
    "provider": "SAP Hybris",
    "name": "Orders API",
    "description": "Orders of the commerce shop",
    "shortDescription": "Orders",
    "identifier": "orders-v1",
    "labels": {"connected-app": "commerce"},
    "api": {
        "targetUrl": "https://shop.example.com/orders",
        "credentials": {
            "oauth": {
                "url": "https://shop.example.com/oauth/token",
                "clientId": "commerce",
                "clientSecret": "s3cret",
            }
        },
        "spec": OPENAPI,
    },
    "events": {"spec": ASYNCAPI},
    "documentation": {
        "displayName": "Documentation",
        "description": "How to use the orders",
        "type": "some type",
        "tags": ["orders"],
        "docs": [{"title": "Overview", "type": "md", "source": "# Orders"}],
    },
}
# What GET answers for it: what Compass's adapter keeps of a service, in its field order.
SEED_DETAILS: dict[str, Any] = {
    "provider": "",
    "name": "Orders API",
    "description": "Orders of the commerce shop",
    "identifier": "orders-v1",
    "labels": {},
    "api": {
        "targetUrl": "https://shop.example.com/orders",
        "credentials": {
            "oauth": {
                "url": "https://shop.example.com/oauth/token",
                "clientId": "commerce",
                "clientSecret": "s3cret",
            }
        },
        "spec": OPENAPI,
        "apiType": "OPEN_API",
    },
    "events": {"spec": ASYNCAPI},
    "documentation": {
        "displayName": "ServiceDocumentation",
        "description": "Documents for legacy Service",
        "type": "",
        "docs": [{"title": "Overview", "type": ".md", "source": "# Orders"}],
    },
}
UPDATED_SERVICE: dict[str, Any] = {
    "provider": "SAP Hybris",
    "name": "Orders API v2",
    "description": "Orders, second edition",
    "identifier": "ignored-on-update",
    "api": {
        "targetUrl": "https://shop.example.com/v2/orders",
        "credentials": {
            "basic": {
                "username": "commerce",
                "password": "pa55",
                "csrfInfo": {"tokenEndpointURL": "https://shop.example.com/csrf"},
            }
        },
        "requestParameters": {"headers": {"X-Shop": ["eu"]}, "queryParameters": {"channel": ["web"]}},
        "spec": OPENAPI,
    },
}
UPDATED_DETAILS: dict[str, Any] = {
    "provider": "",
    "name": "Orders API v2",
    "description": "Orders, second edition",
    "identifier": "orders-v1",
    "labels": {},
    "api": {
        "targetUrl": "https://shop.example.com/v2/orders",
        "credentials": {
            "basic": {
                "username": "commerce",
                "password": "pa55",
                "csrfInfo": {"tokenEndpointURL": "https://shop.example.com/csrf"},
            }
        },
        "spec": OPENAPI,
        "apiType": "OPEN_API",
        "requestParameters": {"headers": {"X-Shop": ["eu"]}, "queryParameters": {"channel": ["web"]}},
        "headers": {"X-Shop": ["eu"]},
        "queryParameters": {"channel": ["web"]},
    },
}
INVALID_CREDENTIAL = "invalid token or certificate"
_REMOVED = object()


def compact(value: Any) -> str:
    """JSON as Go's encoder writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def service(*changes: tuple[tuple[str, ...], Any], **fields: Any) -> dict[str, Any]:
    """The seed's body with the values at the given key paths replaced (or removed, with ``_REMOVED``)."""
    body = {**copy.deepcopy(SEED_SERVICE), **fields}
    for path, value in changes:
        parent = body
        for key in path[:-1]:
            parent = parent[key]
        if value is _REMOVED:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return body


@dataclass(frozen=True)
class Registry:
    """An application's Application Registry as the application reaches it: its URL and a client holding the
    application's certificate."""

    application_id: str
    path: str
    client: httpx.AsyncClient

    def of(self, service_id: str) -> str:
        return f"{self.path}/{service_id}"

    async def register(self, body: dict[str, Any]) -> str:
        created = await self.client.post(self.path, json=body)
        assert created.status_code == 200, created.text
        return str(created.json()["id"])

    async def identifiers(self) -> list[str]:
        listed = await self.client.get(self.path)
        assert listed.status_code == 200, listed.text
        return sorted(item.get("identifier", "") for item in listed.json())


async def registry(
    connector: Harness, operator: Operator, name: str | None = None, labels: dict[str, Any] | None = None
) -> Registry:
    """A connected application with a name of its own and its Registry."""
    name = name or f"shop-{uuid.uuid4().hex[:8]}"
    application = await connected_application(connector, operator, name, labels)
    path = f"/{normalize_name(name)}/v1/metadata/services"
    return Registry(application.object_id, path, connector.mtls(application.credentials))


async def bundles(operator: Operator, application_id: str) -> dict[str, Any]:
    return dict((await operator.query(BUNDLES, {"id": application_id}))["result"])


# --- the tutorial ---------------------------------------------------------------------------------------------


@needs_openssl
async def test_an_application_registers_reads_updates_and_deletes_a_service_as_the_tutorial_does(
    connector: Harness, tmp_path: Path
) -> None:
    # given: the tutorial's connection: token → info → openssl CSR → certificate
    operator = await connector.operator()
    application_id = await register_application(operator, f"Commerce {uuid.uuid4().hex[:6]}")
    info = (await connector.http.get((await legacy_token(operator, application_id))["legacyConnectorURL"])).json()
    csr = openssl_csr(tmp_path, info["certificate"]["subject"], "app")
    crt = (await connector.http.post(info["csrUrl"], json={"csr": csr})).json()["crt"]
    client = connector.mtls(credentials_of(tmp_path, crt))
    metadata_url = info["api"]["metadataUrl"]

    # when: it registers the seed's service over mTLS
    created = await client.post(metadata_url, json=SEED_SERVICE)

    # then: 200 with the new service's id
    assert (created.status_code, created.headers["content-type"]) == (200, JSON_TYPE)
    service_id = created.json()["id"]
    assert created.text == compact({"id": service_id})

    # when / then: it is listed, and read back as Compass's adapter tells it
    listed = await client.get(metadata_url)
    assert (listed.status_code, listed.headers["content-type"]) == (200, JSON_TYPE)
    assert listed.text == compact(
        [{"id": service_id, "provider": "", "name": "Orders API", "description": "Orders of the commerce shop",
          "identifier": "orders-v1", "labels": {}}]
    )
    read = await client.get(f"{metadata_url}/{service_id}")
    assert (read.status_code, read.text) == (200, compact(SEED_DETAILS))

    # when: it updates the service
    updated = await client.put(f"{metadata_url}/{service_id}", json=UPDATED_SERVICE)

    # then: 200 with the service as GET tells it; the identifier stayed
    assert (updated.status_code, updated.text) == (200, compact(UPDATED_DETAILS))
    assert (await client.get(f"{metadata_url}/{service_id}")).text == compact(UPDATED_DETAILS)

    # when: it deletes the service
    deleted = await client.delete(f"{metadata_url}/{service_id}")

    # then: 204 with no body, and the service is gone
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert_error(await client.get(f"{metadata_url}/{service_id}"), 404, f"entity with ID {service_id} not found")
    assert (await client.get(metadata_url)).json() == []


async def test_a_service_is_a_bundle_of_the_director(connector: Harness) -> None:
    # given
    operator = await connector.operator()
    target = await registry(connector, operator)

    # when
    service_id = await target.register(SEED_SERVICE)

    # then: one bundle with the API (its target and spec), the event (its AsyncAPI spec), the documents and the
    # OAuth credential as the bundle's default instance auth; the label names the service's identifier
    application = await bundles(operator, target.application_id)
    assert application["bundles"]["data"] == [
        {
            "id": service_id,
            "name": "Orders API",
            "description": "Orders of the commerce shop",
            "apiDefinitions": {"data": [{
                "name": "Orders API",
                "description": "Orders of the commerce shop",
                "targetURL": "https://shop.example.com/orders",
                "spec": {"data": compact(OPENAPI), "type": "OPEN_API", "format": "JSON"},
            }]},
            "eventDefinitions": {"data": [{
                "name": "Orders API",
                "description": "Orders of the commerce shop",
                "spec": {"data": compact(ASYNCAPI), "type": "ASYNC_API", "format": "JSON"},
            }]},
            "documents": {"data": [
                {"title": "Overview", "displayName": "Overview", "description": " ", "format": "MARKDOWN", "data": "# Orders"}
            ]},
            "defaultInstanceAuth": {
                "credential": {
                    "clientId": "commerce", "clientSecret": "s3cret", "url": "https://shop.example.com/oauth/token"
                },
                "additionalHeaders": None,
                "additionalQueryParams": None,
                "requestAuth": None,
            },
        }
    ]
    assert application["labels"] == {
        "legacy_servicesMetadata": compact({service_id: {"id": service_id, "identifier": "orders-v1"}})
    }


async def test_runtimes_of_the_applications_formation_see_the_service_and_its_updates(connector: Harness) -> None:
    # given: a runtime in the application's formation, which has polled once already
    operator = await connector.operator()
    target = await registry(connector, operator, labels={"scenarios": ["DEFAULT"]})
    runtime = await connector.connect_runtime(operator, scenarios=["DEFAULT"])
    runtime_client = connector.mtls(runtime.credentials)
    variables = {"runtimeID": runtime.object_id, "first": 100, "after": None}

    async def seen() -> list[dict[str, Any]]:
        answer = await connector.director(runtime_client, APPLICATIONS_FOR_RUNTIME, variables)
        [application] = answer.data["result"]["data"]
        return list(application["bundles"]["data"])

    assert await seen() == []

    # when: the application registers its service, then changes its credentials
    service_id = await target.register(SEED_SERVICE)
    first = await seen()
    assert (await target.client.put(target.of(service_id), json=UPDATED_SERVICE)).status_code == 200
    second = await seen()

    # then: the agent's own query sees the bundle, then the update, at its next polls
    assert [bundle["id"] for bundle in first] == [service_id]
    assert first[0]["apiDefinitions"]["data"][0]["targetURL"] == "https://shop.example.com/orders"
    assert first[0]["defaultInstanceAuth"]["credential"] == {
        "clientId": "commerce", "clientSecret": "s3cret", "url": "https://shop.example.com/oauth/token"
    }
    assert second[0]["apiDefinitions"]["data"][0]["targetURL"] == "https://shop.example.com/v2/orders"
    assert second[0]["defaultInstanceAuth"] == {
        "credential": {"username": "commerce", "password": "pa55"},
        "additionalHeaders": {"X-Shop": ["eu"]},
        "additionalQueryParams": {"channel": ["web"]},
        "requestAuth": {"csrf": {"tokenEndpointURL": "https://shop.example.com/csrf"}},
    }
    assert second[0]["eventDefinitions"]["data"] == []


# --- the body -------------------------------------------------------------------------------------------------

STRUCTURE = "while validating input, Incorrect structure of service definition, "
BASIC = {"username": "commerce", "password": "pa55"}
OAUTH = SEED_SERVICE["api"]["credentials"]["oauth"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(service((("provider",), _REMOVED)), "Provider field cannot be empty.", id="provider"),
        pytest.param(service(name=""), "Name field cannot be empty.", id="name"),
        pytest.param(service(description=None), "Description field cannot be empty.", id="description"),
        pytest.param(
            service(provider="", name=""), "Name field cannot be empty.;Provider field cannot be empty.", id="several"
        ),
        pytest.param(service((("api", "targetUrl"), "")), "targetUrl field cannot be empty.", id="targetUrl"),
        pytest.param(
            service((("api", "targetUrl"), "shop orders")),
            "Api.targetUrl: shop orders does not validate as url",
            id="targetUrl-not-a-url",
        ),
        pytest.param(
            service((("api", "credentials", "oauth", "url"), "")), "oauth url field cannot be empty", id="oauth-url"
        ),
        pytest.param(
            service((("api", "credentials", "oauth", "url"), "token")),
            "Api.Credentials.OauthWithCSRF.Oauth.url: token does not validate as url",
            id="oauth-url-not-a-url",
        ),
        pytest.param(
            service((("api", "credentials", "oauth", "clientId"), _REMOVED)),
            "oauth clientId field cannot be empty",
            id="oauth-clientId",
        ),
        pytest.param(
            service((("api", "credentials", "oauth", "clientSecret"), "")),
            "oauth clientSecret cannot be empty",
            id="oauth-clientSecret",
        ),
        pytest.param(
            service((("api", "credentials"), {"basic": {"password": "pa55"}})),
            "basic auth username field cannot be empty",
            id="basic-username",
        ),
        pytest.param(
            service((("api", "credentials"), {"basic": {"username": "commerce"}})),
            "basic auth password field cannot be empty",
            id="basic-password",
        ),
        pytest.param(
            service((("api", "credentials"), {"basic": {**BASIC, "csrfInfo": {}}})),
            "tokenEndpointURL field cannot be empty",
            id="csrf-tokenEndpointURL",
        ),
        pytest.param(
            service((("api", "credentials"), {"basic": {**BASIC, "csrfInfo": {"tokenEndpointURL": "csrf"}}})),
            "Api.Credentials.BasicWithCSRF.CSRFInfo.tokenEndpointURL: csrf does not validate as url",
            id="csrf-tokenEndpointURL-not-a-url",
        ),
        pytest.param(
            service((("api", "specificationCredentials"), {"oauth": {**OAUTH, "clientSecret": ""}})),
            "oauth clientSecret cannot be empty",
            id="specificationCredentials-oauth",
        ),
        pytest.param(service((("events", "spec"), _REMOVED)), "spec cannot be empty", id="events-spec"),
        pytest.param(
            service((("documentation", "displayName"), "")),
            "displayName field cannot be empty in documentation",
            id="documentation-displayName",
        ),
        pytest.param(
            service((("documentation", "description"), "")),
            "description field cannot be empty in documentation",
            id="documentation-description",
        ),
        pytest.param(
            service((("documentation", "type"), _REMOVED)),
            "type field cannot be empty in documentation",
            id="documentation-type",
        ),
    ],
)
async def test_a_service_of_incorrect_structure_is_refused_with_400_and_compass_s_message(
    connector: Harness, body: dict[str, Any], message: str
) -> None:
    target = await registry(connector, await connector.operator())

    refused = await target.client.post(target.path, json=body)

    assert_error(refused, 400, STRUCTURE + message)
    assert await target.identifiers() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            service((("api",), _REMOVED), (("events",), None)),
            "At least one of service definition attributes: 'api', 'events' have to be provided",
            id="neither-api-nor-events",
        ),
        pytest.param(
            service((("api", "credentials", "basic"), BASIC)),
            "api.CredentialsWithCSRF is invalid: too many authentication methods provided",
            id="oauth-and-basic",
        ),
        pytest.param(
            service((("api", "credentials", "certificateGen"), {"commonName": "shop"})),
            "api.CredentialsWithCSRF is invalid: too many authentication methods provided",
            id="oauth-and-certificateGen",
        ),
        pytest.param(
            service((("api", "specificationCredentials"), {"oauth": OAUTH, "basic": BASIC})),
            "api.CredentialsWithCSRF is invalid: too many authentication methods provided",
            id="specification-oauth-and-basic",
        ),
    ],
)
async def test_a_service_breaking_a_rule_is_refused_with_400_and_compass_s_message(
    connector: Harness, body: dict[str, Any], message: str
) -> None:
    target = await registry(connector, await connector.operator())

    refused = await target.client.post(target.path, json=body)

    assert_error(refused, 400, f"while validating input, {message}")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"{not json", "while unmarshalling service: Invalid JSON: key must be a string at line 1 column 2", id="not-json"),
        pytest.param(b"[]", "while unmarshalling service: Input should be an object", id="not-an-object"),
        pytest.param(
            compact(service(name=5)).encode(), "while unmarshalling service: name: Input should be a valid string", id="name-a-number"
        ),
        pytest.param(
            compact(service((("api", "headers"), {"X-Shop": "eu"}))).encode(),
            "while unmarshalling service: api.headers.X-Shop: Input should be a valid array",
            id="header-not-a-list",
        ),
    ],
)
async def test_a_body_that_is_no_service_is_refused_with_400(
    connector: Harness, content: bytes, message: str
) -> None:
    target = await registry(connector, await connector.operator())

    refused = await target.client.post(target.path, content=content)

    assert_error(refused, 400, message)


async def test_an_update_is_validated_like_a_registration(connector: Harness) -> None:
    target = await registry(connector, await connector.operator())
    service_id = await target.register(SEED_SERVICE)

    refused = await target.client.put(target.of(service_id), json=service(provider=""))

    assert_error(refused, 400, STRUCTURE + "Provider field cannot be empty.")
    assert (await target.client.get(target.of(service_id))).text == compact(SEED_DETAILS)


async def test_keys_match_their_fields_in_any_case_as_go_decodes_them(connector: Harness) -> None:
    target = await registry(connector, await connector.operator())
    body = service((("api",), {"TARGETURL": "https://shop.example.com/orders"}), (("events",), _REMOVED))

    service_id = await target.register(body)

    read = (await target.client.get(target.of(service_id))).json()
    assert read["api"] == {"targetUrl": "https://shop.example.com/orders"}


async def test_a_body_over_the_size_limit_is_refused_with_413(connector: Harness) -> None:
    target = await registry(connector, await connector.operator())
    huge = service(description="x" * (connector.settings.max_body_bytes + 1))

    refused = await target.client.post(target.path, json=huge)

    assert refused.status_code == 413
    assert await target.identifiers() == []


# --- what a service may carry ---------------------------------------------------------------------------------


async def test_an_xml_spec_is_kept_as_xml_and_answered_as_a_json_string(connector: Harness) -> None:
    # given
    operator = await connector.operator()
    target = await registry(connector, operator)
    edmx = '<?xml version="1.0"?><edmx:Edmx Version="1.0"></edmx:Edmx>'
    body = service((("api", "spec"), edmx), (("api", "apiType"), "OData"), (("events",), _REMOVED))

    # when
    service_id = await target.register(body)

    # then
    [bundle] = (await bundles(operator, target.application_id))["bundles"]["data"]
    assert bundle["apiDefinitions"]["data"][0]["spec"] == {"data": edmx, "type": "ODATA", "format": "XML"}
    read = (await target.client.get(target.of(service_id))).json()
    assert (read["api"]["spec"], read["api"]["apiType"]) == (edmx, "ODATA")


async def test_a_yaml_spec_is_kept_as_yaml(connector: Harness) -> None:
    operator = await connector.operator()
    target = await registry(connector, operator)
    yaml = "openapi: 3.0.0\ninfo:\n  title: Orders\n"

    service_id = await target.register(service((("api", "spec"), yaml)))

    [bundle] = (await bundles(operator, target.application_id))["bundles"]["data"]
    assert bundle["apiDefinitions"]["data"][0]["spec"] == {"data": yaml, "type": "OPEN_API", "format": "YAML"}
    assert (await target.client.get(target.of(service_id))).json()["api"]["spec"] == yaml


async def test_an_odata_api_without_a_spec_gets_its_metadata_document_fetched(
    connector: Harness, upstream_stand_in: UpstreamStandIn
) -> None:
    # given: an OData API registered by URL only, as the seed's tip says OData APIs are
    operator = await connector.operator()
    target = await registry(connector, operator)
    edmx = '<?xml version="1.0"?><edmx:Edmx Version="1.0"></edmx:Edmx>'
    upstream_stand_in.respond(Answer(body=edmx.encode()))
    target_url = f"{upstream_stand_in.http_url}/echo/odata/"
    api = {"targetUrl": target_url, "apiType": "OData"}

    # when
    service_id = await target.register(service((("api",), api), (("events",), _REMOVED)))

    # then: the Director fetched the metadata document from Compass's default URL, and GET says where from
    assert [request.path for request in upstream_stand_in.requests] == ["/echo/odata/$metadata"]
    [bundle] = (await bundles(operator, target.application_id))["bundles"]["data"]
    assert bundle["apiDefinitions"]["data"][0]["spec"] == {"data": edmx, "type": "ODATA", "format": "XML"}
    read = (await target.client.get(target.of(service_id))).json()
    assert read["api"] == {
        "targetUrl": target_url,
        "spec": edmx,
        "specificationUrl": f"{target_url}$metadata",
        "apiType": "ODATA",
    }


async def test_a_specification_url_is_fetched_and_answered(
    connector: Harness, upstream_stand_in: UpstreamStandIn
) -> None:
    target = await registry(connector, await connector.operator())
    upstream_stand_in.respond(Answer(body=json.dumps(OPENAPI).encode()))
    api = {"targetUrl": "https://shop.example.com/orders", "specificationUrl": f"{upstream_stand_in.http_url}/echo/openapi.json"}

    service_id = await target.register(service((("api",), api)))

    read = (await target.client.get(target.of(service_id))).json()
    assert read["api"] == {**api, "spec": OPENAPI, "apiType": "OPEN_API"}


async def test_a_specification_that_cannot_be_fetched_leaves_the_spec_without_data(
    connector: Harness, upstream_stand_in: UpstreamStandIn
) -> None:
    # given
    operator = await connector.operator()
    target = await registry(connector, operator)
    api = {"targetUrl": "https://shop.example.com/orders", "specificationUrl": f"{upstream_stand_in.http_url}/code/404"}

    # when: as in Compass, a failed fetch does not refuse the service
    service_id = await target.register(service((("api",), api)))

    # then
    [bundle] = (await bundles(operator, target.application_id))["bundles"]["data"]
    assert bundle["apiDefinitions"]["data"][0]["spec"] == {"data": None, "type": "OPEN_API", "format": "JSON"}
    read = (await target.client.get(target.of(service_id))).json()
    assert read["api"] == {**api, "apiType": "OPEN_API"}


async def test_specification_credentials_fetch_the_spec_and_are_kept_nowhere_a_runtime_reads(
    connector: Harness, upstream_stand_in: UpstreamStandIn
) -> None:
    """The service's entry is an application label, which runtimes of its formations read: the credentials for
    fetching the spec are the fetch request's auth, not in the label; GET answers them from the fetch request, as
    Compass's adapter does."""
    # given
    operator = await connector.operator()
    target = await registry(connector, operator)
    upstream_stand_in.users = {BASIC["username"]: BASIC["password"]}
    upstream_stand_in.respond(Answer(body=json.dumps(OPENAPI).encode()))
    api = {
        "targetUrl": "https://shop.example.com/orders",
        "specificationUrl": f"{upstream_stand_in.http_url}/basic/orders/openapi.json",
        "specificationCredentials": {"basic": BASIC},
        "specificationRequestParameters": {"headers": {"X-Spec": ["secret"]}},
    }

    # when
    service_id = await target.register(service((("api",), api)))

    # then
    [fetched] = upstream_stand_in.requests_to("/basic/orders/openapi.json")
    assert fetched.header("x-spec") == "secret"
    read = (await target.client.get(target.of(service_id))).json()
    assert read["api"]["spec"] == OPENAPI
    assert read["api"]["specificationCredentials"] == {"basic": BASIC}
    assert read["api"]["specificationRequestParameters"] == {"headers": {"X-Spec": ["secret"]}}
    labels = (await operator.query(APPLICATION_LABELS, {"id": target.application_id}))["result"]["labels"]
    assert BASIC["password"] not in json.dumps(labels)
    assert "secret" not in json.dumps(labels)


async def test_an_invalid_specification_url_is_refused_with_400(connector: Harness) -> None:
    target = await registry(connector, await connector.operator())

    refused = await target.client.post(target.path, json=service((("api", "spec"), None), (("api", "specificationUrl"), "spec.json")))

    assert_error(
        refused,
        400,
        "while creating Service: api.specificationUrl must be an absolute http or https URL, got 'spec.json'",
    )


async def test_the_oldest_top_level_headers_are_request_parameters_which_override_them(connector: Harness) -> None:
    # given
    operator = await connector.operator()
    target = await registry(connector, operator)
    api = {
        "targetUrl": "https://shop.example.com/orders",
        "headers": {"X-Old": ["1"]},
        "queryParameters": {"old": ["1"]},
        "requestParameters": {"queryParameters": {"new": ["2"]}},
    }

    # when
    service_id = await target.register(service((("api",), api)))

    # then: the old headers stay, the query parameters are the new ones
    [bundle] = (await bundles(operator, target.application_id))["bundles"]["data"]
    auth = bundle["defaultInstanceAuth"]
    assert (auth["additionalHeaders"], auth["additionalQueryParams"]) == ({"X-Old": ["1"]}, {"new": ["2"]})
    read = (await target.client.get(target.of(service_id))).json()["api"]
    assert read["requestParameters"] == {"headers": {"X-Old": ["1"]}, "queryParameters": {"new": ["2"]}}
    assert (read["headers"], read["queryParameters"]) == ({"X-Old": ["1"]}, {"new": ["2"]})


async def test_a_service_of_events_only_has_no_api(connector: Harness) -> None:
    operator = await connector.operator()
    target = await registry(connector, operator)

    service_id = await target.register(service((("api",), _REMOVED), (("documentation",), _REMOVED)))

    [bundle] = (await bundles(operator, target.application_id))["bundles"]["data"]
    assert (bundle["apiDefinitions"]["data"], bundle["defaultInstanceAuth"]) == ([], None)
    assert list((await target.client.get(target.of(service_id))).json()) == [
        "provider", "name", "description", "identifier", "labels", "events"
    ]


async def test_a_bundle_made_through_graphql_is_listed_as_a_service_without_identifier(connector: Harness) -> None:
    operator = await connector.operator()
    target = await registry(connector, operator)
    bundle = {"name": "Made by GraphQL", "description": "by an operator"}
    bundle_id = (await operator.query(ADD_BUNDLE, {"id": target.application_id, "in": bundle}))["result"]["id"]

    listed = await target.client.get(target.path)

    assert listed.json() == [
        {"id": bundle_id, "provider": "", "name": "Made by GraphQL", "description": "by an operator", "labels": {}}
    ]


async def test_a_bundle_of_two_apis_is_listed_but_is_no_legacy_service_to_read(connector: Harness) -> None:
    # given: an operator's bundle with two API definitions, which the legacy model cannot tell
    operator = await connector.operator()
    target = await registry(connector, operator)
    apis = [{"name": name, "targetURL": f"https://shop.example.com/{name}"} for name in ("orders", "carts")]
    bundle = {"name": "Two APIs", "apiDefinitions": apis}
    bundle_id = (await operator.query(ADD_BUNDLE, {"id": target.application_id, "in": bundle}))["result"]["id"]

    # when
    listed = await target.client.get(target.path)
    read = await target.client.get(target.of(bundle_id))

    # then: as Compass's adapter answers it
    assert [item["id"] for item in listed.json()] == [bundle_id]
    assert_error(read, 500, "while fetching service: found more API Definitions than one supported for legacy Service")


async def test_a_label_that_is_no_map_of_services_is_answered_with_500_and_its_reason(connector: Harness) -> None:
    operator = await connector.operator()
    target = await registry(connector, operator)
    await operator.query(SET_LABEL, {"id": target.application_id, "key": "legacy_servicesMetadata", "value": 5})

    answer = await target.client.get(target.path)

    assert_error(
        answer,
        500,
        "while fetching Services: the application's label legacy_servicesMetadata is not a JSON object of services by id",
    )


# --- identifiers, ids and names -------------------------------------------------------------------------------


async def test_a_second_service_with_the_same_identifier_is_refused_with_409(connector: Harness) -> None:
    target = await registry(connector, await connector.operator())
    await target.register(SEED_SERVICE)

    duplicate = await target.client.post(target.path, json=service(name="Another"))

    assert_error(duplicate, 409, "Service with Identifier orders-v1 already exists")
    assert await target.identifiers() == ["orders-v1"]


async def test_services_without_identifier_may_be_many(connector: Harness) -> None:
    target = await registry(connector, await connector.operator())

    for _ in range(2):
        await target.register(service((("identifier",), _REMOVED)))

    assert await target.identifiers() == ["", ""]


async def test_a_deleted_services_identifier_may_be_registered_again(connector: Harness) -> None:
    target = await registry(connector, await connector.operator())
    service_id = await target.register(SEED_SERVICE)
    assert (await target.client.delete(target.of(service_id))).status_code == 204

    again = await target.client.post(target.path, json=SEED_SERVICE)

    assert again.status_code == 200
    assert await target.identifiers() == ["orders-v1"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_an_unknown_service_is_404(connector: Harness, method: str) -> None:
    target = await registry(connector, await connector.operator())
    unknown = str(uuid.uuid4())

    answer = await target.client.request(method, target.of(unknown), json=SEED_SERVICE if method == "PUT" else None)

    assert_error(answer, 404, f"entity with ID {unknown} not found")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_another_applications_service_is_404_even_in_the_same_tenant(connector: Harness, method: str) -> None:
    # given: two applications of one tenant; B registered a service
    operator = await connector.operator()
    target_a, target_b = await registry(connector, operator), await registry(connector, operator)
    service_id = await target_b.register(SEED_SERVICE)

    # when: A names B's service under its own path
    answer = await target_a.client.request(method, target_a.of(service_id), json=SEED_SERVICE if method == "PUT" else None)

    # then
    assert_error(answer, 404, f"entity with ID {service_id} not found")
    assert (await target_b.client.get(target_b.of(service_id))).text == compact(SEED_DETAILS)


async def test_an_unknown_application_name_is_404(connector: Harness) -> None:
    target = await registry(connector, await connector.operator())

    answer = await target.client.get("/mp-nobody/v1/metadata/services")

    assert_error(answer, 404, "application with name mp-nobody not found")


async def test_the_application_is_known_by_its_normalized_name_only(connector: Harness) -> None:
    name = f"Shop {uuid.uuid4().hex[:6]}"
    target = await registry(connector, await connector.operator(), name)

    answer = await target.client.get(f"/{name}/v1/metadata/services")

    assert_error(answer, 404, f"application with name {name} not found")


# --- who may call ---------------------------------------------------------------------------------------------


async def test_another_applications_certificate_is_refused_with_403(connector: Harness) -> None:
    # given
    operator = await connector.operator()
    target_a, target_b = await registry(connector, operator), await registry(connector, operator)
    name_b = target_b.path.split("/")[1]

    # when: A's certificate on B's Registry
    for answer in (
        await target_a.client.get(target_b.path),
        await target_a.client.post(target_b.path, json=SEED_SERVICE),
    ):
        # then
        assert_error(
            answer, 403, f"{INVALID_CREDENTIAL}: the client certificate is not application {name_b}'s; it acts only for its own"
        )
    assert await target_b.identifiers() == []


async def test_a_one_time_token_is_refused_with_403_and_stays_unspent(connector: Harness) -> None:
    # given
    operator = await connector.operator()
    name = f"shop-{uuid.uuid4().hex[:8]}"
    application_id = await register_application(operator, name)
    token = await connector.application_token(operator, application_id)
    path = f"/{normalize_name(name)}/v1/metadata/services"

    # when
    for answer in (
        await connector.http.get(path, params={"token": token}),
        await connector.http.post(path, headers={"Connector-Token": token}, json=SEED_SERVICE),
    ):
        # then
        assert_error(answer, 403, INVALID_CREDENTIAL)
    assert "token" in await connector.configuration(token)


async def test_no_certificate_and_a_runtimes_certificate_are_refused_with_403(connector: Harness) -> None:
    operator = await connector.operator()
    target = await registry(connector, operator)
    runtime = await connector.connect_runtime(operator)

    for client in (connector.mtls(), connector.mtls(runtime.credentials)):
        assert_error(await client.get(target.path), 403, INVALID_CREDENTIAL)


async def test_an_application_of_the_same_name_in_another_tenant_is_never_reached(connector: Harness) -> None:
    # given: one name in two tenants, each application with its certificate
    name = f"shop-{uuid.uuid4().hex[:8]}"
    target_a = await registry(connector, await connector.operator(), name)
    target_b = await registry(connector, await connector.operator(), name)
    assert target_a.path == target_b.path

    # when: A registers a service
    service_id = await target_a.register(SEED_SERVICE)

    # then: B's Registry, at the same path, has none, and cannot read, change or delete A's
    assert await target_b.identifiers() == []
    for method in ("GET", "PUT", "DELETE"):
        answer = await target_b.client.request(method, target_b.of(service_id), json=SEED_SERVICE if method == "PUT" else None)
        assert_error(answer, 404, f"entity with ID {service_id} not found")
    assert await target_a.identifiers() == ["orders-v1"]


async def test_the_certificate_may_come_from_a_trusted_proxy(connector_with: HarnessFactory) -> None:
    # given
    behind_proxy = await connector_with(trusted_proxies=[PROXY])
    name = f"shop-{uuid.uuid4().hex[:8]}"
    application = await connected_application(behind_proxy, await behind_proxy.operator(), name)
    header = {"X-Forwarded-Client-Cert": xfcc(application.credentials.certificate)}
    path = f"/{normalize_name(name)}/v1/metadata/services"

    # when: the proxy forwards the registration over plain HTTP
    created = await behind_proxy.http.post(path, json=SEED_SERVICE, headers=header)

    # then
    assert created.status_code == 200
    listed = await behind_proxy.http.get(path, headers=header)
    assert [item["id"] for item in listed.json()] == [created.json()["id"]]


# --- concurrency ----------------------------------------------------------------------------------------------

CONCURRENT = 8


async def test_concurrent_registrations_lose_no_service(connector: Harness) -> None:
    target = await registry(connector, await connector.operator())

    created = await asyncio.gather(
        *(target.client.post(target.path, json=service(identifier=f"orders-{index}")) for index in range(CONCURRENT))
    )

    assert [answer.status_code for answer in created] == [200] * CONCURRENT
    assert await target.identifiers() == sorted(f"orders-{index}" for index in range(CONCURRENT))


async def test_concurrent_registrations_of_one_identifier_register_it_once(connector: Harness) -> None:
    target = await registry(connector, await connector.operator())

    created = await asyncio.gather(*(target.client.post(target.path, json=SEED_SERVICE) for _ in range(CONCURRENT)))

    assert sorted(answer.status_code for answer in created) == [200] + [409] * (CONCURRENT - 1)
    assert await target.identifiers() == ["orders-v1"]


async def test_concurrent_deletions_and_registrations_keep_the_label_whole(connector: Harness) -> None:
    # given: half the services registered
    operator = await connector.operator()
    target = await registry(connector, operator)
    old = [await target.register(service(identifier=f"old-{index}")) for index in range(CONCURRENT // 2)]

    # when: they are deleted while as many others are registered
    answers = await asyncio.gather(
        *(target.client.delete(target.of(service_id)) for service_id in old),
        *(target.client.post(target.path, json=service(identifier=f"new-{index}")) for index in range(CONCURRENT // 2)),
    )

    # then: the label names exactly the new services, by their ids
    assert sorted(answer.status_code for answer in answers) == [200] * (CONCURRENT // 2) + [204] * (CONCURRENT // 2)
    new = {answer.json()["id"] for answer in answers if answer.status_code == 200}
    label = json.loads((await bundles(operator, target.application_id))["labels"]["legacy_servicesMetadata"])
    assert set(label) == new
    assert await target.identifiers() == sorted(f"new-{index}" for index in range(CONCURRENT // 2))
