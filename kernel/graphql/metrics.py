"""Prometheus metrics of GraphQL operations: a strawberry extension, apart from `kernel.observability.metrics` so
that what counts tokens and certificates (the audit trail, the CLI) does not import strawberry."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterator
from typing import Final, Literal

from graphql import GraphQLError, OperationDefinitionNode
from prometheus_client import Counter, Histogram
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from kernel.graphql.errors import error_code
from kernel.observability.metrics import REGISTRY

Api = Literal["director", "connector"]

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

_APIS: Final[frozenset[str]] = frozenset({"director", "connector"})

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
