"""The event ingress assembled: the catalog of Applications, the event log (embedded SQLite or NATS JetStream),
the delivery process (the Subscriptions and their sinks: events/delivery_process.py), and the two listeners
(HTTPS ingress asking for client certificates; health and metrics)."""

from __future__ import annotations

from collections.abc import Sequence

from dataplane.catalog.sources import open_catalog_for
from dataplane.health import HealthApp
from dataplane.serving import Listener
from dataplane.tls import requesting_client_certificates, serving_certificate, serving_hostnames
from events.delivery_process import DeliveryProcess
from events.ingress import Ingress
from events.settings import EventsSettings
from events.store.base import EventLog
from events.store.sqlite import SqliteLog

LOG_FILE = "events.sqlite3"


class EventsConfigurationError(Exception):
    """The ingress cannot start with these settings; the message says what to change."""


def open_log(settings: EventsSettings) -> EventLog:
    if settings.bus == "nats":
        # Imported only when chosen: the NATS client (and aiohttp under it) costs every other process half a second.
        from events.store.nats import NatsLog  # noqa: PLC0415 - see above

        return NatsLog(settings.nats_url)
    # The log holds applications' events: readable by this process's user only, whatever the umask.
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)
    return SqliteLog(settings.data_dir / LOG_FILE)


class EventsService:
    def __init__(self, settings: EventsSettings, *, delivery_arguments: Sequence[str] = ()) -> None:
        """``delivery_arguments``: what the delivery process's command needs beyond the environment."""
        self.settings = settings
        self.catalog = open_catalog_for(settings)
        self.log = open_log(settings)
        self.delivery = DeliveryProcess(delivery_arguments)
        if isinstance(self.log, SqliteLog):
            self.log.on_append = self.delivery.appended
        self.ingress = Ingress(self.catalog, self.log, settings)
        self._started = False

    def listeners(self) -> list[Listener]:
        settings = self.settings
        return [
            Listener("event ingress", self.ingress, settings.host, settings.port, tls=self._tls()),
            Listener(
                "health and metrics listener",
                HealthApp(self._ready, more_metrics=self.delivery.metrics),
                settings.host,
                settings.api_port,
            ),
        ]

    def _tls(self) -> dict[str, object]:
        settings = self.settings
        if not settings.ca_file.is_file():
            raise EventsConfigurationError(
                f"the CA file {settings.ca_file} does not exist: connect the runtime's agent first (it stores the"
                " CA there) or set EVENTS_CA_FILE"
            )
        if (settings.tls_cert_file is None) != (settings.tls_key_file is None):
            raise EventsConfigurationError(
                "set both EVENTS_TLS_CERT_FILE and EVENTS_TLS_KEY_FILE, or neither"
            )
        if settings.tls_cert_file is not None and settings.tls_key_file is not None:
            certificate, key = settings.tls_cert_file, settings.tls_key_file
        else:
            hostnames = [*serving_hostnames(settings.host), *settings.tls_hostnames]
            generated = serving_certificate(settings.data_dir / "tls", hostnames)
            certificate, key = generated.certificate, generated.key
        return requesting_client_certificates(certificate, key, settings.ca_file)

    def _ready(self) -> bool:
        return self._started and self.catalog.ready

    async def start(self) -> None:
        await self.catalog.start()
        # The log first: its schema exists before the delivery process opens the file.
        await self.log.start()
        await self.delivery.start()
        self._started = True

    async def stop(self) -> None:
        self._started = False
        await self.delivery.stop()
        await self.log.stop()
        await self.catalog.stop()
