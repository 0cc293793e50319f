"""The system auth domain's own inputs: what the operator configured for the one-time tokens it issues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class TokenPolicy:
    """How long a runtime's and an application's one-time token live, and where they are redeemed: the GraphQL
    Connector, or the REST API's info URL (``legacy_connector_url``, without the token)."""

    runtime_ttl: timedelta
    application_ttl: timedelta
    connector_url: str
    legacy_connector_url: str
