"""RequestContextMiddleware: request ids are trustworthy, correlated in logs, and echoed to the caller."""

from __future__ import annotations

import contextvars
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from structlog.testing import capture_logs

from kernel.observability.request_context import RequestContextMiddleware, request_id

_GENERATED_ID = re.compile(r"[0-9a-f]{32}")


async def _echo_context(request: Request) -> Response:
    """Reports what the endpoint can see, so tests observe the middleware from the inside."""
    return JSONResponse(
        {
            "contextvars_request_id": structlog.contextvars.get_contextvars().get("request_id"),
            "task_request_id": request_id(),
        }
    )


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


def _app() -> Starlette:
    return Starlette(
        routes=[
            Route("/context", _echo_context),
            Route("/teapot", lambda request: PlainTextResponse("short and stout", status_code=418)),
            Route("/healthz", _ok),
            Route("/readyz", _ok),
            Route("/metrics", _ok),
            Route("/v1/health", _ok),
        ],
        middleware=[Middleware(RequestContextMiddleware)],
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://test") as c:
        yield c


async def test_sane_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/context", headers={"x-request-id": "abc-123_DEF.4"})

    assert response.headers["x-request-id"] == "abc-123_DEF.4"


async def test_missing_request_id_is_generated_as_uuid4_hex(client: httpx.AsyncClient) -> None:
    response = await client.get("/context")

    assert _GENERATED_ID.fullmatch(response.headers["x-request-id"])


@pytest.mark.parametrize(
    "malformed",
    ["has space", "semi;colon", "x" * 129, "new\\nline", "ünïcode"],
)
async def test_malformed_request_id_is_replaced(client: httpx.AsyncClient, malformed: str) -> None:
    response = await client.get("/context", headers={b"x-request-id": malformed.encode("utf-8")})

    assert _GENERATED_ID.fullmatch(response.headers["x-request-id"])


async def test_request_id_is_bound_in_structlog_contextvars_inside_handler(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/context", headers={"x-request-id": "req-1"})

    assert response.json()["contextvars_request_id"] == "req-1"


async def test_request_id_is_unbound_after_request(client: httpx.AsyncClient) -> None:
    await client.get("/context", headers={"x-request-id": "req-2"})

    assert "request_id" not in structlog.contextvars.get_contextvars()


async def test_the_endpoint_reads_the_request_id_of_its_task(client: httpx.AsyncClient) -> None:
    response = await client.get("/context", headers={"x-request-id": "req-3"})

    assert response.json()["task_request_id"] == "req-3"


async def test_request_id_is_none_outside_a_request() -> None:
    assert contextvars.Context().run(request_id) is None


async def test_one_http_request_event_is_logged_with_status_and_duration(
    client: httpx.AsyncClient,
) -> None:
    with capture_logs() as logs:
        await client.get("/teapot", headers={"x-request-id": "req-4"})

    [event] = [entry for entry in logs if entry["event"] == "http_request"]
    assert {key: event[key] for key in ("method", "path", "status")} == {
        "method": "GET",
        "path": "/teapot",
        "status": 418,
    }
    assert isinstance(event["duration_ms"], float)


async def test_http_request_event_carries_request_id(client: httpx.AsyncClient) -> None:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await client.get("/teapot", headers={"x-request-id": "req-5"})

    [event] = [entry for entry in logs if entry["event"] == "http_request"]
    assert event["request_id"] == "req-5"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/v1/health"])
async def test_probe_and_scrape_paths_are_not_logged(client: httpx.AsyncClient, path: str) -> None:
    with capture_logs() as logs:
        response = await client.get(path)

    assert response.status_code == 200
    assert logs == []
