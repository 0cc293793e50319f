"""The ``compass-events`` command: ``serve`` runs the event ingress and the delivery until SIGTERM or Ctrl-C;
``dead-letters`` lists the events a subscription gave up on. ``deliver`` is the delivery process that ``serve``
starts (hidden: it needs the socket ``serve`` hands it).

Settings come from the environment (``EVENTS_*``) and the directory ``--config-dir`` (or ``EVENTS_CONFIG_DIR``),
see ``events.settings``. Exit codes: 0 stopped cleanly, 1 failed to start or serve, 2 the settings are wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import uvloop

from dataplane.catalog.base import CatalogError
from dataplane.cli import fail, load_settings, version_option
from dataplane.serving import run_service
from events.app import EventsConfigurationError, EventsService, open_log
from events.delivery_process import DeliveryNotStarted, run_delivery
from events.model import DeadLetter
from events.settings import EventsSettings
from events.store.base import StoreUnavailable

# Plain help: typer's rich panels print "<bool>" after every flag, as if it took a value.
app = typer.Typer(
    help="The pycompass event ingress: applications send events over mTLS, subscribers receive them.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ConfigDir = Annotated[
    Path | None,
    typer.Option("--config-dir", help="Secret-like directory, a file per setting (EVENTS_CONFIG_DIR)."),
]


@app.callback()
def main(_version: Annotated[bool, version_option("compass-events")] = False) -> None:
    """Run ``compass-events serve``; settings are EVENTS_* environment variables."""


def _settings(config_dir: Path | None) -> EventsSettings:
    return load_settings(lambda: EventsSettings.load(config_dir), log_level_variable="EVENTS_LOG_LEVEL")


@app.command(name="serve")
def serve_command(config_dir: ConfigDir = None) -> None:
    """Serve the HTTPS ingress and the health and metrics listener, and deliver to the Subscriptions' sinks."""
    status = uvloop.run(_serve(_settings(config_dir), config_dir))
    if status:
        raise typer.Exit(status)


async def _serve(settings: EventsSettings, config_dir: Path | None) -> int:
    service = EventsService(settings, delivery_arguments=_config_dir_argument(config_dir))
    try:
        listeners = service.listeners()
    except EventsConfigurationError as exc:
        typer.echo(str(exc), err=True)
        return 2
    return await run_service(
        service, listeners, start_errors=(CatalogError, StoreUnavailable, DeliveryNotStarted, OSError)
    )


def _config_dir_argument(config_dir: Path | None) -> list[str]:
    return ["--config-dir", str(config_dir.resolve())] if config_dir is not None else []


@app.command(name="deliver", hidden=True)
def deliver_command(
    channel_fd: Annotated[int, typer.Option(help="The socket serve handed over.")],
    config_dir: ConfigDir = None,
) -> None:
    """The delivery process: run by ``serve``, not by hand."""
    settings = _settings(config_dir)
    try:
        uvloop.run(run_delivery(settings, channel_fd, open_log(settings)))
    except (StoreUnavailable, OSError) as exc:  # serve reports that it did not get ready, and stops
        fail(f"the delivery cannot run: {exc}")


@app.command(name="dead-letters")
def dead_letters_command(
    subscription: Annotated[
        str | None, typer.Option(help="Only this subscription's (namespace/name).")
    ] = None,
    config_dir: ConfigDir = None,
) -> None:
    """One JSON line per event a subscription gave up on: subscription, sequence, attempts, reason, the event."""
    settings = _settings(config_dir)
    try:
        letters = uvloop.run(_dead_letters(settings, subscription))
    except StoreUnavailable as exc:
        fail(f"cannot read the event log: {exc}")
    for letter in letters:
        event = letter.event
        typer.echo(
            json.dumps(
                {
                    "subscription": letter.subscription,
                    "sequence": letter.sequence,
                    "attempts": letter.attempts,
                    "reason": letter.reason,
                    "dead_at": letter.dead_at,
                    "event": {"id": event.id, "source": event.source, "type": event.type, "time": event.time},
                }
            )
        )


async def _dead_letters(settings: EventsSettings, subscription: str | None) -> list[DeadLetter]:
    event_log = open_log(settings)
    await event_log.start()
    try:
        return await event_log.dead_letters(subscription)
    finally:
        await event_log.stop()


if __name__ == "__main__":  # the delivery process: python -m events.cli deliver ...
    app()
