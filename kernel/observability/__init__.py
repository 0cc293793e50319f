"""Observability for pycompass: structured logs, request ids and Prometheus metrics (GraphQL operations' in
`kernel.graphql.metrics`).

Kept in one package so the Director, Connector and their tests wire the same pieces the same way.
"""

from __future__ import annotations

from kernel.observability.logging import configure_logging
from kernel.observability.metrics import (
    REGISTRY,
    HttpMetricsMiddleware,
    metrics_endpoint,
)
from kernel.observability.request_context import RequestContextMiddleware, request_id

__all__ = [
    "REGISTRY",
    "HttpMetricsMiddleware",
    "RequestContextMiddleware",
    "configure_logging",
    "metrics_endpoint",
    "request_id",
]
