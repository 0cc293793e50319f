"""Assembles the ASGI application: both APIs, health, metrics and the middleware that every request passes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import structlog
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from compass.adapter.connector import ConnectorEndpoints
from compass.adapter.formation_mapping import FormationMappingEndpoints
from compass.adapter.health import route as adapter_health_route
from compass.adapter.metadata import MetadataEndpoints
from compass.adapter.paths import Credential
from compass.adapter.paths import credential_for as adapter_credential
from compass.adapter.remote_environments import RemoteEnvironmentEndpoints
from compass.auth.jwt import JWTVerifier
from compass.auth.middleware import AuthenticationMiddleware, KnownTenants
from compass.auth.oauth import TokenEndpoint
from compass.migrate import check_migrations
from compass.paths import CHANGES_PATH, CONNECTOR_PATH, DIRECTOR_PATH
from compass.watch_listener import WatchListener, is_listener_path
from connector.ca.authority import CertificateAuthority
from connector.crl import crl_endpoint
from connector.graphql.schema import build_schema as build_connector_schema
from connector.graphql.view import ConnectorGraphQL
from connector.service import ConnectorService
from director.formationassignment.notifier import FormationNotifier
from director.graphql.schema import build_schema
from director.graphql.view import DirectorGraphQL
from director.polling.kept_revisions import KeptRevisions
from director.polling.last_seen import LastSeenRecorder
from director.polling.middleware import RuntimePollCache
from director.polling.push import ChangeStream
from director.watcher.consumers import built_in_consumers
from kernel.asgi import HttpMiddleware, ResponseStatus
from kernel.cache import MemoryCache
from kernel.changes import Watchers
from kernel.db import Database, DatabaseUnavailableError, is_database_unavailable
from kernel.graphiql.page import static_mount
from kernel.http import BodySizeLimitMiddleware, send_graphql_error
from kernel.models import utcnow
from kernel.observability.metrics import HttpMetricsMiddleware, metrics_endpoint
from kernel.observability.request_context import RequestContextMiddleware
from kernel.principal import CertificateIdentity
from kernel.settings import Settings

log = structlog.get_logger("compass.app")



# How long shutdown waits for a background run in progress (upkeep, last-seen flush) before it cancels it: both
# take milliseconds.
BACKGROUND_STOP_GRACE_SECONDS = 2.0


async def periodically(work: Callable[[], Awaitable[object]], interval: float, stop: asyncio.Event) -> None:
    """Runs ``work`` now and then every ``interval`` seconds until ``stop`` is set; a failure is logged, the next
    run retries. Stopping lets a run in progress finish: cancelled while SQLite's busy handler waits in
    aiosqlite's thread, a ``BEGIN IMMEDIATE`` still took the write lock afterwards, on a connection nobody
    closed until the garbage collector did, and every other writer waited out its 30 s busy timeout."""
    while not stop.is_set():
        try:
            await work()
        except Exception:  # upkeep must outlive a database hiccup
            log.exception("periodic_work_failed", work=getattr(work, "__qualname__", repr(work)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


class DatabaseUnavailableMiddleware(HttpMiddleware):
    """A request that finds the database unreachable gets 503 and a GraphQL error saying so, not a bare 500.

    Failures inside GraphQL execution are answered by the schema's error handling; this catches what fails
    before it (authentication by certificate, the runtime poll cache) and any other endpoint.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = ResponseStatus(send)
        try:
            await self.app(scope, receive, response)
        except Exception as error:
            if response.started or not is_database_unavailable(error):
                raise
            log.warning("database_unavailable", path=scope.get("path"), error=repr(error))
            await send_graphql_error(
                send, DatabaseUnavailableError("the database is unavailable; retry in a few seconds")
            )


def load_certificate_authority(settings: Settings) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(
        settings.data_dir,
        cert_file=settings.ca_cert_file,
        key_file=settings.ca_key_file,
        chain_files=[settings.ca_chain_file] if settings.ca_chain_file else [],
    )


def credential_for(path: str) -> Credential | None:
    """The REST API's paths, a runtime's change stream (a Director caller: its certificate), and the Runtime
    Watcher's listener (a client certificate only)."""
    if path == CHANGES_PATH:
        return Credential.DIRECTOR
    if is_listener_path(path):
        return Credential.CERTIFICATE
    return adapter_credential(path)


