"""Health checks: Compass declares them but records none (its resolver answers an empty page), and nothing in
pycompass records any either; the field exists so that Compass's clients get Compass's answer."""

from __future__ import annotations

from enum import Enum

import strawberry

from director import pagination
from director.graphql.application.types import After, First
from director.graphql.pagination import Page
from director.graphql.permissions import scoped
from director.graphql.scalars import Timestamp
from kernel.principal import Scope


@strawberry.enum(description="What a health check is about.")
class HealthCheckType(Enum):
    MANAGEMENT_PLANE_APPLICATION_HEALTHCHECK = "MANAGEMENT_PLANE_APPLICATION_HEALTHCHECK"


@strawberry.enum(description="The outcome of a health check.")
class HealthCheckStatusCondition(Enum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@strawberry.type(description="One health check of an object (none are recorded: see healthChecks).")
class HealthCheck:
    type: HealthCheckType
    condition: HealthCheckStatusCondition
    origin: strawberry.ID | None
    message: str | None
    timestamp: Timestamp


@strawberry.type(description="A page of health checks.")
class HealthCheckPage(Page[HealthCheck]):
    pass


@strawberry.type
class HealthCheckQueries:
    @strawberry.field(
        description="Health checks: always an empty page, as Compass answers (it records none).",
        extensions=scoped(Scope.HEALTH_CHECKS_READ),
    )
    def health_checks(
        self,
        types: list[HealthCheckType] | None = None,  # noqa: ARG002 - Compass's filter, over nothing
        origin: strawberry.ID | None = None,  # noqa: ARG002 - Compass's filter, over nothing
        first: First = 200,
        after: After = None,
    ) -> HealthCheckPage:
        request = pagination.PageRequest.of(first, after)
        return HealthCheckPage.of(pagination.Page([], 0, request.offset), lambda check: check)
