"""Compass-style documents (every field selected, values inline, a ``result:`` alias) for specs fetched from a URL:
addAPIDefinitionToBundle, addEventDefinitionToBundle and addDocumentToBundle with a fetchRequest, refetchAPISpec and
refetchEventDefinitionSpec. The specs come from the loopback stand-in (testing/upstream.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from testing.upstream import Answer, UpstreamStandIn
from tests.support import Operator

OPEN_API = b'{"openapi":"3.0.0","info":{"title":"orders","version":"1"},"paths":{}}'
ASYNC_API = b'{"asyncapi":"2.0.0","info":{"title":"order events","version":"1"},"channels":{}}'
MARKDOWN = b"# Orders\n\nHow to order."

CREDENTIAL = """
          ... on BasicCredentialData { username password }
          ... on CertificateOAuthCredentialData { clientId certificate url }
          ... on OAuthCredentialData { clientId clientSecret url }
"""

FETCH_REQUEST = f"""
      url
      auth {{
        credential {{ {CREDENTIAL} }}
        oneTimeToken {{ __typename token used expiresAt }}
        certCommonName
        accessStrategy
        additionalHeaders
        additionalQueryParams
        requestAuth {{
          csrf {{ tokenEndpointURL credential {{ {CREDENTIAL} }} additionalHeaders additionalQueryParams }}
        }}
      }}
      mode
      filter
      status {{ condition message timestamp }}
