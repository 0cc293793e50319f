"""The ``compass-watcher`` command: ``serve`` runs the Runtime Watcher's webhook until SIGTERM or Ctrl-C.

Settings come from the environment (``WATCHER_*``, and ``AGENT_STATE_DIR`` as the agent reads it) and the
directory ``--config-dir`` (or ``WATCHER_CONFIG_DIR``), see ``watcher.settings``. Exit codes: 0 stopped cleanly,
1 failed to start or serve, 2 the settings are wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvloop

from dataplane.cli import load_settings, version_option
from dataplane.serving import run_service
from watcher.server import START_ERRORS, Watcher
from watcher.settings import WatcherSettings

# Plain help: typer's rich panels print "<bool>" after every flag, as if it took a value.
app = typer.Typer(
    help="The pycompass Runtime Watcher: tells the control plane when watched resources change.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.callback()
def main(_version: Annotated[bool, version_option("compass-watcher")] = False) -> None:
    """Run ``compass-watcher serve``; settings are WATCHER_* environment variables."""


@app.command(name="serve")
def serve_command(
    config_dir: Annotated[
        Path | None,
        typer.Option("--config-dir", help="Secret-like directory, a file per setting (WATCHER_CONFIG_DIR)."),
    ] = None,
) -> None:
    """Serve the admission webhook and the health and metrics listener, and deliver the events."""
    settings = load_settings(lambda: WatcherSettings.load(config_dir), log_level_variable="WATCHER_LOG_LEVEL")
    status = uvloop.run(_serve(settings))
    if status:
        raise typer.Exit(status)


async def _serve(settings: WatcherSettings) -> int:
    watcher = Watcher(settings)
    return await run_service(watcher, watcher.listeners(), start_errors=START_ERRORS)
