"""What the agent tests hold: a ``Landscape`` (an operator's tenant with a runtime in a formation, a
configuration directory laid out as Kyma mounts the agent's Secret, one file per value, and agents for that
runtime with their own injectable clock), a ``Scenario`` (a runtime connected through the real Connector and
a DirectorClient acting as it), ``StaticDirector``, a stand-in for DirectorClient, and ``StandInDirector``, a
scripted Director over real HTTP.

Their fixtures (``landscape``, ``scenario``, ``stand_in_director``) are in tests/fixtures/agent.py. The server runs in a thread
(``tests.connector.support.RunningServer``); the agent talks to it over real HTTP and TLS only. Agent keys are
EC P-256 here (RSA 4096 takes about half a second each).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from agent.connection import Connection
from agent.director_client import DirectorClient, FetchResult
from agent.loop import Agent, DirectorFactory, default_director
from agent.queries import APPLICATIONS_FOR_RUNTIME, RUNTIME_STATUS, WATCHERS
from agent.settings import AgentSettings
from agent.sinks.directory import DirectorySink
from agent.state import CredentialStore
from agent.status import CompassConnection, ConnectionRecord
from tests.connector.support import DIRECTOR, Connected, Harness, MutableClock
from tests.support import ASSIGN_FORMATION, CREATE_FORMATION, REGISTER_RUNTIME, UNASSIGN_FORMATION, Operator

COMPASS_AGENT = Path(sys.executable).with_name("compass-agent")
AGENT_VARIABLES = ("CONNECTOR_URL", "RUNTIME_ID", "TENANT", "TOKEN")

REGISTER_APPLICATION = """
mutation ($in: ApplicationRegisterInput!) { result: registerApplication(in: $in) { id name } }
"""
UPDATE_APPLICATION = (
    "mutation ($id: ID!, $in: ApplicationUpdateInput!) { result: updateApplication(id: $id, in: $in) { id } }"
)
REQUEST_RUNTIME_TOKEN = "mutation ($id: ID!) { result: requestOneTimeTokenForRuntime(id: $id) { token } }"
REVOKE_RUNTIME_CERTIFICATES = "mutation ($id: ID!) { result: revokeRuntimeCertificates(id: $id) }"
RUNTIME_LABELS = "query ($id: ID!) { result: runtime(id: $id) { labels } }"


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


# --- the landscape of one test ------------------------------------------------------------------------------


class ApplicationMoves:
    """What an operator does to an application of the runtime's formation, for the scenarios below."""

    operator: Operator
    formation: str

    async def assign(self, application_id: str) -> None:
        variables = {"id": application_id, "type": "APPLICATION", "name": self.formation}
        await self.operator.query(ASSIGN_FORMATION, variables)

    async def unassign(self, application_id: str) -> None:
        variables = {"id": application_id, "type": "APPLICATION", "name": self.formation}
        await self.operator.query(UNASSIGN_FORMATION, variables)

    async def describe(self, application_id: str, description: str) -> None:
        variables = {"id": application_id, "in": {"description": description}}
        await self.operator.query(UPDATE_APPLICATION, variables)


