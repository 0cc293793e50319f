"""The `compass` command: serve, migrate, tenants and operator tokens.

Only the declarations live here: each command imports `compass.commands` (the database, the services, the
migrations) when it runs, so that `--help`, `--version` and a refused option cost the interpreter and typer alone.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated, Any

import typer

from credentials.audit.events import AuditEventName
from director.watcher.inputs import MAX_WATCH_EVENTS_PAGE, WatchedField
from kernel.principal import ALL_SCOPES, PLATFORM_SCOPES, Scope


class _Compass(typer.Typer):
    """An unreachable database is the operator's to fix: one line naming it, not a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as error:
            from compass.commands import unreachable_database  # noqa: PLC0415 - the commands module is heavy

            line = unreachable_database(error)
            if line is None:
                raise
            typer.echo(line, err=True)
            raise SystemExit(1) from None


# Plain help: typer's rich panels print "<bool>" after every flag, as if it took a value.
app = _Compass(
    help="pycompass: a Compass-compatible control plane.", no_args_is_help=True, rich_markup_mode=None
)
tenant_app = typer.Typer(help="Create and list tenants.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(tenant_app, name="tenant")
watchers_app = typer.Typer(
    help="The global watchers (the Runtime Watcher's): every tenant's runtimes report what they name.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(watchers_app, name="watchers")


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"compass {version('pycompass')}")
        raise typer.Exit


@app.callback()
def main(
    _version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    pass


# Each command below imports `compass.commands` when it runs (PLC0415): see the module's docstring.


@app.command()
def migrate() -> None:
    """Bring the database up to the newest migration."""
    from compass import commands  # noqa: PLC0415

    commands.migrate()


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
    from compass import commands  # noqa: PLC0415

    commands.serve(demo=demo, workers=workers)


@tenant_app.command("create")
def tenant_create(name: str) -> None:
    """Create a tenant and print its id (the Tenant header value)."""
    from compass import commands  # noqa: PLC0415

    commands.tenant_create(name)


@tenant_app.command("list")
def tenant_list() -> None:
    """List tenants: id and name."""
    from compass import commands  # noqa: PLC0415

    commands.tenant_list()


@app.command()
def token(
    tenant: Annotated[str, typer.Option(help="Tenant name or id.")],
    scopes: Annotated[
        list[Scope] | None,
        typer.Option(
            metavar="SCOPE",
            help=f"Scope to grant (repeat); default all but the platform scopes "
            f"({', '.join(sorted(PLATFORM_SCOPES))}): {', '.join(sorted(ALL_SCOPES))}.",
        ),
    ] = None,
    ttl: Annotated[int, typer.Option(min=1, help="Lifetime in seconds.")] = 3600,
    subject: Annotated[str, typer.Option(help="Who the token is for.")] = "operator",
) -> None:
    """Print an operator JWT signed with this server's key."""
    from compass import commands  # noqa: PLC0415

    commands.token(tenant=tenant, scopes=scopes, ttl=ttl, subject=subject)


@app.command()
def revoke(
    tenant: Annotated[str, typer.Option(help="Tenant name or id.")],
    runtime: Annotated[str | None, typer.Option(help="Revoke every certificate of this runtime id.")] = None,
    application: Annotated[
        str | None, typer.Option(help="Revoke every certificate of this application id.")
    ] = None,
) -> None:
    """Revoke all client certificates of a runtime or an application and print their serials."""
    from compass import commands  # noqa: PLC0415

    commands.revoke(tenant=tenant, runtime=runtime, application=application)


@app.command()
def audit(
    limit: Annotated[int, typer.Option(min=1, help="How many of the latest events.")] = 50,
    event: Annotated[
        AuditEventName | None,
        typer.Option(metavar="EVENT", help=f"Only this event: {', '.join(AuditEventName)}."),
    ] = None,
) -> None:
    """List the latest token and certificate events, newest first, with the runtime or application of each
    client id."""
    from compass import commands  # noqa: PLC0415

    commands.audit(limit=limit, event=event)


@app.command("watch-events")
def watch_events(
    runtime: Annotated[str, typer.Option(help="The runtime id.")],
    tenant: Annotated[
        str | None, typer.Option(help="Only if the runtime is this tenant's (name or id).")
    ] = None,
    first: Annotated[
        int, typer.Option(min=1, max=MAX_WATCH_EVENTS_PAGE, help="How many of the newest.")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="As JSON, shaped as Runtime.watchEvents.")] = False,
) -> None:
    """List the newest watch events a runtime's watcher delivered, newest first."""
    from compass import commands  # noqa: PLC0415

    commands.watch_events(runtime=runtime, tenant=tenant, first=first, as_json=as_json)


@watchers_app.command("create")
def watchers_create(
    *,
    name: Annotated[str, typer.Option(help="A DNS label, unique among the global watchers.")],
    module: Annotated[str, typer.Option(help="A DNS label: the module whose consumers get the events.")],
    version: Annotated[str, typer.Option(help="The API version of the watched resource.")],
    resource: Annotated[str, typer.Option(help="The plural resource name.")],
    is_global: Annotated[
        bool,
        typer.Option(
            "--global", help="Required: this makes global watchers; a tenant's are made with createWatcher."
        ),
    ] = False,
    group: Annotated[str, typer.Option(help='The API group ("" for the core group).')] = "",
    label: Annotated[
        list[str] | None, typer.Option(help="Only objects with this label, key=value (repeat).")
    ] = None,
    field: Annotated[WatchedField, typer.Option(help="What of an update is reported.")] = WatchedField.SPEC,
) -> None:
    """Create a global watcher (every tenant's runtimes report it) and print it."""
    from compass import commands  # noqa: PLC0415

    commands.watchers_create(
        name=name, module=module, version=version, resource=resource, is_global=is_global, group=group,
        label=label, field=field,
    )  # fmt: skip


@watchers_app.command("list")
def watchers_list() -> None:
    """List the global watchers (built in, and created here): id, name, module, group/version/resource, field,
    labels."""
    from compass import commands  # noqa: PLC0415

    commands.watchers_list()


@watchers_app.command("delete")
def watchers_delete(watcher_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Delete a global watcher created here (the built-in ones stay)."""
    from compass import commands  # noqa: PLC0415

    commands.watchers_delete(watcher_id)
