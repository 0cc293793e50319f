"""The gateway assembled: one catalog, one upstream client, one authenticator, and the three listeners."""

from __future__ import annotations

from dataplane.catalog.base import Catalog
from dataplane.catalog.sources import open_catalog_for
from dataplane.health import HealthApp
from dataplane.serving import Listener
from gateway.auth import Authenticator
from gateway.proxy import Proxy
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream


class Gateway:
    def __init__(self, settings: GatewaySettings, catalog: Catalog | None = None) -> None:
        self.settings = settings
        self.catalog = catalog or open_catalog_for(settings)
        self.upstream = Upstream(
            max_connections=settings.max_connections, trusted_ca_file=settings.trusted_ca_file
        )
        self.authenticator = Authenticator(
            self.upstream,
            oauth_default_ttl=settings.oauth_default_ttl,
            csrf_token_ttl=settings.csrf_token_ttl,
            cache_size=settings.token_cache_size,
        )

    def proxy(self, *, compass: bool) -> Proxy:
        return Proxy(
            catalog=self.catalog,
            upstream=self.upstream,
            authenticator=self.authenticator,
            compass=compass,
            proxy_timeout=self.settings.proxy_timeout,
            retry_body_limit=self.settings.retry_body_limit,
        )

    def listeners(self) -> list[Listener]:
        host = self.settings.host
        return [
            Listener("standalone proxy", self.proxy(compass=False), host, self.settings.port, proxy=True),
            Listener("Compass proxy", self.proxy(compass=True), host, self.settings.compass_port, proxy=True),
            Listener(
                "health and metrics listener",
                HealthApp(lambda: self.catalog.ready),
                host,
                self.settings.api_port,
            ),
        ]

    async def start(self) -> None:
        await self.catalog.start()
        await self.upstream.start()

    async def stop(self) -> None:
        await self.upstream.close()
        await self.catalog.stop()
