"""Compass-style documents (every field selected, values inline, a ``result:`` alias) for the shared types:
credentials (certificate OAuth), Auth, Webhook with templates, OneTimeToken, SystemAuth and Pageable."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from tests.support import Operator

CERTIFICATE = "-----BEGIN CERTIFICATE-----\\nMIIB...\\n-----END CERTIFICATE-----"

CREDENTIAL = """
      ... on BasicCredentialData { username password }
      ... on OAuthCredentialData { clientId clientSecret url }
      ... on CertificateOAuthCredentialData { clientId certificate url }
"""

ONE_TIME_TOKEN = """
      __typename
      token
      connectorURL
      used
      expiresAt
      createdAt
      usedAt
      raw
      rawEncoded
      type
      ... on OneTimeTokenForApplication { legacyConnectorURL scenarioGroups }
"""

AUTH = f"""
    credential {{ {CREDENTIAL} }}
    accessStrategy
    additionalHeaders
    additionalHeadersSerialized
    additionalQueryParams
    additionalQueryParamsSerialized
    requestAuth {{
      csrf {{
        tokenEndpointURL
        credential {{ {CREDENTIAL} }}
        additionalHeaders
        additionalHeadersSerialized
        additionalQueryParams
        additionalQueryParamsSerialized
      }}
    }}
    oneTimeToken {{ {ONE_TIME_TOKEN} }}
    certCommonName
"""

WEBHOOK = f"""
    id
    applicationID
    applicationTemplateID
    runtimeID
    integrationSystemID
    formationTemplateID
    type
    mode
    correlationIdKey
    retryInterval
    timeout
    url
    auth {{ {AUTH} }}
    urlTemplate
    inputTemplate
    headerTemplate
    outputTemplate
    statusTemplate
    createdAt
