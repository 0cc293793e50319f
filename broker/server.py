"""``compass-broker serve``: the Open Service Broker API (``BROKER_HOST:BROKER_PORT``) and the health and metrics
listener (``BROKER_API_PORT``) in one process, over the catalog of Applications and the ApplicationMappings, the
service instances and bindings under ``BROKER_STATE_DIR`` and the Director, called with the agent's certificate."""

from __future__ import annotations

import asyncio

from broker.binding import Bindings
from broker.bindings import BindingStore
from broker.director import Director
from broker.instances import InstanceStore
from broker.osb import broker_app
from broker.provisioning import Provisioning
from broker.settings import BrokerSettings
from dataplane.catalog.base import CatalogError
from dataplane.catalog.sources import open_applications_for, open_mappings_for
from dataplane.control_plane import ControlPlaneCredentials
from dataplane.health import HealthApp
from dataplane.serving import Listener

# What keeps ``serve`` from starting: an unusable Kubernetes configuration, a state directory that cannot be read
# or holds a file that is not the instance or binding its name says.
START_ERRORS: tuple[type[Exception], ...] = (CatalogError, OSError, ValueError)


class Broker:
    """The ``dataplane.serving.Service`` of ``compass-broker serve``."""

    def __init__(self, settings: BrokerSettings) -> None:
        self.settings = settings
        # Applications only: the broker hands out the Director's credentials, never the agent's Secrets.
        self.applications = open_applications_for(settings)
        self.mappings = open_mappings_for(settings)
        self.instances = InstanceStore(settings.state_dir)
        self.binding_store = BindingStore(settings.state_dir)
        self.director = Director(ControlPlaneCredentials(settings.agent_state_dir))
        self.provisioning = Provisioning(
            self.applications, self.mappings, self.instances, self.binding_store, self.director
        )
        self.bindings = Bindings(self.provisioning, self.binding_store, events_url=settings.events_url)

    def listeners(self) -> list[Listener]:
        settings = self.settings
        app = broker_app(
            self.applications,
            self.mappings,
            self.provisioning,
            self.bindings,
            username=settings.username.get_secret_value(),
            password=settings.password.get_secret_value(),
        )
        return [
            Listener("Open Service Broker API", app, settings.host, settings.port),
            Listener("health and metrics listener", HealthApp(self.ready), settings.host, settings.api_port),
        ]

    async def start(self) -> None:
        await asyncio.to_thread(self.instances.load)
        await asyncio.to_thread(self.binding_store.load)
        await self.applications.start()
        await self.mappings.start()

    async def stop(self) -> None:
        await self.applications.stop()
        await self.mappings.stop()
        await self.director.aclose()

    def ready(self) -> bool:
        """Both sources answer from everything they read (Kubernetes: their first lists are in)."""
        return self.applications.ready and self.mappings.ready
