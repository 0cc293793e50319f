"""The `compass` command: serve, migrate, tenants and operator tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from alembic.util import CommandError
from sqlalchemy.ext.asyncio import AsyncSession

from compass import migrate as migrations
from compass import server
from compass.app import DIRECTOR_PATH, DatabaseBehindError, check_migrations
from compass.auth.jwt import issue_token
from connector.ca.files import private_directory
from credentials.audit.repository import AuditRepository
from credentials.revocation import revoke_for_object
from director.models import Tenant
from director.tenant.service import tenant as tenant_service
from kernel.db import Database
from kernel.errors import CompassError
from kernel.models import utcnow
from kernel.observability.logging import configure_logging
from kernel.principal import ALL_SCOPES, ClientKind
from kernel.settings import Settings

app = typer.Typer(help="pycompass: a Compass-compatible control plane.", no_args_is_help=True)
tenant_app = typer.Typer(help="Create and list tenants.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")

DEMO_TENANT = "demo"
T = TypeVar("T")


def _settings() -> Settings:
    settings = Settings()
    # The data directory holds keys and, by default, the database with application credentials.
    private_directory(settings.data_dir)
    return settings


async def _ensure_tenant(session: AsyncSession, name: str) -> Tenant:
    try:
        return await tenant_service.resolve(session, name)
    except CompassError:
        return await tenant_service.create(session, name)


def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one unit of work against the configured database from the synchronous CLI."""

    async def run() -> T:
        database = Database(settings.effective_database_url)
        try:
            async with database.transaction() as session:
                return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(run())


async def _check(database: Database) -> None:
    try:
        await check_migrations(database)
    finally:
        await database.dispose()


def _upgrade(settings: Settings) -> None:
    try:
        migrations.upgrade(settings.effective_database_url)
    except CommandError as error:  # a migration that cannot proceed says why (e.g. 0007: colliding names)
        typer.echo(f"compass: the database cannot be migrated: {error}", err=True)
        raise typer.Exit(1) from None


def _migrated(settings: Settings) -> None:
    if settings.is_embedded_database and settings.auto_migrate:
        _upgrade(settings)


@app.command()
def migrate() -> None:
    """Bring the database up to the newest migration."""
    settings = _settings()
    _upgrade(settings)
    typer.echo(f"database migrated to {migrations.head_revision()}")


@app.command()
def serve(
    demo: Annotated[bool, typer.Option(help="Create a demo tenant and print headers to paste.")] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes sharing both listeners and one database (meant for PostgreSQL). "
            "Per-process limits, such as COMPASS_REDEMPTIONS_PER_SECOND, then allow N times as much.",
        ),
    ] = 1,
) -> None:
    """Serve the Director and the Connector until interrupted."""
    settings = _settings()
    if workers > 1:
        server.share_metrics_across_workers(settings)
    _migrated(settings)
    try:
        asyncio.run(_check(Database(settings.effective_database_url)))
    except DatabaseBehindError as error:
        typer.echo(f"compass serve: {error}", err=True)
        raise typer.Exit(1) from None
    url = f"http://{settings.host}:{settings.http_port}{DIRECTOR_PATH}"
    typer.echo(f"\nGraphiQL:   {url}")
    typer.echo(f"mTLS:       {settings.effective_public_mtls_url}{DIRECTOR_PATH} and {settings.certificate_secured_connector_url}")
    if demo:
        tenant = _in_transaction(settings, lambda session: _ensure_tenant(session, DEMO_TENANT))
        token = issue_token(settings, tenant_id=tenant.id, scopes=sorted(ALL_SCOPES), ttl_seconds=86_400)
        typer.echo("Paste these request headers into GraphiQL (valid 24 hours; `compass token` makes more):")
        typer.echo(f'  {{"Authorization": "Bearer {token}", "Tenant": "{tenant.id}"}}')
        typer.echo("Then run:   { viewer { id type } }\n")
    configure_logging(level=settings.log_level, json=settings.log_json)
    status = server.run(settings, workers=workers)
    if status:
        raise typer.Exit(status)


