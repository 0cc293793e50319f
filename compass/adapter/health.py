"""The adapter's liveness probe, ``GET /v1/health`` (DATAPLANE.md D.3.1): 200 with an empty body, as Compass's
``pkg/health`` answers it, on both listeners and without credentials (its probes carry none)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HEALTH_PATH = "/v1/health"


async def health(_: Request) -> Response:
    return Response(status_code=200)


def route() -> Route:
    return Route(HEALTH_PATH, health, methods=["GET"])
