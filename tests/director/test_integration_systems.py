"""Integration systems (global, as in Compass) and the system auths operators manage: validation, what owning
applications means, who may delete or update which system auth, and the statements a page costs."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest

from credentials.audit.repository import AuditRepository
from kernel.db import Database
from testing.statements import count_statements
from tests.support import REGISTER_RUNTIME, Operator, TenantFactory

REGISTER = "mutation ($in: IntegrationSystemInput!) { result: registerIntegrationSystem(in: $in) { id name } }"
UNREGISTER = "mutation ($id: ID!) { result: unregisterIntegrationSystem(id: $id) { id } }"
REQUEST_FOR_RUNTIME = """
mutation ($id: ID!) {
  result: requestClientCredentialsForRuntime(id: $id) {
    id auth { credential { ... on OAuthCredentialData { clientId clientSecret } } }
  }
}"""
REQUEST_FOR_APPLICATION = "mutation ($id: ID!) { result: requestClientCredentialsForApplication(id: $id) { id } }"
REQUEST_FOR_INTEGRATION_SYSTEM = "mutation ($id: ID!) { result: requestClientCredentialsForIntegrationSystem(id: $id) { id } }"
REGISTER_APPLICATION = """
mutation ($name: String!, $owner: ID) {
  result: registerApplication(in: {name: $name, integrationSystemID: $owner}) { id integrationSystemID }
}"""
UPDATE_SYSTEM_AUTH = 'mutation ($id: ID!) { result: updateSystemAuth(authID: $id, in: {certCommonName: "cn"}) { id } }'
PAGE = """
query ($first: Int) {
  result: integrationSystems(first: $first) {
    data { id name description auths { id auth { credential { ... on OAuthCredentialData { clientId url } } } } }
    totalCount
  }
}"""


async def register(operator: Operator) -> str:
    data = await operator.query(REGISTER, {"in": {"name": f"is-{uuid.uuid4().hex[:8]}"}})
    return str(data["result"]["id"])


async def register_runtime(operator: Operator) -> str:
    data = await operator.query(REGISTER_RUNTIME, {"in": {"name": f"rt-{uuid.uuid4().hex[:8]}"}})
    return str(data["result"]["id"])


async def register_application(operator: Operator, owner: str | None = None) -> str:
    data = await operator.query(REGISTER_APPLICATION, {"name": f"app-{uuid.uuid4().hex[:8]}", "owner": owner})
    return str(data["result"]["id"])


class TestValidation:
    @pytest.mark.parametrize(
        "name", ["1system", "System", "a" * 37, "with space", "ends-", ""], ids=["digit", "upper", "long", "space", "dash", "empty"]
    )
    async def test_a_name_that_is_not_a_short_dns_name_is_invalid_input(self, operator: Operator, name: str) -> None:
        assert await operator.error_codes(REGISTER, {"in": {"name": name}}) == ["INVALID_INPUT"]

    async def test_a_description_over_2000_characters_is_invalid_input(self, operator: Operator) -> None:
        given = {"name": "is-long", "description": "d" * 2001}

        assert await operator.error_codes(REGISTER, {"in": given}) == ["INVALID_INPUT"]

    async def test_updating_a_missing_integration_system_is_not_found(self, operator: Operator) -> None:
        document = 'mutation ($id: ID!) { result: updateIntegrationSystem(id: $id, in: {name: "x"}) { id } }'

        assert await operator.error_codes(document, {"id": str(uuid.uuid4())}) == ["NOT_FOUND"]


class TestGlobal:
    async def test_every_tenant_reads_the_same_integration_systems(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        """Compass's integration systems belong to no tenant; what isolates tenants is where their tokens act."""
        # given
        integration_system_id = await register(operator)
        stranger = await tenants.operator()

        # when
        data = await stranger.query("query ($id: ID!) { result: integrationSystem(id: $id) { id } }", {"id": integration_system_id})

        # then
        assert data["result"] == {"id": integration_system_id}

    async def test_a_page_costs_the_same_statements_however_many_it_holds(
        self, operator: Operator, database: Database
    ) -> None:
        # given
        for _ in range(3):
            await operator.query(REQUEST_FOR_INTEGRATION_SYSTEM, {"id": await register(operator)})

        # when
        with count_statements(database) as one:
            await operator.query(PAGE, {"first": 1})
        with count_statements(database) as many:
            data = await operator.query(PAGE, {"first": 200})

        # then
        assert len(data["result"]["data"]) >= 3
        assert len(one) == len(many) == 3  # the count, the page, the auths of every integration system on it


class TestOwnedApplications:
    async def test_an_application_naming_a_missing_integration_system_is_not_found(self, operator: Operator) -> None:
        refused = await operator.error_codes(REGISTER_APPLICATION, {"name": "orphan", "owner": str(uuid.uuid4())})

        assert refused == ["NOT_FOUND"]

    async def test_unregistering_is_refused_while_an_application_names_it(self, operator: Operator) -> None:
        # given
        integration_system_id = await register(operator)
        application_id = await register_application(operator, integration_system_id)

        # when
        refused = await operator.error_codes(UNREGISTER, {"id": integration_system_id})
        await operator.query("mutation ($id: ID!) { unregisterApplication(id: $id) { id } }", {"id": application_id})
        unregistered = await operator.query(UNREGISTER, {"id": integration_system_id})

        # then
        assert refused == ["CONFLICT"]
        assert unregistered["result"] == {"id": integration_system_id}

    async def test_credentials_for_a_missing_integration_system_are_not_found(self, operator: Operator) -> None:
        refused = await operator.error_codes(REQUEST_FOR_INTEGRATION_SYSTEM, {"id": str(uuid.uuid4())})

        assert refused == ["NOT_FOUND"]


