"""Compass-style documents (every field selected, values inline, a ``result:`` alias) for integration systems and
OAuth client credentials: register, read one and a page, update, unregister; request client credentials for a
runtime, an application and an integration system; delete them; update a system auth."""

from __future__ import annotations

import uuid
from typing import Any

from tests.director.examples.test_shared_types import SYSTEM_AUTH, register_application
from tests.support import Operator

INTEGRATION_SYSTEM = f"""
    id
    name
    description
    auths {{ {SYSTEM_AUTH} }}
"""
SYSTEM_AUTH_WITH_TYPE = f"__typename {SYSTEM_AUTH}"
NO_AUTH_EXTRAS = {
    "accessStrategy": None,
    "additionalHeaders": None,
    "additionalHeadersSerialized": None,
    "additionalQueryParams": None,
    "additionalQueryParamsSerialized": None,
    "requestAuth": None,
    "oneTimeToken": None,
    "certCommonName": "",
}


def unique_name() -> str:
    return f"int-system-{uuid.uuid4().hex[:8]}"


async def register_integration_system(operator: Operator, name: str) -> dict[str, Any]:
    data = await operator.query(f"""
mutation {{
  result: registerIntegrationSystem(in: {{ name: "{name}", description: "integration system description" }}) {{
    {INTEGRATION_SYSTEM}
  }}
}}
""")
    result: dict[str, Any] = data["result"]
    return result


async def register_runtime(operator: Operator) -> str:
    data = await operator.query(f'mutation {{ result: registerRuntime(in: {{ name: "rt-{uuid.uuid4().hex[:8]}" }}) {{ id }} }}')
    runtime_id: str = data["result"]["id"]
    return runtime_id


def oauth_auth(client_id: str, client_secret: str, url: str) -> dict[str, Any]:
    return {"credential": {"clientId": client_id, "clientSecret": client_secret, "url": url}, **NO_AUTH_EXTRAS}


async def test_register_integration_system(operator: Operator) -> None:
    # given
    name = unique_name()

    # when
    result = await register_integration_system(operator, name)

    # then
    assert result == {"id": result["id"], "name": name, "description": "integration system description", "auths": []}


async def test_query_integration_system(operator: Operator) -> None:
    # given
    registered = await register_integration_system(operator, unique_name())

    # when
    data = await operator.query(f'query {{ result: integrationSystem(id: "{registered["id"]}") {{ {INTEGRATION_SYSTEM} }} }}')

    # then
    assert data["result"] == registered


async def test_query_integration_systems(operator: Operator) -> None:
    # given
    registered = await register_integration_system(operator, unique_name())

    # when
    data = await operator.query(f"""
query {{
  result: integrationSystems(first: 200, after: "") {{
    data {{ {INTEGRATION_SYSTEM} }}
    pageInfo {{ startCursor endCursor hasNextPage }}
    totalCount
  }}
}}
""")

    # then
    page = data["result"]
    assert registered in page["data"]
    assert page["totalCount"] == len(page["data"])
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["pageInfo"]["endCursor"] == ""


async def test_update_integration_system(operator: Operator) -> None:
    # given
    registered = await register_integration_system(operator, unique_name())
    new_name = unique_name()

    # when
    data = await operator.query(f"""
mutation {{
  result: updateIntegrationSystem(id: "{registered["id"]}", in: {{ name: "{new_name}", description: "new description" }}) {{
    {INTEGRATION_SYSTEM}
  }}
}}
""")

    # then
    assert data["result"] == {"id": registered["id"], "name": new_name, "description": "new description", "auths": []}


async def test_unregister_integration_system(operator: Operator) -> None:
    # given
    registered = await register_integration_system(operator, unique_name())

    # when
    data = await operator.query(
        f'mutation {{ result: unregisterIntegrationSystem(id: "{registered["id"]}") {{ {INTEGRATION_SYSTEM} }} }}'
    )

    # then
    assert data["result"] == registered
    gone = await operator.query(f'query {{ result: integrationSystem(id: "{registered["id"]}") {{ id }} }}')
    assert gone["result"] is None


async def test_request_client_credentials_for_integration_system(operator: Operator) -> None:
    # given
    registered = await register_integration_system(operator, unique_name())

    # when
    data = await operator.query(f"""
mutation {{
  result: requestClientCredentialsForIntegrationSystem(id: "{registered["id"]}") {{ {SYSTEM_AUTH_WITH_TYPE} }}
}}
""")

    # then
    result = data["result"]
    credential = result["auth"]["credential"]
    assert result == {
        "__typename": "IntSysSystemAuth",
        "id": credential["clientId"],
        "type": "INTEGRATION_SYSTEM",
        "tenantId": None,
        "referenceObjectId": registered["id"],
        "auth": oauth_auth(result["id"], credential["clientSecret"], credential["url"]),
    }
    assert credential["url"].endswith("/oauth2/token")
    assert len(credential["clientSecret"]) >= 64
    listed = await operator.query(f'query {{ result: integrationSystem(id: "{registered["id"]}") {{ {INTEGRATION_SYSTEM} }} }}')
    # Shown once: stored, the secret is a hash.
    assert listed["result"]["auths"] == [
        {**without_typename(result), "auth": oauth_auth(result["id"], "", credential["url"])}
    ]


async def test_request_client_credentials_for_runtime(operator: Operator) -> None:
    # given
    runtime_id = await register_runtime(operator)

    # when
    data = await operator.query(
        f'mutation {{ result: requestClientCredentialsForRuntime(id: "{runtime_id}") {{ {SYSTEM_AUTH_WITH_TYPE} }} }}'
    )

    # then
    result = data["result"]
    credential = result["auth"]["credential"]
    assert result == {
        "__typename": "RuntimeSystemAuth",
        "id": credential["clientId"],
        "type": "RUNTIME",
        "tenantId": operator.tenant_id,
        "referenceObjectId": runtime_id,
        "auth": oauth_auth(result["id"], credential["clientSecret"], credential["url"]),
    }
    assert credential["url"].endswith("/oauth2/token")


