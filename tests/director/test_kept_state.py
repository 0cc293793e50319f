"""What the server keeps in memory for runtimes' polls (their certificates' identities, their views' revisions) is
dropped by every change that could make it wrong: in the process that wrote, in another one (a second app on its
own connections to the same database, as another worker is), and when the change's notification never came."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import Executable, delete, select, text, update
from starlette.applications import Starlette

from compass.app import create_app
from credentials.models import IssuedCertificate, SystemAuth
from director.models import Runtime, Tenant
from kernel.db import Database
from kernel.models import utcnow
from kernel.settings import Settings
from testing.changes import heard_everything
from testing.statements import count_statements
from testing.waiting import wait_until
from tests.connector.support import (
    CONFIGURATION,
    REVOKE,
    csr_b64,
    ec_key,
    forwarded_certificate_headers,
    sign_document,
    unb64,
)
from tests.fixtures.proxied import PROXY_ADDRESS
from tests.support import DIRECTOR, Operator, TenantFactory

CONNECTOR = "/connector/graphql"
SYNC = '{ result: applicationsForRuntime(runtimeID: "%s") { data { id name } totalCount } }'
REGISTER_RUNTIME = 'mutation { result: registerRuntime(in: {name: "%s"}) { id } }'
REGISTER_APPLICATION = 'mutation { result: registerApplication(in: {name: "%s"}) { id } }'
ASSIGN = 'mutation { result: assignFormation(objectID: "%s", objectType: %s, formation: {name: "DEFAULT"}) { name } }'
TOKEN = 'mutation { result: requestOneTimeTokenForRuntime(id: "%s") { token } }'


async def _worker(settings: Settings, database: Database) -> AsyncIterator[Starlette]:
    """An app behind the trusted proxy; what it keeps is re-read only when a test says so."""
    update = {
        "trusted_proxies": [PROXY_ADDRESS[0]],
        "redemptions_per_second": 10_000,
        "kept_revalidate_seconds": 3600,
    }
    application = create_app(settings.model_copy(update=update), database)
    async with LifespanManager(application):
        await wait_until(lambda: database.changes.keeping, what="the change listener")
        yield application


async def _client(application: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=application, client=PROXY_ADDRESS)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="module")
async def writer_app(settings: Settings, database: Database) -> AsyncIterator[Starlette]:
    """The worker the operator writes through."""
    async for application in _worker(settings, database):
        yield application


@pytest.fixture(scope="module")
async def other_database(database_url: str) -> AsyncIterator[Database]:
    other = Database(database_url)
    yield other
    await other.dispose()


@pytest.fixture(scope="module")
async def poller_app(settings: Settings, other_database: Database) -> AsyncIterator[Starlette]:
    """Another worker: its own app and connections; it hears of the writer's changes only as another process would."""
    async for application in _worker(settings, other_database):
        yield application


