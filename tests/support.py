"""Test helpers: an operator that speaks GraphQL over HTTP, and tenants with one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from compass.auth.jwt import issue_token
from director.polling.invalidation import unit_of_work
from director.runtime.inputs import RuntimeRegisterInput
from director.runtime.service import runtime as runtime_service
from director.tenant.service import tenant as tenant_service
from kernel.db import Database
from kernel.principal import ALL_SCOPES
from kernel.settings import Settings

DIRECTOR = "/director/graphql"

# Documents many suites send to set up a runtime in a formation.
REGISTER_RUNTIME = "mutation ($in: RuntimeRegisterInput!) { result: registerRuntime(in: $in) { id } }"
CREATE_FORMATION = "mutation ($name: String!) { result: createFormation(formation: {name: $name}) { name } }"
ASSIGN_FORMATION = """
mutation ($id: ID!, $type: FormationObjectType!, $name: String!) {
  result: assignFormation(objectID: $id, objectType: $type, formation: {name: $name}) { name }
}
"""
UNASSIGN_FORMATION = """
mutation ($id: ID!, $type: FormationObjectType!, $name: String!) {
  result: unassignFormation(objectID: $id, objectType: $type, formation: {name: $name}) { name }
}
"""


class GraphQLErrors(AssertionError):
    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(f"unexpected GraphQL errors: {body.get('errors')}")
        self.body = body


@dataclass
class Operator:
    client: httpx.AsyncClient
    tenant_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Tenant": self.tenant_id}

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(DIRECTOR, json={"query": query, "variables": variables}, headers=self.headers)

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole answer, errors included; it must still carry ``data``."""
        response = await self.post(query, variables)
        body = response.json()
        assert "data" in body, body
        return body

    async def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of an answer that must have no errors."""
        body = await self.execute(query, variables)
        if body.get("errors"):
            raise GraphQLErrors(body)
        return body["data"]

    async def error_codes(self, query: str, variables: dict[str, Any] | None = None) -> list[str]:
        body = await self.execute(query, variables)
        return [error["extensions"]["code"] for error in body.get("errors", [])]


@dataclass
class TenantFactory:
    settings: Settings
    database: Database
    client: httpx.AsyncClient

    async def create(self) -> str:
        async with self.database.transaction() as session:
            tenant = await tenant_service.create(session, f"tenant-{uuid.uuid4().hex[:10]}")
        return tenant.id

    async def operator(self, *, scopes: list[str] | None = None, tenant_id: str | None = None) -> Operator:
        tenant_id = tenant_id or await self.create()
        token = issue_token(
            self.settings, tenant_id=tenant_id, scopes=scopes if scopes is not None else sorted(ALL_SCOPES), ttl_seconds=600
        )
        return Operator(self.client, tenant_id, token)


async def registered_runtimes(database: Database, count: int, prefix: str) -> list[str]:
    """The ids of ``count`` runtimes registered through the service, in a new tenant of their own."""
    async with database.transaction() as session:
        tenant = await tenant_service.create(session, f"{prefix}-{uuid.uuid4().hex[:8]}")
    async with unit_of_work(database, tenant.id) as session:
        return [
            (await runtime_service.register(session, tenant.id, RuntimeRegisterInput(name=f"{prefix}-{index}"))).id
            for index in range(count)
        ]