async def test_request_client_credentials_for_application(operator: Operator) -> None:
    # given
    application_id = await register_application(operator)

    # when
    data = await operator.query(
        f'mutation {{ result: requestClientCredentialsForApplication(id: "{application_id}") {{ {SYSTEM_AUTH_WITH_TYPE} }} }}'
    )

    # then
    result = data["result"]
    credential = result["auth"]["credential"]
    assert result == {
        "__typename": "AppSystemAuth",
        "id": credential["clientId"],
        "type": "APPLICATION",
        "tenantId": operator.tenant_id,
        "referenceObjectId": application_id,
        "auth": oauth_auth(result["id"], credential["clientSecret"], credential["url"]),
    }


async def test_delete_system_auth_for_integration_system(operator: Operator) -> None:
    # given
    registered = await register_integration_system(operator, unique_name())
    issued = await operator.query(
        f'mutation {{ result: requestClientCredentialsForIntegrationSystem(id: "{registered["id"]}") {{ id }} }}'
    )
    auth_id = issued["result"]["id"]

    # when
    data = await operator.query(
        f'mutation {{ result: deleteSystemAuthForIntegrationSystem(authID: "{auth_id}") {{ {SYSTEM_AUTH_WITH_TYPE} }} }}'
    )

    # then
    url = data["result"]["auth"]["credential"]["url"]
    assert data["result"] == {
        "__typename": "IntSysSystemAuth",
        "id": auth_id,
        "type": "INTEGRATION_SYSTEM",
        "tenantId": None,
        "referenceObjectId": registered["id"],
        "auth": oauth_auth(auth_id, "", url),
    }
    listed = await operator.query(f'query {{ result: integrationSystem(id: "{registered["id"]}") {{ auths {{ id }} }} }}')
    assert listed["result"]["auths"] == []


async def test_delete_system_auth_for_runtime(operator: Operator) -> None:
    # given
    runtime_id = await register_runtime(operator)
    issued = await operator.query(f'mutation {{ result: requestClientCredentialsForRuntime(id: "{runtime_id}") {{ id }} }}')
    auth_id = issued["result"]["id"]

    # when
    data = await operator.query(
        f'mutation {{ result: deleteSystemAuthForRuntime(authID: "{auth_id}") {{ {SYSTEM_AUTH_WITH_TYPE} }} }}'
    )

    # then
    assert data["result"]["__typename"] == "RuntimeSystemAuth"
    assert data["result"]["referenceObjectId"] == runtime_id
    runtime = await operator.query(f'query {{ result: runtime(id: "{runtime_id}") {{ auths {{ id }} }} }}')
    assert runtime["result"]["auths"] == []


async def test_delete_system_auth_for_application(operator: Operator) -> None:
    # given
    application_id = await register_application(operator)
    issued = await operator.query(
        f'mutation {{ result: requestClientCredentialsForApplication(id: "{application_id}") {{ id }} }}'
    )
    auth_id = issued["result"]["id"]

    # when
    data = await operator.query(
        f'mutation {{ result: deleteSystemAuthForApplication(authID: "{auth_id}") {{ {SYSTEM_AUTH_WITH_TYPE} }} }}'
    )

    # then
    assert data["result"]["__typename"] == "AppSystemAuth"
    assert data["result"]["referenceObjectId"] == application_id
    application = await operator.query(f'query {{ result: application(id: "{application_id}") {{ auths {{ id }} }} }}')
    assert application["result"]["auths"] == []


async def test_update_system_auth(operator: Operator) -> None:
    # given
    runtime_id = await register_runtime(operator)
    issued = await operator.query(f'mutation {{ result: requestClientCredentialsForRuntime(id: "{runtime_id}") {{ id }} }}')
    auth_id = issued["result"]["id"]

    # when
    data = await operator.query(f"""
mutation {{
  result: updateSystemAuth(
    authID: "{auth_id}"
    in: {{
      certCommonName: "runtime-common-name"
      accessStrategy: "sap:cmp-mtls:v1"
      additionalHeaders: {{ tenant: ["a"] }}
    }}
  ) {{ {SYSTEM_AUTH_WITH_TYPE} }}
}}
""")

    # then
    assert data["result"] == {
        "__typename": "RuntimeSystemAuth",
        "id": auth_id,
        "type": "RUNTIME",
        "tenantId": operator.tenant_id,
        "referenceObjectId": runtime_id,
        "auth": {
            **NO_AUTH_EXTRAS,
            "credential": None,
            "accessStrategy": "sap:cmp-mtls:v1",
            "additionalHeaders": {"tenant": ["a"]},
            "additionalHeadersSerialized": '{"tenant":["a"]}',
            "certCommonName": "runtime-common-name",
        },
    }


def without_typename(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "__typename"}



async def test_query_system_auth_by_token(operator: Operator) -> None:
    # given
    runtime_id = await register_runtime(operator)
    issued = await operator.query(f'mutation {{ result: requestOneTimeTokenForRuntime(id: "{runtime_id}") {{ token }} }}')

    # when
    data = await operator.query(
        f'query {{ result: systemAuthByToken(token: "{issued["result"]["token"]}") {{ {SYSTEM_AUTH_WITH_TYPE} }} }}'
    )

    # then
    assert data["result"] == {
        "__typename": "RuntimeSystemAuth",
        "id": data["result"]["id"],
        "type": "RUNTIME",
        "tenantId": operator.tenant_id,
        "referenceObjectId": runtime_id,
        "auth": None,
    }
