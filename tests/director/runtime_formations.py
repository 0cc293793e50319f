"""What the tests of a runtime's rights on its formations' applications share: a tenant with a formation, a runtime
in it connected over mTLS, and applications registered in it or outside it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.connector.support import Answer, Connected, Harness
from tests.support import Operator

CREATE_FORMATION = "mutation ($name: String!) { result: createFormation(formation: {name: $name}) { id } }"
REGISTER_APPLICATION = """
mutation ($in: ApplicationRegisterInput!) { result: registerApplication(in: $in) { id bundles { data { id } } } }
"""
DEFAULT_AUTH = {"credential": {"basic": {"username": "shop", "password": "default-secret"}}}


@dataclass(frozen=True)
class Registered:
    application_id: str
    bundle_id: str


@dataclass
class RuntimeInFormation:
    server: Harness
    operator: Operator
    formation: str
    runtime: Connected
    client: httpx.AsyncClient

    async def as_runtime(self, document: str, variables: dict[str, Any] | None = None) -> Answer:
        """The document posted with the runtime's client certificate."""
        return await self.server.director(self.client, document, variables)

    async def application(
        self,
        *,
        in_formation: bool = True,
        default_auth: bool = False,
        schema: str | None = None,
        operator: Operator | None = None,
    ) -> Registered:
        """An application with one bundle, in the runtime's formation or in none (of ``operator``'s tenant)."""
        bundle: dict[str, Any] = {"name": "orders"}
        if default_auth:
            bundle["defaultInstanceAuth"] = DEFAULT_AUTH
        if schema is not None:
            bundle["instanceAuthRequestInputSchema"] = schema
        given: dict[str, Any] = {"name": f"shop-{uuid.uuid4().hex[:8]}", "bundles": [bundle]}
        if in_formation:
            given["labels"] = {"scenarios": [self.formation]}
        data = await (operator or self.operator).query(REGISTER_APPLICATION, {"in": given})
        return Registered(data["result"]["id"], data["result"]["bundles"]["data"][0]["id"])


async def runtime_in_formation(server: Harness) -> RuntimeInFormation:
    """A new tenant's formation and a runtime in it that went through the whole first connection."""
    operator = await server.operator()
    formation = f"shop-{uuid.uuid4().hex[:8]}"
    await operator.query(CREATE_FORMATION, {"name": formation})
    runtime = await server.connect_runtime(operator, scenarios=[formation])
    return RuntimeInFormation(server, operator, formation, runtime, server.mtls(runtime.credentials))