"""

SYSTEM_AUTH = f"id type tenantId referenceObjectId auth {{ {AUTH} }}"


async def register_application(operator: Operator) -> str:
    name = f"app-{uuid.uuid4().hex[:8]}"
    data = await operator.query(f'mutation {{ result: registerApplication(in: {{name: "{name}"}}) {{ id }} }}')
    application_id: str = data["result"]["id"]
    return application_id


def without_generated(answer: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key not in keys}


async def test_add_bundle_with_a_certificate_oauth_default_instance_auth(operator: Operator) -> None:
    # given
    application_id = await register_application(operator)
    document = f"""
    mutation {{
      result: addBundle(
        applicationID: "{application_id}"
        in: {{
          name: "orders"
          defaultInstanceAuth: {{
            credential: {{
              certificateOAuth: {{
                clientId: "orders-client"
                certificate: "{CERTIFICATE}"
                url: "https://auth.example.com/oauth/token"
              }}
            }}
            accessStrategy: "sap:cmp-mtls:v1"
            additionalHeadersSerialized: "{{\\"X-Tenant\\":[\\"t1\\"]}}"
            requestAuth: {{
              csrf: {{
                tokenEndpointURL: "https://shop.example.com/csrf"
                credential: {{basic: {{username: "csrf", password: "csrf-secret"}}}}
                additionalHeaders: {{Accept: ["application/json"]}}
                additionalQueryParamsSerialized: "{{\\"sap-client\\":[\\"100\\"]}}"
              }}
            }}
          }}
        }}
      ) {{
        id
        name
        defaultInstanceAuth {{ {AUTH} }}
      }}
    }}
    """

    # when
    added = (await operator.query(document))["result"]

    # then
    expected_auth = {
        "credential": {
            "clientId": "orders-client",
            "certificate": CERTIFICATE.replace("\\n", "\n"),
            "url": "https://auth.example.com/oauth/token",
        },
        "accessStrategy": "sap:cmp-mtls:v1",
        "additionalHeaders": {"X-Tenant": ["t1"]},
        "additionalHeadersSerialized": '{"X-Tenant":["t1"]}',
        "additionalQueryParams": None,
        "additionalQueryParamsSerialized": None,
        "requestAuth": {
            "csrf": {
                "tokenEndpointURL": "https://shop.example.com/csrf",
                "credential": {"username": "csrf", "password": "csrf-secret"},
                "additionalHeaders": {"Accept": ["application/json"]},
                "additionalHeadersSerialized": '{"Accept":["application/json"]}',
                "additionalQueryParams": {"sap-client": ["100"]},
                "additionalQueryParamsSerialized": '{"sap-client":["100"]}',
            }
        },
        "oneTimeToken": None,
        "certCommonName": "",
    }
    assert without_generated(added, "id") == {"name": "orders", "defaultInstanceAuth": expected_auth}
    read = await operator.query(
        f"""
        query {{
          result: application(id: "{application_id}") {{
            bundle(id: "{added["id"]}") {{ defaultInstanceAuth {{ {AUTH} }} }}
          }}
        }}
        """
    )
    assert read["result"]["bundle"]["defaultInstanceAuth"] == expected_auth


async def test_add_webhook_with_templates(operator: Operator) -> None:
    # given
    application_id = await register_application(operator)
    document = f"""
    mutation {{
      result: addWebhook(
        applicationID: "{application_id}"
        in: {{
          type: CONFIGURATION_CHANGED
          mode: ASYNC_CALLBACK
          correlationIdKey: "X-Correlation-ID"
          retryInterval: 60
          timeout: 300
          urlTemplate: "{{\\"path\\":\\"https://shop.example.com/formations/{{{{.Formation.ID}}}}\\",\\"method\\":\\"PATCH\\"}}"
          inputTemplate: "{{\\"operation\\":\\"{{{{.Operation}}}}\\"{{{{if .Assignment}}}},\\"state\\":\\"{{{{.Assignment.State}}}}\\"{{{{end}}}}}}"
          headerTemplate: "{{\\"Content-Type\\":[\\"application/json\\"]}}"
          outputTemplate: "{{\\"success_status_code\\":202,\\"error\\":\\"{{{{.Body.error}}}}\\"}}"
          auth: {{credential: {{oauth: {{clientId: "hook", clientSecret: "hook-secret", url: "https://auth.example.com/token"}}}}}}
        }}
      ) {{ {WEBHOOK} }}
    }}
    """

    # when
    added = (await operator.query(document))["result"]

    # then
    assert datetime.fromisoformat(added["createdAt"]).tzinfo is not None
    assert without_generated(added, "id", "createdAt") == {
        "applicationID": application_id,
        "applicationTemplateID": None,
        "runtimeID": None,
        "integrationSystemID": None,
        "formationTemplateID": None,
        "type": "CONFIGURATION_CHANGED",
        "mode": "ASYNC_CALLBACK",
        "correlationIdKey": "X-Correlation-ID",
        "retryInterval": 60,
        "timeout": 300,
        "url": None,
        "auth": {
            "credential": {"clientId": "hook", "clientSecret": "hook-secret", "url": "https://auth.example.com/token"},
            "accessStrategy": None,
            "additionalHeaders": None,
            "additionalHeadersSerialized": None,
            "additionalQueryParams": None,
            "additionalQueryParamsSerialized": None,
            "requestAuth": None,
            "oneTimeToken": None,
            "certCommonName": "",
        },
        "urlTemplate": '{"path":"https://shop.example.com/formations/{{.Formation.ID}}","method":"PATCH"}',
        "inputTemplate": '{"operation":"{{.Operation}}"{{if .Assignment}},"state":"{{.Assignment.State}}"{{end}}}',
        "headerTemplate": '{"Content-Type":["application/json"]}',
        "outputTemplate": '{"success_status_code":202,"error":"{{.Body.error}}"}',
        "statusTemplate": None,
    }
    read = await operator.query(f'query {{ result: application(id: "{application_id}") {{ webhooks {{ {WEBHOOK} }} }} }}')
    assert read["result"]["webhooks"] == [added]


async def test_request_one_time_token_for_application_as_a_one_time_token(operator: Operator) -> None:
    # given
    application_id = await register_application(operator)

    # when
    data = await operator.query(
        f'mutation {{ result: requestOneTimeTokenForApplication(id: "{application_id}") {{ {ONE_TIME_TOKEN} }} }}'
    )

    # then
    token = data["result"]
    assert (token["__typename"], token["type"], token["used"], token["usedAt"]) == (
        "OneTimeTokenForApplication",
        "Application",
        False,
        None,
    )
    assert token["scenarioGroups"] == []
    assert json.loads(token["raw"])["token"] == token["token"]


async def test_application_auths_name_their_tenant_and_application(operator: Operator) -> None:
    # given
    application_id = await register_application(operator)
    await operator.query(f'mutation {{ result: requestOneTimeTokenForApplication(id: "{application_id}") {{ token }} }}')

    # when
    data = await operator.query(f'query {{ result: application(id: "{application_id}") {{ auths {{ {SYSTEM_AUTH} }} }} }}')

    # then
    [auth] = data["result"]["auths"]
    assert without_generated(auth, "id") == {
        "type": "APPLICATION",
        "tenantId": operator.tenant_id,
        "referenceObjectId": application_id,
        "auth": None,
    }


async def test_applications_page_through_the_pageable_interface(operator: Operator) -> None:
    # given
    for _ in range(3):
        await register_application(operator)

    # when
    data = await operator.query(
        """
        query {
          result: applications(first: 2) {
            ... on Pageable {
              totalCount
              pageInfo { startCursor endCursor hasNextPage }
            }
            data { id }
          }
        }
        """
    )

    # then
    page = data["result"]
    assert (page["totalCount"], page["pageInfo"]["hasNextPage"], len(page["data"])) == (3, True, 2)
