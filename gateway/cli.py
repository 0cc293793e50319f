"""The ``compass-gateway`` command: ``serve`` runs the Application Gateway until SIGTERM or Ctrl-C.

Settings come from the environment (``GATEWAY_*``) and the directory ``--config-dir`` (or
``GATEWAY_CONFIG_DIR``), see ``gateway.settings``. Exit codes: 0 stopped cleanly, 1 failed to start or serve,
2 the settings are wrong.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Annotated, NoReturn

import structlog
import typer
import uvloop
from pydantic import ValidationError

from dataplane.catalog.base import CatalogError
from dataplane.logging import configure_logging
from dataplane.serving import ListenError, bind, serve
from gateway.app import Gateway
from gateway.settings import GatewaySettings

log = structlog.get_logger("gateway")

# Plain help: typer's rich panels print "<bool>" after every flag, as if it took a value.
app = typer.Typer(
    help="The pycompass Application Gateway: workloads call applications' APIs through it.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"compass-gateway {version('pycompass')}")
        raise typer.Exit


@app.callback()
def main(
    _version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Run ``compass-gateway serve``; settings are GATEWAY_* environment variables."""


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


@app.command(name="serve")
def serve_command(
    config_dir: Annotated[
        Path | None,
        typer.Option("--config-dir", help="Secret-like directory, a file per setting (GATEWAY_CONFIG_DIR)."),
    ] = None,
) -> None:
    """Serve the standalone proxy, the Compass proxy and the health and metrics listener."""
    try:
        settings = GatewaySettings.load(config_dir)
    except ValidationError as exc:
        lines = [
            f"invalid setting {'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in exc.errors(include_url=False, include_input=False)
        ]
        _fail("\n".join(lines), 2)
    try:
        configure_logging(level=settings.log_level, json=settings.log_json)
    except ValueError as exc:
        _fail(f"invalid setting GATEWAY_LOG_LEVEL: {exc}", 2)
    status = uvloop.run(_serve(settings))
    if status:
        raise typer.Exit(status)


async def _serve(settings: GatewaySettings) -> int:
    gateway = Gateway(settings)
    listeners = gateway.listeners()
    try:
        sockets = bind(listeners)
    except ListenError as exc:
        typer.echo(str(exc), err=True)
        return 1
    try:
        await gateway.start()
    except CatalogError as exc:
        typer.echo(f"cannot read the Applications: {exc}", err=True)
        for sock in sockets:
            sock.close()
        return 1
    for listener, sock in zip(listeners, sockets, strict=True):
        host, port = sock.getsockname()[:2]
        log.info("listening", listener=listener.name, url=f"http://{host}:{port}")
    try:
        return await serve(listeners, sockets)
    finally:
        await gateway.stop()
