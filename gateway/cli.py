"""The ``compass-gateway`` command: ``serve`` runs the Application Gateway until SIGTERM or Ctrl-C.

Settings come from the environment (``GATEWAY_*``) and the directory ``--config-dir`` (or
``GATEWAY_CONFIG_DIR``), see ``gateway.settings``. Exit codes: 0 stopped cleanly, 1 failed to start or serve,
2 the settings are wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvloop

from dataplane.catalog.base import CatalogError
from dataplane.cli import load_settings, version_option
from dataplane.serving import run_service
from gateway.app import Gateway
from gateway.settings import GatewaySettings

# Plain help: typer's rich panels print "<bool>" after every flag, as if it took a value.
app = typer.Typer(
    help="The pycompass Application Gateway: workloads call applications' APIs through it.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.callback()
def main(_version: Annotated[bool, version_option("compass-gateway")] = False) -> None:
    """Run ``compass-gateway serve``; settings are GATEWAY_* environment variables."""


@app.command(name="serve")
def serve_command(
    config_dir: Annotated[
        Path | None,
        typer.Option("--config-dir", help="Secret-like directory, a file per setting (GATEWAY_CONFIG_DIR)."),
    ] = None,
) -> None:
    """Serve the standalone proxy, the Compass proxy and the health and metrics listener."""
    settings = load_settings(lambda: GatewaySettings.load(config_dir), log_level_variable="GATEWAY_LOG_LEVEL")
    status = uvloop.run(_serve(settings))
    if status:
        raise typer.Exit(status)


async def _serve(settings: GatewaySettings) -> int:
    gateway = Gateway(settings)
    return await run_service(gateway, gateway.listeners(), start_errors=(CatalogError,))
