"""Prometheus metrics for the HTTP edge and the server's work (GraphQL operations: `kernel.graphql.metrics`).

Everything lives in a private ``REGISTRY`` rather than prometheus-client's global one, so building the
app repeatedly (tests, app factories) never trips "Duplicated timeseries" errors.

Under ``compass serve --workers N`` every process counts into its own files in ``PROMETHEUS_MULTIPROC_DIR``
(prometheus-client's multiprocess mode, chosen when the variable is set before the import) and ``/metrics``
answers the sum over all of them, whichever worker the scrape reaches.
"""

from __future__ import annotations

import os
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from kernel.asgi import HttpMiddleware, ResponseStatus

REGISTRY: Final = CollectorRegistry(auto_describe=True)
#: prometheus-client decided this when it was imported, from the same variable.
SHARED_ACROSS_PROCESSES: Final = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

HTTP_REQUESTS_TOTAL: Final = Counter(
    "compass_http_requests",
    "HTTP requests handled, by method, bounded route path and status code.",
    ("method", "path", "status"),
    registry=REGISTRY,
)
RUNTIME_POLLS_TOTAL: Final = Counter(
    "compass_runtime_polls_total",
    "Runtime reads of the Director, by how they were answered: not_modified (304), cached, executed.",
    ["outcome"],
    registry=REGISTRY,
)
RUNTIME_ANSWER_ENCODINGS_TOTAL: Final = Counter(
    "compass_runtime_answer_encodings_total",
    "Representations of kept runtime answers made, once each: gzip (compressed) or identity (decompressed).",
    ["encoding"],
    registry=REGISTRY,
)
TRANSACTION_RETRIES_TOTAL: Final = Counter(
    "compass_transaction_retries",
    "Director mutations run again because PostgreSQL aborted their transaction, by reason: deadlock, serialization.",
    ["reason"],
    registry=REGISTRY,
)
TOKENS_TOTAL: Final = Counter(
    "compass_tokens_total", "One-time tokens issued, redeemed and refused.", ["event"], registry=REGISTRY
)
CERTIFICATES_TOTAL: Final = Counter(
    "compass_certificates_total",
    "Client certificates issued, renewed, revoked and refused.",
    ["event"],
    registry=REGISTRY,
)
CONNECTIONS_CLOSED_TOTAL: Final = Counter(
    "compass_http_connections_closed",
    "Client connections the server closed: header_timeout, body_timeout, connection_limit.",
    ["reason"],
    registry=REGISTRY,
)
RUNTIME_CHANGE_STREAMS: Final = Gauge(
    "compass_runtime_change_streams",
    "Runtimes' open change streams (push, GET /director/changes).",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
WATCH_EVENTS_TOTAL: Final = Counter(
    "compass_watch_events_total",
    'Watch events runtimes posted (POST /v2/<module>/event), by module ("other" for a module no consumer '
    "registered, so that callers cannot grow the series) and outcome: stored, or why it was refused.",
    ["module", "outcome"],
    registry=REGISTRY,
)
CERTIFICATES_EXPIRING_SOON: Final = Gauge(
    "compass_certificates_expiring_soon",
    "Unrevoked client certificates with less than 30% of their validity left (their agents should renew).",
    registry=REGISTRY,
    # Every worker counts the same rows: the latest count is the answer, not their sum.
    multiprocess_mode="mostrecent",
)


def count_lifecycle_event(event: str) -> None:
    """Audit events (``token_issued``, ``certificate_renewed``...) are the one source of these counters."""
    kind, _, what = event.partition("_")
    if kind == "token":
        TOKENS_TOTAL.labels(event=what).inc()
    elif kind == "certificate":
        CERTIFICATES_TOTAL.labels(event=what).inc()


#: Fixed paths keep their label when a middleware answers before routing (a refused credential); past routing,
#: every request is labelled with its route's template.
_KNOWN_PATHS: Final[frozenset[str]] = frozenset(
    {
        "/director/graphql",
        "/connector/graphql",
        "/connector/crl",
        "/healthz",
        "/readyz",
        "/metrics",
        # The REST API of the tutorials (compass/adapter/).
        "/v1/health",
        "/v1/applications/signingRequests/info",
        "/v1/applications/certificates",
        "/v1/applications/certificates/renewals",
        "/v1/applications/certificates/revocations",
        "/v1/applications/management/info",
    }
)
_OTHER_PATH: Final = "other"

#: The method is client-controlled too; anything outside the standard set becomes "OTHER".
_KNOWN_METHODS: Final[frozenset[str]] = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)
_OTHER_METHOD: Final = "OTHER"


def _path_label(scope: Scope) -> str:
    """The matched route's template (``/{app}/v1/metadata/services``), so caller-chosen segments and path
    scans cannot explode the series count; anything no route matched is "other"."""
    route = scope.get("route")
    if isinstance(route, BaseRoute):
        return str(getattr(route, "path", _OTHER_PATH))
    path = scope.get("path", "")
    return path if path in _KNOWN_PATHS else _OTHER_PATH


def _method_label(method: str) -> str:
    """Collapse non-standard methods for the same reason as paths."""
    return method if method in _KNOWN_METHODS else _OTHER_METHOD


class HttpMetricsMiddleware(HttpMiddleware):
    """Counts HTTP requests by method, bounded path and status."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = ResponseStatus(send)
        try:
            await self.app(scope, receive, response)
        finally:
            HTTP_REQUESTS_TOTAL.labels(
                method=_method_label(scope.get("method", "")),
                path=_path_label(scope),
                # A server error if the app raised before starting a response.
                status=str(response.status or 500),
            ).inc()


async def metrics_endpoint(request: Request) -> Response:  # noqa: ARG001 - starlette's endpoint signature
    """Prometheus scrape target (mount at ``/metrics``): this process's ``REGISTRY``, or every worker's."""
    registry = REGISTRY
    if SHARED_ACROSS_PROCESSES:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