@dataclass
class Landscape(ApplicationMoves):
    """A tenant with a runtime in a formation, the agent's configuration directory, agents for the runtime."""

    compass: Harness
    operator: Operator
    runtime_id: str
    formation: str
    directory: Path
    clock: MutableClock = field(default_factory=MutableClock)
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def config_dir(self) -> Path:
        return self.directory / "config"

    @property
    def state_dir(self) -> Path:
        return self.directory / "state"

    @property
    def manifest_dir(self) -> Path:
        return self.state_dir / "manifests"

    @property
    def connector_url(self) -> str:
        return self.compass.settings.connector_url

    # --- the Director, as the operator ----------------------------------------------------------------------

    async def application(self, name: str | None = None, *, assigned: bool = True, **fields: Any) -> str:
        """Registers an application (``fields``: more of its ApplicationRegisterInput); returns its id."""
        name = name or f"app-{uuid.uuid4().hex[:8]}"
        registered = {"name": name, "description": "shop", **fields}
        data = await self.operator.query(REGISTER_APPLICATION, {"in": registered})
        application_id = str(data["result"]["id"])
        if assigned:
            await self.assign(application_id)
        return application_id

    async def runtime_labels(self) -> dict[str, Any]:
        return dict((await self.operator.query(RUNTIME_LABELS, {"id": self.runtime_id}))["result"]["labels"])

    async def revoke(self) -> list[str]:
        data = await self.operator.query(REVOKE_RUNTIME_CERTIFICATES, {"id": self.runtime_id})
        return list(data["result"])

    async def issue_token(self) -> str:
        """A new one-time token for the runtime, put into the configuration directory as TOKEN."""
        data = await self.operator.query(REQUEST_RUNTIME_TOKEN, {"id": self.runtime_id})
        token = str(data["result"]["token"])
        self.write_config(TOKEN=token)
        return token

    # --- the agent's side -----------------------------------------------------------------------------------

    def write_config(self, **values: str) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        for name, value in values.items():
            (self.config_dir / name).write_text(value + "\n")

    def settings(self) -> AgentSettings:
        base: dict[str, Any] = {
            "state_dir": self.state_dir,
            "key_type": "ec-p256",
            "http_timeout": 10.0,
            "sync_period": 1.0,
            **self.overrides,
        }
        return AgentSettings.load(self.config_dir, **base)

    def agent(self, **kwargs: Any) -> Agent:
        rng = random.Random(7)
        return Agent(self.settings(), clock=self.clock, rng=rng, reload_settings=self.settings, **kwargs)

    async def run_once(self, **kwargs: Any) -> Any:
        async with self.agent() as agent:
            return await agent.run_once(**kwargs)

    async def record(self) -> CompassConnection | None:
        return await ConnectionRecord(DirectorySink(self.manifest_dir)).load()

    def credentials(self) -> CredentialStore:
        return CredentialStore(self.state_dir)

    def manifests(self, kind: str = "application") -> dict[str, str]:
        """File name → content of the manifests of one kind (lower case, as the directory sink names them)."""
        if not self.manifest_dir.is_dir():
            return {}
        return {path.name: path.read_text() for path in sorted(self.manifest_dir.glob(f"{kind}-*.yaml"))}

    def stats(self) -> dict[str, tuple[int, int]]:
        """File name → (inode, mtime in ns) of each resource manifest (not the status record)."""
        return {
            path.name: (path.stat().st_ino, path.stat().st_mtime_ns)
            for path in sorted(self.manifest_dir.glob("*.yaml"))
            if not path.name.startswith("compassconnection-")
        }

    def environment(self, **extra: str) -> dict[str, str]:
        """The environment of a ``compass-agent`` process: none of the test run's agent variables leak in."""
        clean = {
            name: value
            for name, value in os.environ.items()
            if name not in AGENT_VARIABLES and not name.startswith("AGENT_")
        }
        clean.update(
            {
                "AGENT_CONFIG_DIR": str(self.config_dir),
                "AGENT_STATE_DIR": str(self.state_dir),
                "AGENT_KEY_TYPE": "ec-p256",
                "AGENT_LOG_JSON": "false",
                "AGENT_HTTP_TIMEOUT": "10",
                **extra,
            }
        )
        return clean


async def make_landscape(compass: Harness, directory: Path) -> Landscape:
    operator = await compass.operator()
    formation = f"formation-{uuid.uuid4().hex[:8]}"
    await operator.query(CREATE_FORMATION, {"name": formation})
    runtime = await operator.query(REGISTER_RUNTIME, {"in": {"name": f"runtime-{uuid.uuid4().hex[:8]}"}})
    runtime_id = str(runtime["result"]["id"])
    await operator.query(ASSIGN_FORMATION, {"id": runtime_id, "type": "RUNTIME", "name": formation})
    landscape = Landscape(compass, operator, runtime_id, formation, directory)
    landscape.write_config(
        CONNECTOR_URL=compass.settings.connector_url, RUNTIME_ID=runtime_id, TENANT=operator.tenant_id
    )
    await landscape.issue_token()
    return landscape


# --- a runtime connected through the Connector, for the sync tests ------------------------------------------