@pytest.fixture
async def writer(writer_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(writer_app):
        yield client


@pytest.fixture
async def operator(writer: httpx.AsyncClient, tenants: TenantFactory) -> Operator:
    operator = await tenants.operator()
    operator.client = writer
    return operator


class Poller:
    """The other worker, polling as a connected runtime (its certificate in the proxy's header)."""

    def __init__(self, client: httpx.AsyncClient, application: Starlette, database: Database) -> None:
        self.client = client
        self.application = application
        self.database = database

    async def poll(self, runtime: ConnectedRuntime, headers: dict[str, str] | None = None) -> httpx.Response:
        body = {"query": SYNC % runtime.id, "variables": None}
        return await self.client.post(DIRECTOR, json=body, headers=headers or runtime.headers)

    async def kept_poll(self, runtime: ConnectedRuntime) -> httpx.Response:
        """A poll answered from memory: the runtime's identity and revision are kept (no statement ran)."""
        await self.heard_everything()
        first = await self.poll(runtime)
        with count_statements(self.database) as statements:
            again = await self.poll(runtime)
        assert statements == [], "the poller must keep the runtime's state for this test to mean anything"
        assert again.headers["etag"] == first.headers["etag"]
        return again

    async def heard_everything(self) -> None:
        """Until the poller heard every change committed so far (on SQLite it sees another process's commit at
        its next lookup)."""
        await heard_everything(self.database)

    async def unheard(self, statement: Executable) -> None:
        """A write without a tag, through the poller's own connections: as if its notification was lost."""
        async with self.database.transaction() as session:
            await session.execute(statement)

    async def revalidate(self) -> None:
        await self.application.state.revalidate_kept()


@pytest.fixture
async def poller(poller_app: Starlette, other_database: Database) -> AsyncIterator[Poller]:
    async for client in _client(poller_app):
        yield Poller(client, poller_app, other_database)


@dataclass(frozen=True)
class ConnectedRuntime:
    """A runtime in the DEFAULT formation with one application."""

    id: str
    headers: dict[str, str]


@pytest.fixture
async def runtime(operator: Operator, writer: httpx.AsyncClient) -> ConnectedRuntime:
    runtime_id = (await operator.query(REGISTER_RUNTIME % "kept"))["result"]["id"]
    application_id = (await operator.query(REGISTER_APPLICATION % "shop"))["result"]["id"]
    await operator.query(ASSIGN % (runtime_id, "RUNTIME"))
    await operator.query(ASSIGN % (application_id, "APPLICATION"))
    token = (await operator.query(TOKEN % runtime_id))["result"]["token"]
    return ConnectedRuntime(runtime_id, await forwarded_certificate_headers(writer, token))


def _bumped(runtime: ConnectedRuntime) -> Executable:
    return update(Runtime).where(Runtime.id == runtime.id).values(revision=Runtime.revision + 1)


def _revoked(runtime: ConnectedRuntime) -> Executable:
    certificates = IssuedCertificate.system_auth_id.in_(
        select(SystemAuth.id).where(SystemAuth.runtime_id == runtime.id)
    )
    return update(IssuedCertificate).where(certificates).values(revoked_at=utcnow())


def _code(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    return str(body["errors"][0]["extensions"]["code"])


async def test_a_change_through_another_worker_reaches_the_next_poll(
    runtime: ConnectedRuntime, operator: Operator, poller: Poller
) -> None:
    kept = await poller.kept_poll(runtime)

    await operator.query(REGISTER_APPLICATION % "second")
    await poller.heard_everything()
    changed = await poller.poll(runtime)

    assert changed.headers["etag"] != kept.headers["etag"]


async def test_a_change_to_the_runtime_alone_reaches_its_next_poll(
    runtime: ConnectedRuntime, operator: Operator, poller: Poller
) -> None:
    kept = await poller.kept_poll(runtime)

    await operator.query(
        'mutation { setRuntimeLabel(runtimeID: "%s", key: "k", value: "v") { key } }' % runtime.id
    )
    await poller.heard_everything()
    changed = await poller.poll(runtime)

    assert changed.headers["etag"] != kept.headers["etag"]


async def test_a_certificate_revoked_through_another_worker_is_refused_at_the_next_call(
    runtime: ConnectedRuntime, writer: httpx.AsyncClient, poller: Poller
) -> None:
    await poller.kept_poll(runtime)

    revoked = await writer.post(CONNECTOR, json={"query": REVOKE}, headers=runtime.headers)
    await poller.heard_everything()
    refused = await poller.poll(runtime)

    assert revoked.json()["data"]["result"] is True
    assert _code(refused) == "CERTIFICATE_REVOKED"


async def test_a_runtime_unregistered_through_another_worker_is_refused_at_the_next_call(
    runtime: ConnectedRuntime, operator: Operator, poller: Poller
) -> None:
    await poller.kept_poll(runtime)

    await operator.query('mutation { unregisterRuntime(id: "%s") { id } }' % runtime.id)
    await poller.heard_everything()
    refused = await poller.poll(runtime)

    assert _code(refused) == "UNAUTHENTICATED"


async def test_a_renewed_certificate_is_known_to_another_worker_at_its_first_call(
    runtime: ConnectedRuntime, writer: httpx.AsyncClient, poller: Poller
) -> None:
    kept = await poller.kept_poll(runtime)

    configuration = await writer.post(CONNECTOR, json={"query": CONFIGURATION}, headers=runtime.headers)
    info = configuration.json()["data"]["result"]
    signed = await writer.post(
        CONNECTOR,
        json={"query": sign_document(csr_b64(ec_key(), info["certificateSigningRequestInfo"]["subject"]))},
        headers={"Connector-Token": info["token"]["token"]},
    )
    certificate = unb64(signed.json()["data"]["result"]["clientCertificate"]).decode()
    renewed = await poller.poll(runtime, {"X-Forwarded-Client-Cert": f'Hash=x;Cert="{quote(certificate)}"'})

    assert renewed.status_code == 200
    assert renewed.headers["etag"] == kept.headers["etag"]


async def test_a_change_whose_notification_was_lost_is_seen_after_the_revalidation(
    runtime: ConnectedRuntime, poller: Poller, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has no notification to lose: any commit drops what is kept")
    kept = await poller.kept_poll(runtime)
    await poller.unheard(_bumped(runtime))
    unheard = await poller.poll(runtime)

    await poller.revalidate()
    heard = await poller.poll(runtime)

    assert unheard.headers["etag"] == kept.headers["etag"]
    assert heard.headers["etag"] != kept.headers["etag"]


async def test_a_revocation_whose_notification_was_lost_is_refused_after_the_revalidation(
    runtime: ConnectedRuntime, poller: Poller
) -> None:
    await poller.kept_poll(runtime)
    await poller.unheard(_revoked(runtime))

    await poller.revalidate()
    refused = await poller.poll(runtime)

    assert _code(refused) == "CERTIFICATE_REVOKED"


async def test_a_listener_that_lost_its_connection_forgets_what_it_kept(
    runtime: ConnectedRuntime, poller: Poller, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite's changes are not listened for")
    kept = await poller.kept_poll(runtime)
    await poller.unheard(_bumped(runtime))
    epoch = poller.database.changes.epoch

    async with poller.database.transaction() as session:
        await session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
            )
        )
    # Forgotten when the connection was lost, and again when the listener is back.
    await wait_until(
        lambda: poller.database.changes.keeping and poller.database.changes.epoch >= epoch + 2,
        what="the listener back",
    )
    heard = await poller.poll(runtime)

    assert heard.headers["etag"] != kept.headers["etag"]


async def test_a_revocation_by_another_worker_is_seen_though_this_one_wrote_since(
    runtime: ConnectedRuntime, writer: httpx.AsyncClient, poller: Poller
) -> None:
    await poller.kept_poll(runtime)

    await writer.post(CONNECTOR, json={"query": REVOKE}, headers=runtime.headers)
    await poller.heard_everything()
    await poller.application.state.last_seen.flush()  # a write of the poller's own, after the revocation
    refused = await poller.poll(runtime)

    assert _code(refused) == "CERTIFICATE_REVOKED"


async def test_a_revoked_certificate_kept_as_valid_gets_no_signing_token(
    runtime: ConnectedRuntime, poller: Poller
) -> None:
    await poller.kept_poll(runtime)
    await poller.unheard(_revoked(runtime))

    configuration = await poller.client.post(
        CONNECTOR, json={"query": CONFIGURATION}, headers=runtime.headers
    )

    assert _code(configuration) == "CERTIFICATE_REVOKED"


async def test_a_tenant_deleted_unheard_is_refused_after_the_revalidation(
    operator: Operator, poller: Poller
) -> None:
    at_poller = Operator(poller.client, operator.tenant_id, operator.token)
    await at_poller.query("query { result: runtimes { totalCount } }")
    await poller.unheard(delete(Tenant).where(Tenant.id == operator.tenant_id))

    await poller.revalidate()

    assert await at_poller.error_codes("query { result: runtimes { totalCount } }") == ["TENANT_NOT_FOUND"]
