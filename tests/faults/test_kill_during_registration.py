"""kill -9 of `compass serve` while applications with their whole trees are being registered: all or nothing.

Each round starts the server, keeps several big registrations (20 to 30 bundles of 10 APIs, 2 events and a
document each, labels and a webhook) in flight, waits a random moment and then until a registration holds an
open write transaction (PostgreSQL: a backend of the server with a transaction id; SQLite: the write lock is
taken), and kills the server with SIGKILL. After the restart the rows are read straight from the database:
every application there has exactly the tree sent under its name, every acknowledged registration is there,
and no bundle, definition, document, label or webhook hangs without its parent. The kill -9 cuts the server
process only: what PostgreSQL or SQLite (WAL, synchronous=NORMAL) has committed survives it by design.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from director.models import Application, Bundle, Label, Webhook
from director.models.application import APIDefinition, Document, EventDefinition
from tests.faults.conftest import CompassServer, create_tenant, wait_until, write_transaction_probe

ROUNDS = 3
WORKERS = 6
APIS_PER_BUNDLE = 10
EVENTS_PER_BUNDLE = 2
SPEC = "openapi: 3.0.0\ninfo: {title: fault, version: '1'}\npaths:\n" + "".join(
    f"  /resource/{index}:\n    get: {{responses: {{'200': {{description: ok}}}}}}\n" for index in range(8)
)

REGISTER_APPLICATION = (
    "mutation ($in: ApplicationRegisterInput!) { result: registerApplication(in: $in) { id } }"
)


@dataclass(frozen=True)
class Tree:
    bundles: int
    apis: int
    events: int
    documents: int
    labels: int
    webhooks: int


def application_input(name: str, bundles: int) -> dict[str, Any]:
    return {
        "name": name,
        "description": "registered while the server may be killed",
        "labels": {"faults": name, "shape": [str(bundles), "bundles"]},
        "webhooks": [{"type": "CONFIGURATION_CHANGED", "url": f"https://hooks.example.com/{name}"}],
        "bundles": [
            {
                "name": f"bundle-{b}",
                "description": "x" * 200,
                "apiDefinitions": [
                    {
                        "name": f"api-{b}-{a}",
                        "targetURL": f"https://api.example.com/{name}/{b}/{a}",
                        "spec": {"type": "OPEN_API", "format": "YAML", "data": SPEC},
                        "version": {"value": "v1"},
                    }
                    for a in range(APIS_PER_BUNDLE)
                ],
                "eventDefinitions": [
                    {"name": f"event-{b}-{e}", "spec": {"type": "ASYNC_API", "format": "YAML", "data": SPEC}}
                    for e in range(EVENTS_PER_BUNDLE)
                ],
                "documents": [
                    {
                        "title": "guide",
                        "displayName": "Guide",
                        "description": "how to",
                        "format": "MARKDOWN",
                        "data": "# Guide",
                    }
                ],
            }
            for b in range(bundles)
        ],
    }


@dataclass
class Registrations:
    """What the clients sent and what the server acknowledged, by application name."""

    rng: random.Random
    sent: dict[str, Tree] = field(default_factory=dict)
    acknowledged: set[str] = field(default_factory=set)

    def next_input(self) -> dict[str, Any]:
        name = f"app-{uuid.uuid4().hex[:12]}"
        bundles = self.rng.randint(20, 30)
        self.sent[name] = Tree(
            bundles=bundles,
            apis=bundles * APIS_PER_BUNDLE,
            events=bundles * EVENTS_PER_BUNDLE,
            documents=bundles,
            labels=2,
            webhooks=1,
        )
        return application_input(name, bundles)


async def register_until_killed(
    server: CompassServer, headers: dict[str, str], registrations: Registrations, killed: asyncio.Event
) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as client:
        while not killed.is_set():
            variables = {"in": registrations.next_input()}
            try:
                response = await client.post(
                    "/director/graphql", json={"query": REGISTER_APPLICATION, "variables": variables}
                )
            except httpx.TransportError:
                if killed.is_set():
                    return
                raise
            body = response.json()
            assert response.status_code == 200 and not body.get("errors"), body
            registrations.acknowledged.add(variables["in"]["name"])


async def kill_mid_registration(
    server: CompassServer, tenant_id: str, registrations: Registrations, probe: Callable[[], Any]
) -> set[str]:
    """Kills the server under load; returns the names sent in this round that got no answer."""
    killed = asyncio.Event()
    sent_before, acknowledged_before = set(registrations.sent), len(registrations.acknowledged)
    headers = server.operator_headers(tenant_id)
    workers = [
        asyncio.create_task(register_until_killed(server, headers, registrations, killed))
        for _ in range(WORKERS)
    ]

    def working() -> bool:
        for worker in workers:
            if worker.done():
                worker.result()  # a worker that failed before the kill fails the test with its error
        return True

    try:
        await wait_until(
            lambda: working() and len(registrations.acknowledged) > acknowledged_before,
            seconds=30,
            what="a registration under load",
        )
        await asyncio.sleep(registrations.rng.uniform(0, 1.0))
        await wait_until(
            lambda: working() and probe(), seconds=20, what="an open registration transaction", every=0.005
        )
    finally:
        killed.set()
        server.kill()
        await asyncio.gather(*workers)
    return set(registrations.sent) - sent_before - registrations.acknowledged


async def trees_by_application(engine: AsyncEngine, tenant_id: str) -> dict[str, Tree]:
    async with engine.connect() as connection:

        async def per_application(column: Any, *joins: tuple[Any, Any]) -> dict[str, int]:
            statement = select(Application.name, func.count(column)).select_from(Application)
            for target, on in joins:
                statement = statement.join(target, on)
            statement = statement.where(Application.tenant_id == tenant_id).group_by(Application.name)
            return {name: count for name, count in (await connection.execute(statement)).all()}

        names = await connection.scalars(select(Application.name).where(Application.tenant_id == tenant_id))
        of_bundle = (Bundle, Bundle.application_id == Application.id)
        bundles = await per_application(Bundle.id, of_bundle)
        apis = await per_application(
            APIDefinition.id, of_bundle, (APIDefinition, APIDefinition.bundle_id == Bundle.id)
        )
        events = await per_application(
            EventDefinition.id, of_bundle, (EventDefinition, EventDefinition.bundle_id == Bundle.id)
        )
        documents = await per_application(Document.id, of_bundle, (Document, Document.bundle_id == Bundle.id))
        labels = await per_application(Label.id, (Label, Label.application_id == Application.id))
        webhooks = await per_application(Webhook.id, (Webhook, Webhook.application_id == Application.id))
        return {
            name: Tree(
                bundles=bundles.get(name, 0),
                apis=apis.get(name, 0),
                events=events.get(name, 0),
                documents=documents.get(name, 0),
                labels=labels.get(name, 0),
                webhooks=webhooks.get(name, 0),
            )
            for name in names
        }


async def orphans(engine: AsyncEngine) -> dict[str, int]:
    """Rows whose parent row is missing, by table."""
    references = {
        "bundles": (Bundle, Bundle.application_id, Application),
        "api_definitions": (APIDefinition, APIDefinition.bundle_id, Bundle),
        "event_definitions": (EventDefinition, EventDefinition.bundle_id, Bundle),
        "documents": (Document, Document.bundle_id, Bundle),
        "labels": (Label, Label.application_id, Application),
        "webhooks": (Webhook, Webhook.application_id, Application),
    }
    found: dict[str, int] = {}
    async with engine.connect() as connection:
        for table, (child, reference, parent) in references.items():
            statement = (
                select(func.count())
                .select_from(child)
                .outerjoin(parent, reference == parent.id)
                .where(reference.is_not(None), parent.id.is_(None))
            )
            found[table] = int((await connection.execute(statement)).scalar_one())
    return found


async def test_registrations_cut_by_kill_9_leave_each_application_whole_or_absent(
    fresh_database_url: str,
    compass_server: Callable[..., CompassServer],
    engine_of: Callable[[str], AsyncEngine],
) -> None:
    # given: a tenant and a server on a database of this test alone
    tenant_id = await create_tenant(fresh_database_url)
    server = compass_server(fresh_database_url)
    registrations = Registrations(random.Random())
    probe = write_transaction_probe(fresh_database_url)
    engine = engine_of(fresh_database_url)

    await server.restart()

    for _ in range(ROUNDS):
        # when: the server is killed while registrations are being written, and started again
        cut_off = await kill_mid_registration(server, tenant_id, registrations, probe)
        await server.restart()

        # then: every application there has its whole tree, every acknowledged one is there, nothing dangles
        stored = await trees_by_application(engine, tenant_id)
        print(  # noqa: T201 - the round's figures, shown with -s or on failure
            f"round: {len(registrations.acknowledged)} acknowledged in all, {len(cut_off)} cut off, "
            f"{len(cut_off & stored.keys())} of them committed before the kill"
        )
        assert {name: tree for name, tree in stored.items() if tree != registrations.sent.get(name)} == {}
        assert registrations.acknowledged - stored.keys() == set()
        assert await orphans(engine) == dict.fromkeys(
            ["bundles", "api_definitions", "event_definitions", "documents", "labels", "webhooks"], 0
        )
        # and the kill did cut registrations off: some were sent and never answered
        assert cut_off
