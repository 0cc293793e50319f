"""The system auth domain's own inputs: what the operator configured for the one-time tokens it issues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from kernel.settings import Settings


@dataclass(frozen=True)
class TokenPolicy:
    """How long a runtime's and an application's one-time token live, and where they are redeemed: the GraphQL
    Connector, or the REST API's info URL (``legacy_connector_url``, without the token)."""

    runtime_ttl: timedelta
    application_ttl: timedelta
    connector_url: str
    legacy_connector_url: str

    @classmethod
    def of(cls, settings: Settings, *, legacy_connector_url: str | None = None) -> TokenPolicy:
        """The settings' lifetimes and URLs; ``legacy_connector_url`` for another info URL than the adapter's
        (a Remote Environment's)."""
        return cls(
            runtime_ttl=timedelta(seconds=settings.runtime_token_ttl_seconds),
            application_ttl=timedelta(seconds=settings.application_token_ttl_seconds),
            connector_url=settings.connector_url,
            legacy_connector_url=legacy_connector_url or settings.legacy_connector_url,
        )