"""

SPEC = f"id data format type fetchRequest {{ {FETCH_REQUEST} }}"

VERSION = "version { value deprecated deprecatedSince forRemoval }"


async def a_bundle(operator: Operator) -> str:
    name = f"app-{uuid.uuid4().hex[:8]}"
    data = await operator.query(
        f'mutation {{ result: registerApplication(in: {{name: "{name}", bundles: [{{name: "orders"}}]}}) '
        "{ bundles { data { id } } } }"
    )
    bundle_id: str = data["result"]["bundles"]["data"][0]["id"]
    return bundle_id


def status_of(fetch_request: dict[str, Any]) -> dict[str, Any]:
    """The status without its timestamp, after checking that the timestamp is one."""
    status = dict(fetch_request["status"])
    assert datetime.fromisoformat(status.pop("timestamp")).tzinfo is not None
    return status


def without_status(fetch_request: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fetch_request.items() if key != "status"}


async def test_add_api_definition_to_bundle_with_a_fetch_request(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    # given
    bundle_id = await a_bundle(operator)
    upstream_stand_in.respond(Answer(body=OPEN_API))
    url = f"{upstream_stand_in.http_url}/echo/orders/openapi.json"
    document = f"""
    mutation {{
      result: addAPIDefinitionToBundle(
        bundleID: "{bundle_id}"
        in: {{
          name: "orders"
          targetURL: "https://shop.example.com/orders"
          spec: {{type: OPEN_API, format: JSON, fetchRequest: {{url: "{url}"}}}}
        }}
      ) {{
        id
        name
        description
        spec {{ {SPEC} }}
        targetURL
        group
        {VERSION}
      }}
    }}
    """

    # when
    added = (await operator.query(document))["result"]

    # then
    spec = added["spec"]
    assert spec["id"] == added["id"]
    assert (spec["data"], spec["format"], spec["type"]) == (OPEN_API.decode(), "JSON", "OPEN_API")
    assert without_status(spec["fetchRequest"]) == {
        "url": url,
        "auth": None,
        "mode": "SINGLE",
        "filter": None,
    }
    assert status_of(spec["fetchRequest"]) == {"condition": "SUCCEEDED", "message": None}
    assert (added["name"], added["targetURL"], added["description"], added["group"], added["version"]) == (
        "orders",
        "https://shop.example.com/orders",
        None,
        None,
        None,
    )


async def test_add_event_definition_to_bundle_with_a_fetch_request_and_basic_credentials(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    # given
    bundle_id = await a_bundle(operator)
    upstream_stand_in.respond(Answer(body=ASYNC_API))
    url = f"{upstream_stand_in.http_url}/basic/orders/asyncapi.json"
    document = f"""
    mutation {{
      result: addEventDefinitionToBundle(
        bundleID: "{bundle_id}"
        in: {{
          name: "order events"
          spec: {{
            type: ASYNC_API
            format: JSON
            fetchRequest: {{url: "{url}", auth: {{credential: {{basic: {{username: "user", password: "passwd"}}}}}}}}
          }}
        }}
      ) {{
        id
        name
        description
        group
        spec {{ {SPEC} }}
        {VERSION}
      }}
    }}
    """

    # when
    added = (await operator.query(document))["result"]

    # then
    spec = added["spec"]
    assert (spec["id"], spec["data"], spec["format"], spec["type"]) == (
        added["id"],
        ASYNC_API.decode(),
        "JSON",
        "ASYNC_API",
    )
    assert spec["fetchRequest"]["auth"]["credential"] == {"username": "user", "password": "passwd"}
    assert status_of(spec["fetchRequest"]) == {"condition": "SUCCEEDED", "message": None}


async def test_add_document_to_bundle_with_a_fetch_request(
    operator: Operator, upstream_stand_in: UpstreamStandIn
) -> None:
    # given
    bundle_id = await a_bundle(operator)
    upstream_stand_in.respond(Answer(body=MARKDOWN))
    url = f"{upstream_stand_in.http_url}/echo/orders/README.md"
    document = f"""
    mutation {{
      result: addDocumentToBundle(
        bundleID: "{bundle_id}"
        in: {{
          title: "Orders"
          displayName: "Orders"
          description: "How to order"
          format: MARKDOWN
          fetchRequest: {{url: "{url}", mode: SINGLE}}
        }}
      ) {{
        id
        title
        displayName
        description
        format
        kind
        data
        fetchRequest {{ {FETCH_REQUEST} }}
      }}
    }}
    """

    # when
    added = (await operator.query(document))["result"]

    # then
    assert added["data"] == MARKDOWN.decode()
    assert without_status(added["fetchRequest"]) == {
        "url": url,
        "auth": None,
        "mode": "SINGLE",
        "filter": None,
    }
    assert status_of(added["fetchRequest"]) == {"condition": "SUCCEEDED", "message": None}


async def test_refetch_api_spec(operator: Operator, upstream_stand_in: UpstreamStandIn) -> None:
    # given an API whose spec was fetched, and a newer spec at its URL
    bundle_id = await a_bundle(operator)
    url = f"{upstream_stand_in.http_url}/echo/orders/openapi.json"
    upstream_stand_in.respond(Answer(body=OPEN_API))
    api = await operator.query(
        f"""mutation {{ result: addAPIDefinitionToBundle(bundleID: "{bundle_id}", in: {{
              name: "orders", targetURL: "https://shop.example.com/orders",
              spec: {{type: OPEN_API, format: JSON, fetchRequest: {{url: "{url}"}}}}}}) {{ id }} }}"""
    )
    newer = OPEN_API.replace(b'"version":"1"', b'"version":"2"')
    upstream_stand_in.respond(Answer(body=newer))

    # when
    refetched = (
        await operator.query(
            f'mutation {{ result: refetchAPISpec(apiID: "{api["result"]["id"]}") {{ {SPEC} }} }}'
        )
    )["result"]

    # then
    assert (refetched["id"], refetched["data"], refetched["format"], refetched["type"]) == (
        api["result"]["id"],
        newer.decode(),
        "JSON",
        "OPEN_API",
    )
    assert status_of(refetched["fetchRequest"]) == {"condition": "SUCCEEDED", "message": None}


async def test_refetch_event_definition_spec(operator: Operator, upstream_stand_in: UpstreamStandIn) -> None:
    # given an event definition whose spec URL answers 404 now
    bundle_id = await a_bundle(operator)
    url = f"{upstream_stand_in.http_url}/echo/orders/asyncapi.json"
    upstream_stand_in.respond(Answer(body=ASYNC_API))
    event = await operator.query(
        f"""mutation {{ result: addEventDefinitionToBundle(bundleID: "{bundle_id}", in: {{
              name: "order events", spec: {{type: ASYNC_API, format: JSON, fetchRequest: {{url: "{url}"}}}}}}) {{ id }} }}"""
    )
    upstream_stand_in.respond(Answer(status=404))

    # when
    document = (
        f'mutation {{ result: refetchEventDefinitionSpec(eventID: "{event["result"]["id"]}") {{ {SPEC} }} }}'
    )
    refetched = (await operator.query(document))["result"]

    # then: as in Compass, a failed fetch leaves the spec without data
    assert (refetched["data"], refetched["format"], refetched["type"]) == (None, "JSON", "ASYNC_API")
    assert status_of(refetched["fetchRequest"]) == {
        "condition": "FAILED",
        "message": "While fetching Spec status code: 404",
    }
