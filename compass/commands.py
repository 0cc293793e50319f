"""What the `compass` commands do; `compass/cli.py` declares them and imports this module only when one runs, so
that `--help`, `--version` and a refused option skip the database, the services and the server's imports."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from compass import migrate as migrations
from compass.auth.jwt import issue_token
from compass.migrate import HEAD_REVISION, DatabaseBehindError, check_migrations, current_revision
from compass.paths import DIRECTOR_PATH
from connector.ca.files import private_directory
from credentials.audit.events import AuditEventName
from credentials.audit.repository import AuditRepository
from credentials.revocation import revoke_for_object
from director.models import Tenant
from director.polling.invalidation import unit_of_work
from director.tenant.service import tenant as tenant_service
from director.watcher.inputs import WatchedField, WatcherInput
from director.watcher.models import Watcher
from director.watcher.service import watcher as watcher_service
from kernel.db import Database, is_database_unavailable
from kernel.errors import CompassError, TenantNotFoundError
from kernel.models import utcnow
from kernel.observability.logging import configure_logging
from kernel.principal import ALL_SCOPES, ClientKind, Scope
from kernel.settings import Settings

DEMO_TENANT = "demo"
T = TypeVar("T")


def unreachable_database(error: Exception) -> str | None:
    """The one line an unreachable database is reported with (the operator's to fix), or None for other errors."""
    if not is_database_unavailable(error):
        return None
    try:
        where = _database_name(Settings())
    except ValidationError:
        where = "(invalid settings)"
    return f"compass: cannot reach the database {where}: {error}"


def _refuse(command: str, message: str, code: int = 1) -> NoReturn:
    typer.echo(f"compass {command}: {message}", err=True)
    raise typer.Exit(code)


def _settings(settings: Settings | None = None) -> Settings:
    settings = settings or Settings()
    # The data directory holds keys and, by default, the database with application credentials.
    private_directory(settings.data_dir)
    return settings


def _database_name(settings: Settings) -> str:
    """The database a command opens, as the operator can compare it with the server's (no password)."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return url.database
    return url.render_as_string(hide_password=True)


def _servers_settings(command: str) -> Settings:
    """For commands that use what the server made: run elsewhere than the server, they would create an empty
    database of their own and then find nothing in it."""
    settings = Settings()
    url = make_url(settings.effective_database_url)
    file = url.database if url.get_backend_name() == "sqlite" and url.database != ":memory:" else None
    if file and not Path(file).exists():
        _refuse(
            command,
            f"there is no database at {file}: run it with the server's settings, COMPASS_DATA_DIR "
            f"(now {settings.data_dir}) or COMPASS_DATABASE_URL",
            2,
        )
    return _settings(settings)


def _refuse_error(command: str, settings: Settings, error: CompassError) -> NoReturn:
    if isinstance(error, TenantNotFoundError):
        _refuse(command, f"{error.message} in the database {_database_name(settings)}")
    _refuse(command, error.message)


async def _ensure_tenant(session: AsyncSession, name: str) -> Tenant:
    try:
        return await tenant_service.resolve(session, name)
    except CompassError:
        return await tenant_service.create(session, name)


# The platform's own unit of work (global watchers): no tenant of its own, every tenant's views bumped.
_NO_TENANT = ""


def _on_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """``work`` on a connection pool of its own, closed after it: the server opens its own in its event loop."""

    async def run() -> T:
        database = Database(settings.effective_database_url)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


def _in_transaction(
    settings: Settings, work: Callable[[AsyncSession], Awaitable[T]], *, changes_views: bool = False
) -> T:
    """Run one unit of work against the configured database from the synchronous CLI; ``changes_views``: work
    that changes what runtimes read (global watchers), so that the views it names are bumped at the commit."""

    async def in_transaction(database: Database) -> T:
        transaction = unit_of_work(database, _NO_TENANT) if changes_views else database.transaction()
        async with transaction as session:
            return await work(session)

    return _on_database(settings, in_transaction)


def _upgrade(settings: Settings) -> None:
    from alembic.util import CommandError  # noqa: PLC0415 - alembic only when migrating (see compass.migrate)

    try:
        migrations.upgrade(settings.effective_database_url)
    except CommandError as error:  # a migration that cannot proceed says why (e.g. 0007: colliding names)
        typer.echo(f"compass: the database cannot be migrated: {error}", err=True)
        raise typer.Exit(1) from None


def _migrated(settings: Settings) -> None:
    """Migrate the embedded database unless it is current: one query, and alembic only for a database behind or
    ahead (which alembic upgrades or refuses, as ``compass migrate`` would)."""
    if not (settings.is_embedded_database and settings.auto_migrate):
        return
    if _on_database(settings, lambda database: current_revision(database.engine)) != HEAD_REVISION:
        _upgrade(settings)


def migrate() -> None:
    settings = _settings()
    _upgrade(settings)
    typer.echo(f"database migrated to {HEAD_REVISION}")


def serve(*, demo: bool, workers: int) -> None:
    # Imported here: the server imports every API and the GraphQL schema, seconds that the other commands skip.
    from compass import server  # noqa: PLC0415 - see above

    settings = _settings()
    if workers > 1:
        server.share_metrics_across_workers(settings)
    _migrated(settings)
    try:
        _on_database(settings, check_migrations)
    except DatabaseBehindError as error:
        _refuse("serve", str(error))
    url = f"http://{settings.host}:{settings.http_port}{DIRECTOR_PATH}"
    typer.echo(f"\nGraphiQL:   {url}")
    typer.echo(
        f"mTLS:       {settings.effective_public_mtls_url}{DIRECTOR_PATH} and {settings.certificate_secured_connector_url}"
    )
    if demo:
        tenant = _in_transaction(settings, lambda session: _ensure_tenant(session, DEMO_TENANT))
        token = issue_token(settings, tenant_id=tenant.id, scopes=sorted(ALL_SCOPES), ttl_seconds=86_400)
        typer.echo("Paste these request headers into GraphiQL (valid 24 hours; `compass token` makes more):")
        typer.echo(f'  {{"Authorization": "Bearer {token}", "Tenant": "{tenant.id}"}}')
        typer.echo("Then run:   { viewer { id type } }\n")
    configure_logging(level=settings.log_level, json=settings.log_json)
    try:
        status = server.run(settings, workers=workers)
    except server.ListenError as error:
        _refuse("serve", str(error))
    if status:
        raise typer.Exit(status)


def tenant_create(name: str) -> None:
    settings = _settings()
    _migrated(settings)
    try:
        tenant = _in_transaction(settings, lambda session: tenant_service.create(session, name))
    except CompassError as error:
        _refuse_error("tenant create", settings, error)
    typer.echo(tenant.id)


def tenant_list() -> None:
    settings = _servers_settings("tenant list")
    _migrated(settings)
    for tenant in _in_transaction(settings, tenant_service.list_all):
        typer.echo(f"{tenant.id}\t{tenant.name}")


def token(*, tenant: str, scopes: list[Scope] | None, ttl: int, subject: str) -> None:
    settings = _servers_settings("token")
    _migrated(settings)
    try:
        found = _in_transaction(settings, lambda session: tenant_service.resolve(session, tenant))
    except CompassError as error:
        _refuse_error("token", settings, error)
    granted = sorted(str(scope) for scope in scopes or ALL_SCOPES)
    typer.echo(issue_token(settings, tenant_id=found.id, scopes=granted, ttl_seconds=ttl, subject=subject))


def revoke(*, tenant: str, runtime: str | None, application: str | None) -> None:
    if (runtime is None) == (application is None):
        _refuse("revoke", "give exactly one of --runtime or --application", 2)
    settings = _servers_settings("revoke")
    _migrated(settings)
    kind, object_id = (ClientKind.RUNTIME, runtime) if runtime else (ClientKind.APPLICATION, application)

    async def work(session: AsyncSession) -> list[str]:
        found = await tenant_service.resolve(session, tenant)
        return await revoke_for_object(session, found.id, kind, str(object_id), now=utcnow())

    try:
        serials = _in_transaction(settings, work)
    except CompassError as error:
        _refuse_error("revoke", settings, error)
    for serial in serials:
        typer.echo(serial)
    typer.echo(f"revoked {len(serials)} certificate(s)", err=True)


def audit(*, limit: int, event: AuditEventName | None) -> None:
    settings = _servers_settings("audit")
    _migrated(settings)
    lines = _in_transaction(
        settings, lambda session: AuditRepository(session).latest(limit=limit, event=event)
    )
    for line in lines:
        row = line.event
        fields = {
            "tenant": row.tenant_id,
            "client": row.client_id,
            "runtime": line.runtime_id,
            "application": line.application_id,
            "serial": row.serial,
            "from": row.remote_addr,
            "reason": row.reason,
        }
        details = " ".join(f"{key}={value}" for key, value in fields.items() if value)
        typer.echo(f"{row.at.isoformat()}  {row.event:<22} {details}")


def watch_events(*, runtime: str, tenant: str | None, first: int, as_json: bool) -> None:
    settings = _servers_settings("watch-events")
    _migrated(settings)

    async def work(session: AsyncSession) -> list[Any]:
        tenant_id = (await tenant_service.resolve(session, tenant)).id if tenant else None
        return (await watcher_service.events(session, tenant_id, [runtime], first)).get(runtime, [])

    try:
        events = _in_transaction(settings, work)
    except CompassError as error:
        _refuse_error("watch-events", settings, error)
    if as_json:
        shaped = [
            {
                "module": event.module,
                "watched": {"namespace": event.namespace, "name": event.name},
                "watchedGvk": {"group": event.group, "version": event.version, "kind": event.kind},
                "receivedAt": event.received_at.isoformat(),
            }
            for event in events
        ]
        typer.echo(json.dumps(shaped, indent=2))
        return
    for event in events:
        gvk = f"{event.group}/{event.version}" if event.group else event.version
        where = f"{event.namespace}/{event.name}" if event.namespace else event.name
        typer.echo(f"{event.received_at.isoformat()}  {event.module}  {gvk} {event.kind}  {where}")


def _watcher_line(found: Watcher) -> str:
    labels = ",".join(f"{key}={value}" for key, value in (found.labels or {}).items()) or "-"
    gvr = (
        f"{found.group}/{found.version}/{found.resource}"
        if found.group
        else f"{found.version}/{found.resource}"
    )
    return f"{found.id}\t{found.name}\t{found.module}\t{gvr}\t{found.field}\t{labels}"


def _labels(pairs: list[str]) -> dict[str, str] | None:
    labels: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator:
            _refuse("watchers create", f"--label takes key=value, not {pair!r}", 2)
        labels[key] = value
    return labels or None


def watchers_create(
    *, name: str, module: str, version: str, resource: str, is_global: bool, group: str, label: list[str] | None,
    field: WatchedField,
) -> None:  # fmt: skip
    if not is_global:
        _refuse(
            "watchers create",
            "give --global: a tenant's watchers are made with the createWatcher mutation",
            2,
        )
    settings = _servers_settings("watchers create")
    _migrated(settings)
    data = WatcherInput(
        name=name, module=module, group=group, version=version, resource=resource, labels=_labels(label or []),
        field=field,
    )  # fmt: skip
    try:
        created = _in_transaction(
            settings,
            lambda session: watcher_service.create(session, None, data, limit=settings.max_watchers),
            changes_views=True,
        )
    except CompassError as error:
        _refuse_error("watchers create", settings, error)
    typer.echo(_watcher_line(created))


def watchers_list() -> None:
    settings = _servers_settings("watchers list")
    _migrated(settings)
    for found in _in_transaction(settings, lambda session: watcher_service.visible(session, None)):
        typer.echo(_watcher_line(found))


def watchers_delete(watcher_id: str) -> None:
    settings = _servers_settings("watchers delete")
    _migrated(settings)
    try:
        deleted = _in_transaction(
            settings, lambda session: watcher_service.delete(session, None, watcher_id), changes_views=True
        )
    except CompassError as error:
        _refuse_error("watchers delete", settings, error)
    typer.echo(_watcher_line(deleted))