@tenant_app.command("create")
def tenant_create(name: str) -> None:
    """Create a tenant and print its id (the Tenant header value)."""
    settings = _settings()
    _migrated(settings)
    try:
        tenant = _in_transaction(settings, lambda session: tenant_service.create(session, name))
    except CompassError as error:
        typer.echo(f"compass tenant create: {error.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(tenant.id)


@tenant_app.command("list")
def tenant_list() -> None:
    """List tenants: id and name."""
    settings = _settings()
    _migrated(settings)
    for tenant in _in_transaction(settings, tenant_service.list_all):
        typer.echo(f"{tenant.id}\t{tenant.name}")


@app.command()
def token(
    tenant: Annotated[str, typer.Option(help="Tenant name or id.")],
    scopes: Annotated[list[str] | None, typer.Option(help="Scopes to grant (repeat); default all.")] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3600,
    subject: Annotated[str, typer.Option(help="Who the token is for.")] = "operator",
) -> None:
    """Print an operator JWT signed with this server's key."""
    settings = _settings()
    _migrated(settings)
    try:
        found = _in_transaction(settings, lambda session: tenant_service.resolve(session, tenant))
    except CompassError as error:
        typer.echo(f"compass token: {error.message}", err=True)
        raise typer.Exit(1) from None
    unknown = set(scopes or []) - set(ALL_SCOPES)
    if unknown:
        typer.echo(f"compass token: unknown scopes {sorted(unknown)}; known: {sorted(ALL_SCOPES)}", err=True)
        raise typer.Exit(1)
    typer.echo(issue_token(settings, tenant_id=found.id, scopes=scopes or sorted(ALL_SCOPES), ttl_seconds=ttl, subject=subject))


@app.command()
def revoke(
    tenant: Annotated[str, typer.Option(help="Tenant name or id.")],
    runtime: Annotated[str | None, typer.Option(help="Revoke every certificate of this runtime id.")] = None,
    application: Annotated[str | None, typer.Option(help="Revoke every certificate of this application id.")] = None,
) -> None:
    """Revoke all client certificates of a runtime or an application and print their serials."""
    if (runtime is None) == (application is None):
        typer.echo("compass revoke: give exactly one of --runtime or --application", err=True)
        raise typer.Exit(2)
    settings = _settings()
    _migrated(settings)
    kind, object_id = (ClientKind.RUNTIME, runtime) if runtime else (ClientKind.APPLICATION, application)
    async def work(session: AsyncSession) -> list[str]:
        found = await tenant_service.resolve(session, tenant)
        return await revoke_for_object(session, found.id, kind, str(object_id), now=utcnow())

    try:
        serials = _in_transaction(settings, work)
    except CompassError as error:
        typer.echo(f"compass revoke: {error.message}", err=True)
        raise typer.Exit(1) from None
    for serial in serials:
        typer.echo(serial)
    typer.echo(f"revoked {len(serials)} certificate(s)", err=True)


@app.command()
def audit(
    limit: Annotated[int, typer.Option(help="How many of the latest events.")] = 50,
    event: Annotated[str | None, typer.Option(help="Only this event, e.g. token_refused.")] = None,
) -> None:
    """List the latest token and certificate events, newest first."""
    settings = _settings()
    _migrated(settings)
    rows = _in_transaction(settings, lambda session: AuditRepository(session).latest(limit=limit, event=event))
    for row in rows:
        fields = {
            "tenant": row.tenant_id, "client": row.client_id, "serial": row.serial,
            "from": row.remote_addr, "reason": row.reason,
        }
        details = " ".join(f"{key}={value}" for key, value in fields.items() if value)
        typer.echo(f"{row.at.isoformat()}  {row.event:<22} {details}")
