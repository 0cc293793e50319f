"""The ``compass-agent`` command: ``run`` or ``sync`` (the loop), ``sync --once [--dry-run]``, ``status``,
``renew``.

Settings come from the environment and the configuration directory (``--config-dir`` or
``AGENT_CONFIG_DIR``), see ``agent.settings``. Results go to stdout, structured logs to stderr. Exit codes:
0 done, 1 failed (the state and the reason are printed), 2 the settings are incomplete or wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from agent.loop import Agent, Outcome, close_sink
from agent.settings import AgentSettings, ConfigurationError
from agent.sinks import make_sink
from agent.status import CompassConnection, ConnectionRecord, ConnectionState
from dataplane.cli import fail, invalid_settings, version_option
from dataplane.logging import configure_logging

# Plain help: typer's rich panels print "<bool>" after every flag, as if it took a value.
app = typer.Typer(
    help="The pycompass Runtime Agent: connects a runtime and keeps it in sync.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@dataclass(frozen=True)
class Options:
    config_dir: Path | None
    log_level: str | None
    log_json: bool | None


@app.callback()
def main(
    ctx: typer.Context,
    config_dir: Annotated[
        Path | None,
        typer.Option("--config-dir", help="Secret-like directory, a file per setting (AGENT_CONFIG_DIR)."),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option(help="debug, info, warning, error (default AGENT_LOG_LEVEL).")
    ] = None,
    log_json: Annotated[
        bool | None, typer.Option("--log-json/--log-console", help="Log format (default AGENT_LOG_JSON).")
    ] = None,
    _version: Annotated[bool, version_option("compass-agent")] = False,
) -> None:
    ctx.obj = Options(config_dir, log_level, log_json)


def _settings(
    ctx: typer.Context, *, connection: bool = True
) -> tuple[AgentSettings, Callable[[], AgentSettings]]:
    options: Options = ctx.obj

    def load() -> AgentSettings:
        return AgentSettings.load(options.config_dir)

    try:
        settings = load()
        if connection:
            settings.require_connection_settings()
        configure_logging(
            level=options.log_level or settings.log_level,
            json=settings.log_json if options.log_json is None else options.log_json,
        )
    except ValidationError as error:
        fail("\n".join(invalid_settings(error)), 2)
    except (ConfigurationError, ValueError) as error:
        fail(f"configuration: {error}", 2)
    return settings, load


@app.command()
def run(ctx: typer.Context) -> None:
    """Connect, then sync every AGENT_SYNC_PERIOD seconds (and renew) until SIGTERM or Ctrl-C."""
    settings, load = _settings(ctx)
    asyncio.run(_run(settings, load))


async def _run(settings: AgentSettings, load: Callable[[], AgentSettings]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sign in (signal.SIGINT, signal.SIGTERM):
        # Not the main thread: the caller stops us.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sign, stop.set)
    async with Agent(settings, reload_settings=load) as agent:
        await agent.run(stop)


@app.command()
def sync(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Sync once, print the creates/updates/deletes and exit.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --once: print what would change.")] = False,
) -> None:
    """Keep syncing, as `run` does; with --once connect if needed, sync once and print the plan (exit 1 when
    the sync failed)."""
    if not once:
        if dry_run:
            fail("--dry-run needs --once: a dry run is one pass", 2)
        run(ctx)
        return
    settings, load = _settings(ctx)
    outcome = asyncio.run(_sync_once(settings, load, dry_run=dry_run))
    _print_outcome(outcome, dry_run=dry_run)


async def _sync_once(settings: AgentSettings, load: Callable[[], AgentSettings], *, dry_run: bool) -> Outcome:
    async with Agent(settings, reload_settings=load) as agent:
        return await agent.run_once(dry_run=dry_run)


def _print_outcome(outcome: Outcome, *, dry_run: bool) -> None:
    state = outcome.state.value if outcome.state is not None else "unknown"
    if outcome.result is None:
        fail(f"sync failed: {state}: {outcome.error or 'no reason given'}")
    plan = outcome.result.plan
    for line in plan.lines():
        typer.echo(line)
    verb = "would " if dry_run else ""
    typer.echo(
        f"{outcome.result.fetched_applications} applications; {verb}create {len(plan.creates)}, "
        f"{verb}update {len(plan.updates)}, {verb}delete {len(plan.deletes)}"
        + (" (unchanged since the last sync)" if outcome.result.unchanged else "")
    )
    if outcome.state is ConnectionState.METADATA_UPDATE_FAILED:
        typer.echo(f"warning: {state}: {outcome.error}", err=True)
    for conflict in outcome.result.conflicts:  # only a dry run gets here with conflicts: a sync fails on them
        typer.echo(f"warning: {conflict.reason}", err=True)


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="The CompassConnection resource as JSON.")] = False,
) -> None:
    """Print the CompassConnection status; exit 1 when there is none."""
    settings, _ = _settings(ctx, connection=False)

    async def load_record() -> CompassConnection | None:
        sink = make_sink(settings)
        try:
            return await ConnectionRecord(sink).load()
        finally:
            await close_sink(sink)

    record = asyncio.run(load_record())
    if record is None:
        fail("no CompassConnection: the agent has not connected yet, or the record was deleted")
    if as_json:
        typer.echo(json.dumps(record.to_manifest(), indent=2))
        return
    for line in _status_lines(record):
        typer.echo(line)


def _status_lines(record: CompassConnection) -> list[str]:
    manifest = record.to_manifest()
    connection = manifest["status"]["connectionStatus"]
    certificate = connection["certificateStatus"]
    synchronization = manifest["status"]["synchronizationStatus"]
    rows = [
        ("connectionState", manifest["status"]["connectionState"]),
        ("directorUrl", record.director_url),
        ("connectorUrl", record.connector_url),
        ("established", connection["established"]),
        ("renewed", connection["renewed"]),
        ("lastSync", connection["lastSync"]),
        ("lastSuccess", connection["lastSuccess"]),
        ("certificate.notBefore", certificate["notBefore"]),
        ("certificate.notAfter", certificate["notAfter"]),
        ("connection.error", connection["error"]),
        ("sync.lastAttempt", synchronization["lastAttempt"]),
        ("sync.lastSuccessfulFetch", synchronization["lastSuccessfulFetch"]),
        ("sync.lastSuccessfulApplication", synchronization["lastSuccessfulApplication"]),
        ("sync.error", synchronization["error"]),
    ]
    return [f"{name}: {value if value is not None else '-'}" for name, value in rows]


@app.command()
def renew(ctx: typer.Context) -> None:
    """Renew the certificate now (connect with the token when there is none); exit 1 when that failed."""
    settings, load = _settings(ctx)

    async def work() -> tuple[bool, CompassConnection]:
        async with Agent(settings, reload_settings=load) as agent:
            maintenance = await agent.renew()
            return maintenance.renewed or maintenance.connected, maintenance.record

    done, record = asyncio.run(work())
    state = record.state.value if record.state is not None else "unknown"
    if not done:
        fail(f"renewal failed: {state}: {record.connection_status.error or 'no reason given'}")
    not_after = record.to_manifest()["status"]["connectionStatus"]["certificateStatus"]["notAfter"]
    typer.echo(f"certificate valid until {not_after}")
