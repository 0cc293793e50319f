"""Fixtures of the agent's sync tests: a real pycompass server (HTTP + HTTPS with client certificates) per
backend, a runtime connected through the real Connector, and applications put into its formation by an
operator.

Test modules import the fixtures they use from here (tests/agent/conftest.py belongs to the connection half).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.director_client import DirectorClient, FetchResult
from connector.ca import CertificateAuthority
from kernel.db import Database
from kernel.settings import Settings
from tests.connector.support import DIRECTOR, Connected, Harness, RunningServer, harness
from tests.support import Operator

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
REGISTER_APPLICATION = """
mutation ($in: ApplicationRegisterInput!) { result: registerApplication(in: $in) { id name } }
"""
UPDATE_APPLICATION = """
mutation ($id: ID!, $in: ApplicationUpdateInput!) { result: updateApplication(id: $id, in: $in) { id } }
"""


def bundle_input(index: int = 0) -> dict[str, Any]:
    """A bundle with one API (basic credentials, request parameters) and one event definition."""
    return {
        "name": f"Orders {index}",
        "description": "orders",
        "instanceAuthRequestInputSchema": '{"type": "object"}',
        "defaultInstanceAuth": {
            "credential": {"basic": {"username": f"user-{index}", "password": f"secret-{index}"}},
            "additionalHeadersSerialized": '{"X-Bundle": ["%d"]}' % index,
        },
        "apiDefinitions": [
            {
                "name": "orders api",
                "targetURL": f"https://shop.example.com/api/{index}",
                "spec": {"type": "OPEN_API", "format": "JSON", "data": '{"openapi": "3.0.0"}'},
            }
        ],
        "eventDefinitions": [
            {
                "name": "order events",
                "spec": {"type": "ASYNC_API", "format": "JSON", "data": '{"asyncapi": "2.0.0"}'},
            }
        ],
    }


@dataclass
class Scenario:
    """A tenant with a formation, a runtime connected in it, and what a DirectorClient needs to act as it."""

    harness: Harness
    operator: Operator
    formation: str
    runtime: Connected
    ca_file: Path

    @property
    def runtime_id(self) -> str:
        return self.runtime.object_id

    @property
    def director_url(self) -> str:
        return self.harness.server.https_url + DIRECTOR

    def director(self, **options: Any) -> DirectorClient:
        return DirectorClient(
            self.director_url,
            cert_file=self.runtime.credentials.chain_file,
            key_file=self.runtime.credentials.key_file,
            ca_file=self.ca_file,
            **options,
        )

    async def add_application(self, *, bundles: int = 1, in_formation: bool = True) -> tuple[str, str]:
        """Registers an application (in the formation unless told); its id and its name for the runtime."""
        name = f"shop-{uuid.uuid4().hex[:8]}"
        inputs = [bundle_input(index) for index in range(bundles)]
        application = {"name": name, "description": "a shop", "bundles": inputs}
        data = await self.operator.query(REGISTER_APPLICATION, {"in": application})
        application_id = str(data["result"]["id"])
        if in_formation:
            await self.assign(application_id)
        return application_id, f"mp-{name}"

    async def assign(self, application_id: str) -> None:
        variables = {"id": application_id, "type": "APPLICATION", "name": self.formation}
        await self.operator.query(ASSIGN_FORMATION, variables)

    async def unassign(self, application_id: str) -> None:
        variables = {"id": application_id, "type": "APPLICATION", "name": self.formation}
        await self.operator.query(UNASSIGN_FORMATION, variables)

    async def describe(self, application_id: str, description: str) -> None:
        variables = {"id": application_id, "in": {"description": description}}
        await self.operator.query(UPDATE_APPLICATION, variables)


class StaticDirector:
    """A stand-in for DirectorClient in tests of the sync logic: answers what the test set, or raises it."""

    def __init__(
        self, applications: list[dict[str, Any]] | None = None, *, labels: dict[str, Any] | None = None
    ) -> None:
        self.answer: FetchResult | None | BaseException = FetchResult(applications or [], labels or {}, None)
        self.last_result: FetchResult | None = None

    async def fetch_applications(self, runtime_id: str) -> FetchResult | None:
        if isinstance(self.answer, BaseException):
            raise self.answer
        if self.answer is not None:
            self.last_result = self.answer
        return self.answer


@pytest.fixture(scope="session")
def sync_ca() -> CertificateAuthority:
    return CertificateAuthority.generate()


@pytest.fixture(scope="session")
def director_server(
    settings: Settings, sync_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    server = RunningServer.start(
        settings, tmp_path_factory.mktemp("agent-director"), sync_ca, redemptions_per_second=10_000
    )
    yield server
    server.stop()


@pytest.fixture
async def scenario(
    director_server: RunningServer, database: Database, tmp_path: Path
) -> AsyncIterator[Scenario]:
    async with harness(director_server, database, tmp_path) as subject:
        operator = await subject.operator()
        formation = f"formation-{uuid.uuid4().hex[:8]}"
        await operator.query(CREATE_FORMATION, {"name": formation})
        runtime = await subject.connect_runtime(operator, scenarios=[formation])
        ca_file = tmp_path / "ca.pem"
        ca_file.write_text(director_server.ca.ca_pem, encoding="utf-8")
        yield Scenario(subject, operator, formation, runtime, ca_file)
