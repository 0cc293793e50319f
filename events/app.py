"""The event ingress assembled: the catalog of Applications, the event log (embedded SQLite or NATS JetStream),
the Subscriptions, the delivery, and the two listeners (HTTPS ingress asking for client certificates; health
and metrics)."""

from __future__ import annotations

import asyncio

import structlog

from dataplane.catalog.base import Catalog
from dataplane.catalog.sources import open_catalog_for
from dataplane.health import HealthApp
from dataplane.serving import Listener
from dataplane.tls import requesting_client_certificates, serving_certificate, serving_hostnames
from events.delivery import Delivery
from events.ingress import Ingress
from events.settings import EventsSettings
from events.store.base import EventLog
from events.store.nats import NatsLog
from events.store.sqlite import SqliteLog
from events.subscriptions.base import SubscriptionSource
from events.subscriptions.sources import open_subscriptions

LOG_FILE = "events.sqlite3"
# How long start-up waits for the Subscriptions' first list (Kubernetes) before serving anyway.
FIRST_LIST_SECONDS = 10.0

log = structlog.get_logger("events")


class EventsConfigurationError(Exception):
    """The ingress cannot start with these settings; the message says what to change."""


def open_log(settings: EventsSettings) -> EventLog:
    if settings.bus == "nats":
        return NatsLog(settings.nats_url)
    # The log holds applications' events: readable by this process's user only, whatever the umask.
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)
    return SqliteLog(settings.data_dir / LOG_FILE)


class EventsService:
    def __init__(
        self,
        settings: EventsSettings,
        *,
        catalog: Catalog | None = None,
        log: EventLog | None = None,
        subscriptions: SubscriptionSource | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog or open_catalog_for(settings)
        self.log = log or open_log(settings)
        self.subscriptions = subscriptions or open_subscriptions(
            settings.source,
            manifest_dir=settings.manifest_dir,
            kubeconfig=settings.kubeconfig,
            kube_context=settings.kube_context,
        )
        self.delivery = Delivery.from_settings(self.log, self.subscriptions, settings)
        self.ingress = Ingress(self.catalog, self.log, settings)
        self._started = False

    def listeners(self) -> list[Listener]:
        settings = self.settings
        return [
            Listener("event ingress", self.ingress, settings.host, settings.port, tls=self._tls()),
            Listener("health and metrics listener", HealthApp(self._ready), settings.host, settings.api_port),
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
        return self._started and self.catalog.ready and self.subscriptions.ready

    async def start(self) -> None:
        await self.catalog.start()
        await self.log.start()
        await self.subscriptions.start()
        await self._first_subscriptions()
        await self.delivery.start()
        self._started = True

    async def _first_subscriptions(self) -> None:
        """Waits (bounded) for the Subscriptions' first list, so that the delivery gives every Subscription that
        exists at start its cursor before the ingress acknowledges anything; one listed later is a Subscription
        added later, and receives later events."""
        deadline = asyncio.get_running_loop().time() + FIRST_LIST_SECONDS
        # The sources expose a flag, not an event: a start-up wait of at most a few seconds polls it.
        while not self.subscriptions.ready and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if not self.subscriptions.ready:
            log.warning("subscriptions_not_listed_at_start", waited_seconds=FIRST_LIST_SECONDS)

    async def stop(self) -> None:
        self._started = False
        await self.delivery.stop()
        await self.subscriptions.stop()
        await self.log.stop()
        await self.catalog.stop()
