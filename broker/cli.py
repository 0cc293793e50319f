"""The ``compass-broker`` command: ``serve`` runs the Application Broker until SIGTERM or Ctrl-C; ``password
--namespace NS`` prints the Basic password of that namespace's platform (``broker.osb.namespace_password``), for
the namespace's broker registration Secret.

Settings come from the environment (``BROKER_*``, and ``AGENT_STATE_DIR`` as the agent reads it) and the directory
``--config-dir`` (or ``BROKER_CONFIG_DIR``), see ``broker.settings``. Exit codes: 0 stopped cleanly, 1 failed to
start or serve, 2 the settings are wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvloop
from pydantic import ValidationError

from broker.osb import NAMESPACE, namespace_password
from broker.server import START_ERRORS, Broker
from broker.settings import BrokerPasswordSettings, BrokerSettings
from dataplane.cli import fail, invalid_settings, load_settings, version_option
from dataplane.serving import run_service

# Plain help: typer's rich panels print "<bool>" after every flag, as if it took a value.
app = typer.Typer(
    help="The pycompass Application Broker: offers the runtime's applications through the Open Service Broker API.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.callback()
def main(_version: Annotated[bool, version_option("compass-broker")] = False) -> None:
    """Run ``compass-broker serve``; settings are BROKER_* environment variables."""


@app.command(name="serve")
def serve_command(
    config_dir: Annotated[
        Path | None,
        typer.Option("--config-dir", help="Secret-like directory, a file per setting (BROKER_CONFIG_DIR)."),
    ] = None,
) -> None:
    """Serve the Open Service Broker API and the health and metrics listener."""
    settings = load_settings(lambda: BrokerSettings.load(config_dir), log_level_variable="BROKER_LOG_LEVEL")
    try:
        broker = Broker(settings)
    except START_ERRORS as exc:
        fail(f"cannot start: {exc}")
    status = uvloop.run(_serve(broker))
    if status:
        raise typer.Exit(status)


@app.command(name="password")
def password_command(
    namespace: Annotated[
        str, typer.Option("--namespace", help="The namespace the platform registers the broker in.")
    ],
    config_dir: Annotated[
        Path | None,
        typer.Option("--config-dir", help="Secret-like directory, a file per setting (BROKER_CONFIG_DIR)."),
    ] = None,
) -> None:
    """Print the namespace's Basic password, derived from BROKER_PASSWORD as serve derives it."""
    if NAMESPACE.fullmatch(namespace) is None:
        fail(f"{namespace!r} cannot be a namespace's name", 2)
    try:
        settings = BrokerPasswordSettings.load(config_dir)
    except ValidationError as error:
        fail("\n".join(invalid_settings(error)), 2)
    typer.echo(namespace_password(settings.password.get_secret_value(), namespace))


async def _serve(broker: Broker) -> int:
    return await run_service(broker, broker.listeners(), start_errors=START_ERRORS)
