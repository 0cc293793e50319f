"""Prometheus metrics: GraphQL operations and errors are counted with bounded, meaningful labels."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import strawberry
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.extensions import SchemaExtension

from kernel.errors import NotFoundError
from kernel.graphql.metrics import GraphQLOperationMetrics
from kernel.observability.metrics import REGISTRY, HttpMetricsMiddleware, metrics_endpoint


class _StampCodes(SchemaExtension):
    """Stands in for the ErrorCodes extension: stamps ``extensions["code"]`` after the operation."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in (result.errors if result is not None else None) or ():
            error.extensions = {**(error.extensions or {}), "code": "STAMPED"}


@strawberry.type
class _Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"

    @strawberry.field
    def missing(self) -> str:
        raise NotFoundError("no such thing")

    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError("boom")


def _app(*extensions: type[SchemaExtension]) -> Starlette:
    schema = strawberry.Schema(
        query=_Query,
        extensions=[GraphQLOperationMetrics.for_api("director"), *extensions],
    )
    return Starlette(
        routes=[
            Route("/director/graphql", GraphQL(schema)),
            Route("/metrics", metrics_endpoint),
            Route("/{app}/v1/metadata/services", lambda request: PlainTextResponse("ok")),
        ],
        middleware=[Middleware(HttpMetricsMiddleware)],
    )


def _client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with _client(_app()) as c:
        yield c


def _sample(name: str, **labels: str) -> float:
    """Current value from REGISTRY; 0 if the series does not exist yet (the registry is process-wide)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _query(client: httpx.AsyncClient, query: str) -> httpx.Response:
    return await client.post("/director/graphql", json={"query": query})


async def test_metrics_endpoint_exposes_operation_histogram_with_operation_name(
    client: httpx.AsyncClient,
) -> None:
    await _query(client, "query HistogramProbe { hello }")

    response = await client.get("/metrics")

    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    histogram = families["compass_graphql_operation_duration_seconds"]
    assert {
        (sample.labels["api"], sample.labels["operation"])
        for sample in histogram.samples
        if sample.name.endswith("_count")
    } >= {("director", "HistogramProbe")}


async def test_metrics_endpoint_uses_prometheus_content_type(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")

    assert response.headers["content-type"].startswith("text/plain; version=")


async def test_named_operation_is_counted(client: httpx.AsyncClient) -> None:
    before = _sample("compass_graphql_operations_total", api="director", operation="CountMe")

    await _query(client, "query CountMe { hello }")

    assert _sample("compass_graphql_operations_total", api="director", operation="CountMe") == before + 1


async def test_unnamed_operation_is_labelled_anonymous(client: httpx.AsyncClient) -> None:
    before = _sample("compass_graphql_operations_total", api="director", operation="anonymous")

    await _query(client, "{ hello }")

    assert _sample("compass_graphql_operations_total", api="director", operation="anonymous") == before + 1


async def test_operation_name_not_in_document_is_labelled_anonymous(client: httpx.AsyncClient) -> None:
    before = _sample("compass_graphql_operations_total", api="director", operation="anonymous")

    await client.post(
        "/director/graphql", json={"query": "query Real { hello }", "operationName": "Invented"}
    )

    assert _sample("compass_graphql_operations_total", api="director", operation="anonymous") == before + 1
    assert _sample("compass_graphql_operations_total", api="director", operation="Invented") == 0


async def test_errors_counter_uses_code_of_original_exception(client: httpx.AsyncClient) -> None:
    before = _sample("compass_graphql_errors_total", api="director", code="NOT_FOUND")

    await _query(client, "query Missing { missing }")

    assert _sample("compass_graphql_errors_total", api="director", code="NOT_FOUND") == before + 1


async def test_errors_counter_uses_internal_for_exception_without_code(client: httpx.AsyncClient) -> None:
    before = _sample("compass_graphql_errors_total", api="director", code="INTERNAL")

    await _query(client, "query Broken { broken }")

    assert _sample("compass_graphql_errors_total", api="director", code="INTERNAL") == before + 1


async def test_errors_counter_uses_validation_code_for_invalid_query(client: httpx.AsyncClient) -> None:
    before = _sample("compass_graphql_errors_total", api="director", code="GRAPHQL_VALIDATION_FAILED")

    await _query(client, "query Bad { noSuchField }")

    assert (
        _sample("compass_graphql_errors_total", api="director", code="GRAPHQL_VALIDATION_FAILED")
        == before + 1
    )


async def test_errors_counter_prefers_code_already_stamped_by_earlier_exiting_extension() -> None:
    # Hooks exit in reverse order, so an extension listed *after* ours stamps its code first.
    before = _sample("compass_graphql_errors_total", api="director", code="STAMPED")

    async with _client(_app(_StampCodes)) as client:
        await _query(client, "query Broken { broken }")

    assert _sample("compass_graphql_errors_total", api="director", code="STAMPED") == before + 1


async def test_http_requests_counted_by_method_known_path_and_status(client: httpx.AsyncClient) -> None:
    labels = {"method": "POST", "path": "/director/graphql", "status": "200"}
    before = _sample("compass_http_requests_total", **labels)

    await _query(client, "{ hello }")

    assert _sample("compass_http_requests_total", **labels) == before + 1


async def test_a_request_whose_app_raises_before_answering_is_counted_as_500() -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    labels = {"method": "GET", "path": "/healthz", "status": "500"}
    before = _sample("compass_http_requests_total", **labels)

    async with _client(HttpMetricsMiddleware(failing)) as client:
        with pytest.raises(RuntimeError, match="boom"):
            await client.get("/healthz")

    assert _sample("compass_http_requests_total", **labels) == before + 1


async def test_http_requests_to_unknown_paths_collapse_to_other(client: httpx.AsyncClient) -> None:
    before = _sample("compass_http_requests_total", method="GET", path="other", status="404")

    await client.get("/somewhere/else")

    assert _sample("compass_http_requests_total", method="GET", path="other", status="404") == before + 1


async def test_http_requests_to_a_route_with_parameters_are_labelled_with_its_template(
    client: httpx.AsyncClient,
) -> None:
    labels = {"method": "GET", "path": "/{app}/v1/metadata/services", "status": "200"}
    before = _sample("compass_http_requests_total", **labels)

    await client.get("/shop-1/v1/metadata/services")
    await client.get("/shop-2/v1/metadata/services")

    assert _sample("compass_http_requests_total", **labels) == before + 2


async def test_apps_can_be_built_repeatedly_against_the_module_registry() -> None:
    for _ in range(2):
        async with _client(_app()) as client:
            response = await _query(client, "{ hello }")
        assert response.json() == {"data": {"hello": "world"}}


def test_unknown_api_label_is_rejected() -> None:
    with pytest.raises(ValueError, match="api must be one of"):
        GraphQLOperationMetrics(api="elsewhere")  # type: ignore[arg-type]