def create_app(
    settings: Settings,
    database: Database | None = None,
    *,
    ca: CertificateAuthority | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Starlette:
    database = database or Database(settings.effective_database_url)
    connector = ConnectorService(database, ca or load_certificate_authority(settings), settings, clock)
    director = DirectorGraphQL(
        build_schema(settings),
        database=database,
        settings=settings,
        clock=clock,
        # 0 turns sharing off: no view kept, and none shared while it is built either.
        shared_views=MemoryCache(max_entries=settings.shared_view_entries) if settings.shared_view_entries else None,
    )
    connector_api = ConnectorGraphQL(build_connector_schema(settings), service=connector)
    recorder = LastSeenRecorder(database, clock)
    notifier = FormationNotifier(database, settings)
    revisions = KeptRevisions(database, max_entries=settings.kept_revisions)
    known_tenants = KnownTenants(database)
    draining = asyncio.Event()

    async def still_valid(identity: CertificateIdentity) -> bool:
        """Of this CA (not an OAuth client's token or an external certificate), unexpired, its client still there,
        unrevoked where revoked certificates are refused."""
        found = await connector.identify(identity.serial, identity.client_id) if identity.serial else None
        if found is None or found.not_after <= clock():
            return False
        return not (found.revoked and settings.refuses_revoked)

    change_stream = ChangeStream(
        Watchers(database.changes),
        still_valid=still_valid,
        draining=draining,
        max_streams=settings.max_change_streams or max(1, settings.max_connections // 2),
        heartbeat=settings.change_stream_heartbeat_seconds,
        clock=clock,
    )
    director_endpoint = RuntimePollCache(
        director,
        revisions=revisions,
        cache=MemoryCache(max_entries=settings.poll_cache_entries, max_bytes=settings.poll_cache_bytes, size_of=len),
        recorder=recorder,
        max_query_tokens=settings.max_query_tokens,
    )

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        try:
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:  # noqa: BLE001 - any failure means "not ready", reported not raised
            return JSONResponse({"status": "unavailable", "database": type(error).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def revalidate_kept() -> None:
        """What a lost change notification left stale is dropped within one period (``kernel.changes``)."""
        await connector.revalidate()
        await revisions.revalidate()
        await known_tenants.revalidate()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await check_migrations(database)
        stop = asyncio.Event()
        background = {
            asyncio.create_task(periodically(recorder.flush, settings.last_seen_flush_seconds, stop)),
            asyncio.create_task(periodically(connector.maintain, settings.maintenance_interval_seconds, stop)),
            asyncio.create_task(notifier.run(stop)),
            asyncio.create_task(database.changes.listen(database.url, stop, settings.kept_revalidate_seconds)),
            asyncio.create_task(periodically(revalidate_kept, settings.kept_revalidate_seconds, stop)),
        }
        yield
        # Let finish (see ``periodically``), and only a run stuck past the grace cancelled: disposed under it,
        # its transaction (and, on SQLite, the one write lock) could outlive the app.
        stop.set()
        _finished, stuck = await asyncio.wait(background, timeout=BACKGROUND_STOP_GRACE_SECONDS)
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)
        with contextlib.suppress(Exception):  # what was seen since the last flush; lost if the database is gone
            await recorder.flush()
        await database.dispose()

    application = Starlette(
        routes=[
            # Every method reaches the views: they refuse all but GET and POST as a GraphQL error (kernel.http).
            Route(DIRECTOR_PATH, director_endpoint),
            Route(CHANGES_PATH, change_stream),
            Route(CONNECTOR_PATH, connector_api),
            Route("/connector/crl", crl_endpoint(connector)),
            *ConnectorEndpoints(connector, database, settings).routes(),
            *RemoteEnvironmentEndpoints(connector, database, settings).routes(),
            *MetadataEndpoints(database, settings).routes(),
            *FormationMappingEndpoints(database, settings).routes(),
            *TokenEndpoint(database, settings).routes(),
            *WatchListener(database, settings, built_in_consumers()).routes(),
            adapter_health_route(),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            static_mount(),
        ],
        middleware=[
            Middleware(RequestContextMiddleware),
            Middleware(HttpMetricsMiddleware),
            Middleware(DatabaseUnavailableMiddleware),
            Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
            Middleware(
                AuthenticationMiddleware,
                verifier=JWTVerifier(settings),
                database=database,
                connector=connector,
                settings=settings,
                director_path=DIRECTOR_PATH,
                connector_path=CONNECTOR_PATH,
                adapter_credential=credential_for,
                known_tenants=known_tenants,
            ),
        ],
        lifespan=lifespan,
    )
    # Tests and operators' tooling reach the recorder to flush last-seen times at once.
    application.state.last_seen = recorder
    # Tests sweep the formation notifier at once rather than wait for it.
    application.state.formation_notifier = notifier
    # And re-read what is kept in memory at once (a lost notification), rather than wait for the period.
    application.state.revalidate_kept = revalidate_kept
    # The server sets it when it stops: long-lived answers (runtimes' change streams) end, and it drains.
    application.state.draining = draining
    return application
