"""The OAuth 2.0 token endpoint (POST /oauth2/token, RFC 6749 section 4.4) over HTTP, and what its JWTs may do at
the Director: a runtime's and an application's act like their certificates, an integration system's carries its
consumer type's scopes in the tenant its request names."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import jwt
import pytest

from tests.support import DIRECTOR, REGISTER_RUNTIME, Operator, TenantFactory

TOKEN = "/oauth2/token"
CREDENTIALS = """
    id
    auth { credential { ... on OAuthCredentialData { clientId clientSecret url } } }
"""


def basic(client_id: str, client_secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


async def credentials_for(operator: Operator, kind: str, object_id: str) -> dict[str, str]:
    data = await operator.query(
        f'mutation {{ result: requestClientCredentialsFor{kind}(id: "{object_id}") {{ {CREDENTIALS} }} }}'
    )
    credential: dict[str, str] = data["result"]["auth"]["credential"]
    return {**credential, "authID": data["result"]["id"]}


async def register_runtime(operator: Operator) -> str:
    data = await operator.query(REGISTER_RUNTIME, {"in": {"name": f"rt-{uuid.uuid4().hex[:8]}"}})
    return str(data["result"]["id"])


async def register_application(operator: Operator) -> str:
    name = f"app-{uuid.uuid4().hex[:8]}"
    data = await operator.query(f'mutation {{ result: registerApplication(in: {{name: "{name}"}}) {{ id }} }}')
    return str(data["result"]["id"])


async def register_integration_system(operator: Operator) -> str:
    name = f"is-{uuid.uuid4().hex[:8]}"
    data = await operator.query(f'mutation {{ result: registerIntegrationSystem(in: {{name: "{name}"}}) {{ id }} }}')
    return str(data["result"]["id"])


async def token_for(client: httpx.AsyncClient, credential: dict[str, str], **form: str) -> str:
    response = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", **form},
        headers=basic(credential["clientId"], credential["clientSecret"]),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def director(
    client: httpx.AsyncClient, token: str, query: str, *, tenant: str | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", **({"Tenant": tenant} if tenant else {})}
    response = await client.post(DIRECTOR, json={"query": query}, headers=headers)
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


class TestTokenResponse:
    async def test_basic_authentication_answers_a_bearer_jwt_with_its_lifetime_and_no_store(
        self, client: httpx.AsyncClient, operator: Operator
    ) -> None:
        # given
        credential = await credentials_for(operator, "Runtime", await register_runtime(operator))

        # when
        response = await client.post(
            TOKEN,
            data={"grant_type": "client_credentials"},
            headers=basic(credential["clientId"], credential["clientSecret"]),
        )

        # then
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 3600
        assert "runtime:read" in body["scope"].split()
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["sub"] == credential["clientId"]
        assert claims["exp"] - claims["iat"] == 3600

    async def test_credentials_in_form_fields_are_accepted(self, client: httpx.AsyncClient, operator: Operator) -> None:
        # given
        credential = await credentials_for(operator, "Application", await register_application(operator))

        # when
        response = await client.post(
            TOKEN,
            data={
                "grant_type": "client_credentials",
                "client_id": credential["clientId"],
                "client_secret": credential["clientSecret"],
            },
        )

        # then
        assert response.status_code == 200
        assert response.json()["access_token"]

    async def test_the_url_of_the_credentials_is_this_endpoint(self, operator: Operator) -> None:
        credential = await credentials_for(operator, "Runtime", await register_runtime(operator))

        assert credential["url"].endswith(TOKEN)


class TestRefusals:
    async def test_a_wrong_secret_is_401_invalid_client_with_a_basic_challenge(
        self, client: httpx.AsyncClient, operator: Operator
    ) -> None:
        # given
        credential = await credentials_for(operator, "Runtime", await register_runtime(operator))

        # when
        response = await client.post(
            TOKEN, data={"grant_type": "client_credentials"}, headers=basic(credential["clientId"], "wrong")
        )

        # then
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Basic ")
        assert response.headers["cache-control"] == "no-store"

    async def test_an_unknown_client_is_401_invalid_client(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            TOKEN, data={"grant_type": "client_credentials"}, headers=basic(str(uuid.uuid4()), "secret")
        )

        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"

    async def test_a_wrong_secret_in_form_fields_is_401_invalid_client_too(
        self, client: httpx.AsyncClient, operator: Operator
    ) -> None:
        """RFC 6749 5.2 lets the server answer 401 whenever it supports HTTP Basic, as this one does."""
        credential = await credentials_for(operator, "Runtime", await register_runtime(operator))

        response = await client.post(
            TOKEN,
            data={"grant_type": "client_credentials", "client_id": credential["clientId"], "client_secret": "wrong"},
        )

        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"

    async def test_another_grant_type_is_400_unsupported_grant_type(
        self, client: httpx.AsyncClient, operator: Operator
    ) -> None:
        credential = await credentials_for(operator, "Runtime", await register_runtime(operator))

        response = await client.post(
            TOKEN,
            data={"grant_type": "password", "username": "a", "password": "b"},
            headers=basic(credential["clientId"], credential["clientSecret"]),
        )

        assert response.status_code == 400
        assert response.json()["error"] == "unsupported_grant_type"

    async def test_a_scope_beyond_the_consumer_types_is_400_invalid_scope(
        self, client: httpx.AsyncClient, operator: Operator
    ) -> None:
        credential = await credentials_for(operator, "Runtime", await register_runtime(operator))

        response = await client.post(
            TOKEN,
            data={"grant_type": "client_credentials", "scope": "runtime:read integration_system:write"},
            headers=basic(credential["clientId"], credential["clientSecret"]),
        )

        assert response.status_code == 400
        assert response.json()["error"] == "invalid_scope"

    async def test_a_json_body_is_400_invalid_request(self, client: httpx.AsyncClient, operator: Operator) -> None:
        credential = await credentials_for(operator, "Runtime", await register_runtime(operator))

        response = await client.post(
            TOKEN,
            json={"grant_type": "client_credentials"},
            headers=basic(credential["clientId"], credential["clientSecret"]),
        )

        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"

    async def test_deleted_credentials_get_no_new_token_and_their_tokens_are_refused(
        self, client: httpx.AsyncClient, operator: Operator
    ) -> None:
        # given
        runtime_id = await register_runtime(operator)
        credential = await credentials_for(operator, "Runtime", runtime_id)
        issued = await token_for(client, credential)

        # when
        await operator.query(
            f'mutation {{ result: deleteSystemAuthForRuntime(authID: "{credential["authID"]}") {{ id }} }}'
        )

        # then
        response = await client.post(
            TOKEN,
            data={"grant_type": "client_credentials"},
            headers=basic(credential["clientId"], credential["clientSecret"]),
        )
        assert response.status_code == 401
        body = await director(client, issued, f'{{ runtime(id: "{runtime_id}") {{ id }} }}')
        assert codes(body) == ["UNAUTHENTICATED"]


class TestRuntimeToken:
    async def test_acts_like_the_runtimes_certificate_on_its_own_objects(
        self, client: httpx.AsyncClient, operator: Operator
    ) -> None:
        # given
        runtime_id = await register_runtime(operator)
        token = await token_for(client, await credentials_for(operator, "Runtime", runtime_id))

        # when
        body = await director(
            client, token, f'{{ viewer {{ id type }} runtime(id: "{runtime_id}") {{ id }} applicationsForRuntime(runtimeID: "{runtime_id}") {{ totalCount }} }}'
        )

        # then
        assert "errors" not in body, body
        assert body["data"]["viewer"] == {"id": runtime_id, "type": "RUNTIME"}
        assert body["data"]["runtime"] == {"id": runtime_id}

    async def test_cannot_touch_another_runtime(self, client: httpx.AsyncClient, operator: Operator) -> None:
        # given
        runtime_id, other_id = await register_runtime(operator), await register_runtime(operator)
        token = await token_for(client, await credentials_for(operator, "Runtime", runtime_id))

        # when
        read = await director(client, token, f'{{ runtime(id: "{other_id}") {{ id }} }}')
        write = await director(
            client, token, f'mutation {{ setRuntimeLabel(runtimeID: "{other_id}", key: "k", value: "v") {{ key }} }}'
        )

        # then
        assert codes(read) == ["FORBIDDEN"]
        assert codes(write) == ["FORBIDDEN"]

    async def test_unregistering_the_runtime_refuses_its_token(self, client: httpx.AsyncClient, operator: Operator) -> None:
        # given
        runtime_id = await register_runtime(operator)
        token = await token_for(client, await credentials_for(operator, "Runtime", runtime_id))

        # when
        await operator.query(f'mutation {{ unregisterRuntime(id: "{runtime_id}") {{ id }} }}')

        # then
        body = await director(client, token, f'{{ runtime(id: "{runtime_id}") {{ id }} }}')
        assert codes(body) == ["UNAUTHENTICATED"]

    async def test_cannot_call_operator_operations(self, client: httpx.AsyncClient, operator: Operator) -> None:
        runtime_id = await register_runtime(operator)
        token = await token_for(client, await credentials_for(operator, "Runtime", runtime_id))

        body = await director(client, token, "{ runtimes { totalCount } }")

        assert codes(body) == ["FORBIDDEN"]


class TestApplicationToken:
    async def test_reads_its_own_application_and_no_other(self, client: httpx.AsyncClient, operator: Operator) -> None:
        # given
        application_id, other_id = await register_application(operator), await register_application(operator)
        token = await token_for(client, await credentials_for(operator, "Application", application_id))

        # when
        own = await director(client, token, f'{{ application(id: "{application_id}") {{ id }} }}')
        other = await director(client, token, f'{{ application(id: "{other_id}") {{ id }} }}')

        # then
        assert own["data"]["application"] == {"id": application_id}
        assert codes(other) == ["FORBIDDEN"]


class TestIntegrationSystemToken:
    async def test_manages_applications_in_the_tenant_its_request_names(
        self, client: httpx.AsyncClient, operator: Operator
    ) -> None:
        # given
        integration_system_id = await register_integration_system(operator)
        token = await token_for(client, await credentials_for(operator, "IntegrationSystem", integration_system_id))

        # when
        registered = await director(
            client,
            token,
            'mutation { result: registerApplication(in: {name: "by-integration"}) { id integrationSystemID } }',
            tenant=operator.tenant_id,
        )
        viewer = await director(client, token, "{ viewer { id type } }", tenant=operator.tenant_id)

        # then
        assert "errors" not in registered, registered
        application_id = registered["data"]["result"]["id"]
        assert registered["data"]["result"]["integrationSystemID"] == integration_system_id
        listed = await operator.query("{ applications { data { id } } }")
        assert {"id": application_id} in listed["applications"]["data"]
        assert viewer["data"]["viewer"] == {"id": integration_system_id, "type": "INTEGRATION_SYSTEM"}

    async def test_holds_only_its_consumer_types_scopes(self, client: httpx.AsyncClient, operator: Operator) -> None:
        integration_system_id = await register_integration_system(operator)
        token = await token_for(client, await credentials_for(operator, "IntegrationSystem", integration_system_id))

        body = await director(
            client, token, 'mutation { registerIntegrationSystem(in: {name: "another"}) { id } }', tenant=operator.tenant_id
        )

        assert codes(body) == ["FORBIDDEN"]

    async def test_a_requested_scope_narrows_the_token(self, client: httpx.AsyncClient, operator: Operator) -> None:
        # given
        integration_system_id = await register_integration_system(operator)
        credential = await credentials_for(operator, "IntegrationSystem", integration_system_id)
        token = await token_for(client, credential, scope="application:read")

        # when
        read = await director(client, token, "{ applications { totalCount } }", tenant=operator.tenant_id)
        write = await director(
            client, token, 'mutation { registerApplication(in: {name: "narrowed"}) { id } }', tenant=operator.tenant_id
        )

        # then
        assert "errors" not in read, read
        assert codes(write) == ["FORBIDDEN"]

    async def test_without_a_tenant_header_it_is_refused(self, client: httpx.AsyncClient, operator: Operator) -> None:
        integration_system_id = await register_integration_system(operator)
        token = await token_for(client, await credentials_for(operator, "IntegrationSystem", integration_system_id))

        body = await director(client, token, "{ applications { totalCount } }")

        assert codes(body) == ["FORBIDDEN"]

    async def test_an_unknown_tenant_is_refused(self, client: httpx.AsyncClient, operator: Operator) -> None:
        integration_system_id = await register_integration_system(operator)
        token = await token_for(client, await credentials_for(operator, "IntegrationSystem", integration_system_id))

        body = await director(client, token, "{ applications { totalCount } }", tenant=str(uuid.uuid4()))

        assert codes(body) == ["TENANT_NOT_FOUND"]

    async def test_unregistering_the_integration_system_refuses_its_tokens(
        self, client: httpx.AsyncClient, operator: Operator
    ) -> None:
        # given
        integration_system_id = await register_integration_system(operator)
        token = await token_for(client, await credentials_for(operator, "IntegrationSystem", integration_system_id))

        # when
        await operator.query(f'mutation {{ unregisterIntegrationSystem(id: "{integration_system_id}") {{ id }} }}')

        # then
        body = await director(client, token, "{ applications { totalCount } }", tenant=operator.tenant_id)
        assert codes(body) == ["UNAUTHENTICATED"]


class TestTenantIsolation:
    @pytest.mark.parametrize("kind", ["Runtime", "Application"])
    async def test_another_tenant_cannot_request_credentials_for_an_object(
        self, kind: str, operator: Operator, tenants: TenantFactory
    ) -> None:
        # given
        object_id = await (register_runtime if kind == "Runtime" else register_application)(operator)
        stranger = await tenants.operator()

        # when
        refused = await stranger.error_codes(
            f'mutation {{ result: requestClientCredentialsFor{kind}(id: "{object_id}") {{ id }} }}'
        )

        # then
        assert refused == ["NOT_FOUND"]

    async def test_another_tenants_runtime_token_sees_none_of_this_tenant(
        self, client: httpx.AsyncClient, operator: Operator, tenants: TenantFactory
    ) -> None:
        # given
        runtime_id = await register_runtime(operator)
        stranger = await tenants.operator()
        token = await token_for(client, await credentials_for(stranger, "Runtime", await register_runtime(stranger)))

        # when
        body = await director(client, token, f'{{ runtime(id: "{runtime_id}") {{ id }} }}', tenant=operator.tenant_id)

        # then
        assert codes(body) == ["FORBIDDEN"]
