from __future__ import annotations

from enum import Enum

import strawberry

from director.graphql.scalars import Timestamp
from director.systemauth.service import IssuedToken


@strawberry.enum(description="Whom a one-time token connects.")
class OneTimeTokenType(Enum):
    Runtime = "Runtime"
    Application = "Application"


def _fields(issued: IssuedToken) -> dict[str, object]:
    return {
        "token": issued.token,
        "connector_url": issued.connector_url,
        "used": False,
        "expires_at": issued.record.expires_at,
        "created_at": issued.record.created_at,
        "used_at": None,
        "raw": issued.raw,
        "raw_encoded": issued.raw_encoded,
        "type": OneTimeTokenType(issued.record.type),
    }


@strawberry.interface(description="A single-use token redeemed at the Connector.")
class OneTimeToken:
    token: str
    connector_url: str = strawberry.field(name="connectorURL")
    used: bool
    expires_at: Timestamp
    created_at: Timestamp | None
    used_at: Timestamp | None
    raw: str | None
    raw_encoded: str | None
    type: OneTimeTokenType | None


@strawberry.type(description="A single-use token a runtime redeems at the Connector.")
class OneTimeTokenForRuntime(OneTimeToken):
    @classmethod
    def of(cls, issued: IssuedToken) -> OneTimeTokenForRuntime:
        return cls(**_fields(issued))  # type: ignore[arg-type]


@strawberry.type(description="A single-use token an application redeems at the Connector.")
class OneTimeTokenForApplication(OneTimeToken):
    legacy_connector_url: str = strawberry.field(name="legacyConnectorURL")
    scenario_groups: list[str | None] | None = strawberry.field(
        description='The scenario groups of the request (its scenario_groups header, separated by ", "), which '
        "the ContainsScenarioGroups formation constraint checks."
    )

    @classmethod
    def of(cls, issued: IssuedToken) -> OneTimeTokenForApplication:
        return cls(
            **_fields(issued),  # type: ignore[arg-type]
            legacy_connector_url=issued.legacy_connector_url,
            scenario_groups=list(issued.scenario_groups),
        )