class TestSystemAuths:
    async def test_a_secret_is_shown_only_when_issued(self, operator: Operator) -> None:
        # given
        runtime_id = await register_runtime(operator)
        issued = await operator.query(REQUEST_FOR_RUNTIME, {"id": runtime_id})

        # when
        read = await operator.query(
            "query ($id: ID!) { result: runtime(id: $id) { auths { id auth { credential { ... on OAuthCredentialData { clientSecret } } } } } }",
            {"id": runtime_id},
        )

        # then
        assert issued["result"]["auth"]["credential"]["clientSecret"]
        assert read["result"]["auths"] == [{"id": issued["result"]["id"], "auth": {"credential": {"clientSecret": ""}}}]

    async def test_issuing_is_audited_without_the_secret(self, operator: Operator, database: Database) -> None:
        # given
        issued = await operator.query(REQUEST_FOR_RUNTIME, {"id": await register_runtime(operator)})

        # when
        async with database.read_sessions() as session:
            lines = await AuditRepository(session).latest(limit=50, event="client_credentials_issued")

        # then
        line = next(line for line in lines if line.event.client_id == issued["result"]["id"])
        assert line.event.tenant_id == operator.tenant_id
        assert issued["result"]["auth"]["credential"]["clientSecret"] not in repr(line.event.detail)

    async def test_deleting_another_kinds_system_auth_is_not_found(self, operator: Operator) -> None:
        # given
        application_auth = (await operator.query(REQUEST_FOR_APPLICATION, {"id": await register_application(operator)}))
        auth_id = application_auth["result"]["id"]

        # when
        as_runtime = await operator.error_codes(
            "mutation ($id: ID!) { deleteSystemAuthForRuntime(authID: $id) { id } }", {"id": auth_id}
        )
        as_integration_system = await operator.error_codes(
            "mutation ($id: ID!) { deleteSystemAuthForIntegrationSystem(authID: $id) { id } }", {"id": auth_id}
        )

        # then
        assert as_runtime == ["NOT_FOUND"]
        assert as_integration_system == ["NOT_FOUND"]

    async def test_another_tenant_can_neither_delete_nor_update_a_system_auth(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        # given
        issued = await operator.query(REQUEST_FOR_RUNTIME, {"id": await register_runtime(operator)})
        auth_id = issued["result"]["id"]
        stranger = await tenants.operator()

        # when
        deleted = await stranger.error_codes(
            "mutation ($id: ID!) { deleteSystemAuthForRuntime(authID: $id) { id } }", {"id": auth_id}
        )
        updated = await stranger.error_codes(UPDATE_SYSTEM_AUTH, {"id": auth_id})

        # then
        assert deleted == ["NOT_FOUND"]
        assert updated == ["NOT_FOUND"]

    async def test_updating_a_runtimes_system_auth_needs_runtime_write(
        self, operator: Operator, tenants: TenantFactory
    ) -> None:
        # given
        issued = await operator.query(REQUEST_FOR_RUNTIME, {"id": await register_runtime(operator)})
        application_writer = await tenants.operator(scopes=["application:write"], tenant_id=operator.tenant_id)

        # when
        refused = await application_writer.error_codes(UPDATE_SYSTEM_AUTH, {"id": issued["result"]["id"]})

        # then
        assert refused == ["FORBIDDEN"]

    async def test_updating_the_auth_keeps_the_client_secret_working(
        self, operator: Operator, client: httpx.AsyncClient
    ) -> None:
        # given
        issued = await operator.query(REQUEST_FOR_RUNTIME, {"id": await register_runtime(operator)})
        credential = issued["result"]["auth"]["credential"]

        # when
        await operator.query(UPDATE_SYSTEM_AUTH, {"id": issued["result"]["id"]})

        # then
        pair = base64.b64encode(f"{credential['clientId']}:{credential['clientSecret']}".encode()).decode()
        response = await client.post(
            "/oauth2/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {pair}"}
        )
        assert response.status_code == 200


class TestSystemAuthByToken:
    BY_TOKEN = "query ($token: String!) { result: systemAuthByToken(token: $token) { id } }"
    TOKEN = "mutation ($id: ID!) { result: requestOneTimeTokenForRuntime(id: $id) { token } }"

    async def test_an_unknown_token_answers_null(self, operator: Operator) -> None:
        data = await operator.query(self.BY_TOKEN, {"token": "not-a-token"})

        assert data["result"] is None

    async def test_another_tenants_token_answers_null(self, operator: Operator, tenants: TenantFactory) -> None:
        # given
        issued = await operator.query(self.TOKEN, {"id": await register_runtime(operator)})
        stranger = await tenants.operator()

        # when
        data = await stranger.query(self.BY_TOKEN, {"token": issued["result"]["token"]})

        # then
        assert data["result"] is None

    async def test_an_invalidated_token_answers_null(self, operator: Operator) -> None:
        # given
        issued = await operator.query(self.TOKEN, {"id": await register_runtime(operator)})
        found = await operator.query(self.BY_TOKEN, {"token": issued["result"]["token"]})
        await operator.query(
            "mutation ($id: ID!) { invalidateSystemAuthOneTimeToken(authID: $id) { id } }", {"id": found["result"]["id"]}
        )

        # when
        data = await operator.query(self.BY_TOKEN, {"token": issued["result"]["token"]})

        # then
        assert data["result"] is None