@dataclass
class Scenario(ApplicationMoves):
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


class StaticDirector:
    """A stand-in for DirectorClient in tests of the sync logic: answers what the test set, or raises it."""

    def __init__(
        self, applications: list[dict[str, Any]] | None = None, *, labels: dict[str, Any] | None = None
    ) -> None:
        self.answer: FetchResult | BaseException | None = FetchResult(applications or [], labels or {}, None)
        self.last_result: FetchResult | None = None

    async def fetch_applications(self, runtime_id: str) -> FetchResult | None:
        if isinstance(self.answer, BaseException):
            raise self.answer
        if self.answer is not None:
            self.last_result = self.answer
        return self.answer


Pages = Callable[[int], dict[str, Any]]


def last_page(applications: list[dict[str, Any]]) -> dict[str, Any]:
    info = {"startCursor": "", "endCursor": "", "hasNextPage": False}
    return {"data": applications, "pageInfo": info, "totalCount": len(applications)}


class StandInDirector:
    """Answers the sync query with ``pages(n)`` for its n-th page (from 1), the runtime's status query with a
    CONNECTED runtime, ``watchers`` with ``watchers`` (None: as Compass's Director, which has no such field)
    and an ETag of their content (304 to a matching ``If-None-Match``, counted in ``watchers_not_modified``),
    and refuses anything else; ``GET /director/changes`` with ``changes_status`` (404: a Director without push,
    as Compass's). Counts the pages it served and the change streams asked for."""

    def __init__(self) -> None:
        self.pages: Pages = lambda number: last_page([])
        self.pages_served = 0
        self.watchers: list[dict[str, Any]] | None = None
        self.watchers_served = 0
        self.watchers_not_modified = 0
        self.changes_status = 404
        self.changes_requests = 0
        self.url = ""
        self.app = Starlette(
            routes=[
                Route("/director/graphql", self._graphql, methods=["POST"]),
                Route("/director/changes", self._changes, methods=["GET"]),
            ]
        )

    def answer(self, applications: list[dict[str, Any]]) -> None:
        self.pages = lambda number: last_page(applications)

    async def _graphql(self, request: Request) -> Response:
        document = (await request.json())["query"]
        if document == APPLICATIONS_FOR_RUNTIME:
            self.pages_served += 1
            page = self.pages(self.pages_served)
            return JSONResponse({"data": {"runtime": {"labels": {}}, "result": page}})
        if document == WATCHERS:
            self.watchers_served += 1
            if self.watchers is None:  # gqlgen's validation error, as Compass's Director answers
                missing = {
                    "message": 'Cannot query field "watchers" on type "Query".',
                    "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
                }
                return JSONResponse({"errors": [missing], "data": None}, status_code=422)
            answer = json.dumps({"data": {"result": self.watchers}}).encode()
            etag = f'"{hashlib.sha256(answer).hexdigest()}"'
            if request.headers.get("if-none-match") == etag:
                self.watchers_not_modified += 1
                return Response(status_code=304, headers={"ETag": etag})
            return Response(answer, media_type="application/json", headers={"ETag": etag})
        if document == RUNTIME_STATUS:
            runtime = {"name": "runtime", "description": None, "status": {"condition": "CONNECTED"}}
            return JSONResponse({"data": {"result": runtime}})
        refusal = {"message": "not scripted", "extensions": {"code": "INVALID_INPUT"}}
        return JSONResponse({"data": None, "errors": [refusal]})

    async def _changes(self, _: Request) -> PlainTextResponse:
        self.changes_requests += 1
        return PlainTextResponse("no change stream here", status_code=self.changes_status)

    def factory(self) -> DirectorFactory:
        """The agent's DirectorClient aimed at this stand-in, with the runtime's real credentials."""

        def build(connection: Connection, settings: AgentSettings) -> DirectorClient:
            return default_director(connection, settings, url=self.url)

        return build


def compass_agent(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMPASS_AGENT), *args], env=environment, capture_output=True, text=True, timeout=60, check=False
    )


async def run_agent(landscape: Landscape, *args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(compass_agent, landscape.environment(**environment), *args)
