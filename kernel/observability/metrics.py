"""Prometheus metrics for the HTTP edge and GraphQL operations.

Everything lives in a private ``REGISTRY`` rather than prometheus-client's global one, so building the
app repeatedly (tests, app factories) never trips "Duplicated timeseries" errors.

Under ``compass serve --workers N`` every process counts into its own files in ``PROMETHEUS_MULTIPROC_DIR``
(prometheus-client's multiprocess mode, chosen when the variable is set before the import) and ``/metrics``
answers the sum over all of them, whichever worker the scrape reaches.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Final, Literal

from graphql import GraphQLError, OperationDefinitionNode
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from kernel.asgi import HttpMiddleware, ResponseStatus
from kernel.graphql.errors import error_code

Api = Literal["director", "connector"]

REGISTRY: Final = CollectorRegistry(auto_describe=True)
#: prometheus-client decided this when it was imported, from the same variable.
SHARED_ACROSS_PROCESSES: Final = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

HTTP_REQUESTS_TOTAL: Final = Counter(
    "compass_http_requests",
    "HTTP requests handled, by method, bounded route path and status code.",
    ("method", "path", "status"),
    registry=REGISTRY,
)
GRAPHQL_OPERATION_DURATION_SECONDS: Final = Histogram(
    "compass_graphql_operation_duration_seconds",
    "Wall time of a whole GraphQL operation (parse, validate, execute).",
    ("api", "operation"),
    registry=REGISTRY,
)
GRAPHQL_OPERATIONS_TOTAL: Final = Counter(
    "compass_graphql_operations",
    "GraphQL operations executed, by API and operation name.",
    ("api", "operation"),
    registry=REGISTRY,
)
GRAPHQL_ERRORS_TOTAL: Final = Counter(
    "compass_graphql_errors",
    "GraphQL errors returned, by API and stable extensions.code.",
    ("api", "code"),
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



_APIS: Final[frozenset[str]] = frozenset({"director", "connector"})

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

#: The operation label comes from the client, so only a GraphQL Name of bounded length is accepted.
_GRAPHQL_NAME: Final = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
_ANONYMOUS: Final = "anonymous"
_OTHER_OPERATION: Final = "other"
DEFAULT_MAX_OPERATION_NAMES: Final = 100


class OperationNames:
    """The operation names with a label of their own: the first ``limit`` distinct ones of valid documents.

    Operation names are the client's choice: 3,000 unauthenticated requests, each with a new name, grew
    ``/metrics`` from 6 KB to 11.4 MB. A valid document is enough to mint a name (the Connector answers
    callers without credentials), so the bound is a count; names past it, and names of documents that fail
    validation, are counted as "other".
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._labelled: set[str] = set()

    def label(self, name: str) -> str:
        if name in self._labelled:
            return name
        if len(self._labelled) >= self.limit:
            return _OTHER_OPERATION
        self._labelled.add(name)
        return name


_DEFAULT_NAMES: Final = OperationNames(DEFAULT_MAX_OPERATION_NAMES)


def _operation_label(context: ExecutionContext) -> str:
    """The executed operation's name, or "anonymous"; never a free-form client string.

    A requested ``operationName`` only counts if the parsed document defines it, so bogus names in
    the request body cannot mint new label values.
    """
    name = context.operation_name
    document = context.graphql_document
    if not isinstance(name, str) or document is None:
        return _ANONYMOUS
    defined = {
        definition.name.value
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode) and definition.name is not None
    }
    if name not in defined or not _GRAPHQL_NAME.fullmatch(name):
        return _ANONYMOUS
    return name


class GraphQLOperationMetrics(SchemaExtension):
    """Times each GraphQL operation and counts it and its errors, labelled by API.

    Register it as a factory, ``extensions=[GraphQLOperationMetrics.for_api("director")]`` (or
    ``lambda: GraphQLOperationMetrics(api="director")``): strawberry 0.341 deprecates extension
    *instances* (DeprecationWarning, an error under our pytest config) because one instance would be
    shared, and its ``execution_context`` overwritten, across concurrent requests.
    """

    def __init__(
        self,
        *,
        api: Api,
        names: OperationNames | None = None,
        execution_context: ExecutionContext | None = None,
    ) -> None:
        if api not in _APIS:
            raise ValueError(f"api must be one of {sorted(_APIS)}, got {api!r}")
        self.api: Api = api
        self.names = names if names is not None else _DEFAULT_NAMES
        self.validated = False
        if execution_context is not None:
            self.execution_context = execution_context

    @classmethod
    def for_api(
        cls, api: Api, *, max_operation_names: int = DEFAULT_MAX_OPERATION_NAMES
    ) -> Callable[[], GraphQLOperationMetrics]:
        """A per-request factory for ``strawberry.Schema(extensions=[...])``; its requests share one allowance
        of ``max_operation_names`` labelled names."""
        return functools.partial(cls, api=api, names=OperationNames(max_operation_names))

    def on_validate(self) -> Iterator[None]:
        yield
        self.validated = not self.execution_context.pre_execution_errors

    def on_operation(self) -> Iterator[None]:
        """Measure parse+validate+execute, then record the operation and every error its client saw.

        A document that does not parse has no result: its error is raised (kernel.graphql.documents), and counted
        here. Each error is counted under ``error_code``, the code ErrorCodes gives it (and sets, when it runs
        inside this hook, as ``shared_extensions`` registers them).
        """
        # Captured before yielding: the context is per request even if someone shares an instance.
        context = self.execution_context
        started = time.perf_counter()
        raised: list[GraphQLError] = []
        try:
            yield
        except GraphQLError as failure:
            raised.append(failure)
            raise
        finally:
            elapsed = time.perf_counter() - started
            operation = _operation_label(context)
            if operation != _ANONYMOUS:
                operation = self.names.label(operation) if self.validated else _OTHER_OPERATION
            GRAPHQL_OPERATION_DURATION_SECONDS.labels(api=self.api, operation=operation).observe(elapsed)
            GRAPHQL_OPERATIONS_TOTAL.labels(api=self.api, operation=operation).inc()
            result = context.result
            errors = raised or (getattr(result, "errors", None) if result is not None else None) or ()
            for error in errors:
                GRAPHQL_ERRORS_TOTAL.labels(api=self.api, code=error_code(error)).inc()


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
