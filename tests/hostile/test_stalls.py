"""Stalls and memory from one certificate: documents cheap to send that were dear to parse, validate or keep.

A connected runtime polls through the Director's poll cache, which looks at every document before GraphQL
does; these attacks go through it, as a runtime (its certificate in X-Forwarded-Client-Cert from a trusted
proxy, on the in-process app) or as anyone at the Connector. Each must be refused, or answered, without the
process stalling or growing: the work is bounded by the token limit, the kept documents by bytes. The client
that hangs up mid-body needs a real server (tests/connector/support.py's ``RunningServer``, in this process).
The server staying responsive meanwhile is tests/hostile/test_responsive.py.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import ssl
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from urllib.parse import quote

import httpx
import pytest
import strawberry
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Message

from compass.app import create_app
from director.graphql.view import DirectorGraphQL
from director.polling.middleware import RuntimePollCache
from kernel.db import Database
from kernel.graphql.documents import CachedDocuments, DocumentCache
from kernel.http import CLIENT_CLOSED_REQUEST
from kernel.observability.metrics import REGISTRY
from kernel.settings import Settings
from testing.waiting import wait_until
from tests.connector.support import (
    CONFIGURATION,
    REGISTER_RUNTIME,
    REQUEST_RUNTIME_TOKEN,
    Announcement,
    Harness,
    client_ssl_context,
    csr_b64,
    ec_key,
    post_graphql,
    sign_document,
    unb64,
)
from tests.hostile.support import (
    CONNECTOR,
    DIRECTOR,
    HOSTILE_SETTINGS,
    JSON_CONTENT,
    assert_well_formed,
    error_codes,
    peak_resident_kib,
    reset_peak_resident,
    resident_kib,
)
from tests.support import Operator, TenantFactory

PROXY = ("127.0.0.1", 4711)
DOCUMENT_CACHE_BYTES = 4 * 1024 * 1024
MEGABYTE_OF_A_TOKENS = "{ " + "a " * 500_000 + "}"
PADDED_DOCUMENTS = 24
PADDING = 1_000_000
DEEP_JSON = b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
UNDEFINED_FRAGMENT = "{ labelDefinitions { key ...F1 } }"
FAN_OUT = 40


def fragment_fan_out(step: str) -> str:
    """Each fragment spreads the next twice (in ``step``): 2^40 paths through 41 fragments, in under 3 KB."""
    spreads = [f"fragment F{i} on Query {{ {step % f'...F{i + 1} ...F{i + 1}'} }}" for i in range(FAN_OUT)]
    return f"query {{ ...F0 }} {' '.join(spreads)} fragment F{FAN_OUT} on Query {{ __typename }}"


FRAGMENT_FAN_OUT = fragment_fan_out("%s")
MEMORY_BOUND_KIB = 48 * 1024
BEFORE_RESOLVERS = pytest.mark.backend_independent(
    "refused or answered by the JSON decoder, the parser or validation before any resolver reads a row"
)


@pytest.fixture(scope="module")
async def poll_app(settings: Settings, database: Database) -> AsyncIterator[Starlette]:
    """The app behind a trusted proxy on 127.0.0.1, with a small document cache so that its bound shows."""
    update = {
        **HOSTILE_SETTINGS,
        "trusted_proxies": [PROXY[0]],
        "graphql_document_cache_bytes": DOCUMENT_CACHE_BYTES,
    }
    application = create_app(settings.model_copy(update=update), database)
    async with LifespanManager(application):
        yield application


@asynccontextmanager
async def proxy_client(poll_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app that comes from the trusted proxy's address."""
    transport = httpx.ASGITransport(app=poll_app, client=PROXY, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=120) as client:
        yield client


@pytest.fixture
async def proxied(poll_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with proxy_client(poll_app) as client:
        yield client


async def connect_runtime(client: httpx.AsyncClient, operator: Operator) -> dict[str, str]:
    """A runtime through the Connector's first connection; returns the headers its proxy would send."""
    registered = await operator.query(REGISTER_RUNTIME, {"in": {"name": f"runtime-{uuid.uuid4().hex[:8]}"}})
    token = (await operator.query(REQUEST_RUNTIME_TOKEN, {"id": registered["result"]["id"]}))["result"][
        "token"
    ]
    configuration = await post_graphql(client, CONNECTOR, CONFIGURATION, headers={"Connector-Token": token})
    announcement = Announcement.of(configuration.result)
    signed = await post_graphql(
        client,
        CONNECTOR,
        sign_document(csr_b64(ec_key(), announcement.subject)),
        headers={"Connector-Token": announcement.signing_token},
    )
    certificate = unb64(signed.result["clientCertificate"]).decode()
    return {"X-Forwarded-Client-Cert": f'Hash=x;Cert="{quote(certificate)}"'}


@pytest.fixture(scope="module")
async def runtime(poll_app: Starlette, settings: Settings, database: Database) -> dict[str, str]:
    """One runtime for the module (per backend): the tests only poll as it, and nothing they send is kept."""
    async with proxy_client(poll_app) as client:
        operator = await TenantFactory(settings, database, client).operator()
        return await connect_runtime(client, operator)


async def poll(client: httpx.AsyncClient, runtime: dict[str, str], body: bytes) -> httpx.Response:
    return await client.post(DIRECTOR, content=body, headers={**JSON_CONTENT, **runtime})


async def bare_poll(app: Starlette, runtime: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """``poll`` as one ASGI call, status and body: httpx's responses hold themselves in cycles, with the body they
    sent, so whatever is left in this process after a bare call is the app's."""
    headers = {**JSON_CONTENT, **runtime, "content-length": str(len(body))}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": DIRECTOR,
        "raw_path": DIRECTOR.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": PROXY,
        "server": ("testserver", 80),
    }
    messages: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    status, chunks = 0, bytearray()

    async def receive() -> Message:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            chunks.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, bytes(chunks)


def request(document: str) -> bytes:
    return json.dumps({"query": document}).encode()


def director_documents(app: Starlette) -> DocumentCache:
    """The documents the Director's schema keeps: its route's app is the poll cache, in front of the view."""
    route = next(route for route in app.routes if isinstance(route, Route) and route.path == DIRECTOR)
    assert isinstance(route.app, RuntimePollCache) and isinstance(route.app.app, DirectorGraphQL)
    schema = route.app.app.schema
    assert isinstance(schema, strawberry.Schema)
    factories = schema.extensions
    cached = (item for item in factories if isinstance(item, partial) and item.func is CachedDocuments)
    return next(cached).args[0]


def collect_and_measure() -> int:
    gc.collect()
    return resident_kib()


@BEFORE_RESOLVERS
async def test_a_1_mb_document_of_a_tokens_on_the_poll_path_is_refused_at_the_token_limit(
    proxied: httpx.AsyncClient, runtime: dict[str, str], settings: Settings
) -> None:
    """Parsed whole before any limit applied, it held ~300 MB of syntax tree and the loop for seconds."""
    if not reset_peak_resident():
        pytest.skip("the kernel does not let this process reset its peak resident set")
    before = resident_kib()

    response = await poll(proxied, runtime, request(MEGABYTE_OF_A_TOKENS))

    grown = peak_resident_kib() - before
    assert_well_formed(response)
    assert error_codes(response) == ["QUERY_TOO_COMPLEX"]
    assert f"more than {settings.max_query_tokens} tokens" in response.json()["errors"][0]["message"]
    assert grown < MEMORY_BOUND_KIB, (
        f"the process peaked {grown // 1024} MB above its size before the request"
    )


@pytest.mark.backend_independent("the documents are kept in the process's caches; the rows read are the same")
@pytest.mark.usefixtures("compass_serves_collector_thresholds")
async def test_distinct_comment_padded_documents_on_the_poll_path_do_not_grow_the_process(
    poll_app: Starlette, runtime: dict[str, str]
) -> None:
    """A comment is one token: 1 MB documents passed every limit, and every cache kept each one as its key. And
    their cyclic garbage (graphql-core's tokens link both ways) waited for `compass serve`'s rare collections:
    117 MB after these 24."""
    await bare_poll(poll_app, runtime, request("{ __typename }"))
    before = collect_and_measure()

    for index in range(PADDED_DOCUMENTS):
        status, body = await bare_poll(poll_app, runtime, request(f"# {index} " + "x" * PADDING + "\n{ __typename }"))
        assert (status, json.loads(body)) == (200, {"data": {"__typename": "Query"}})

    grown = collect_and_measure() - before
    assert grown < MEMORY_BOUND_KIB, (
        f"{PADDED_DOCUMENTS} documents of 1 MB grew the process {grown // 1024} MB"
    )
    assert 0 < director_documents(poll_app).entries.bytes <= DOCUMENT_CACHE_BYTES


@BEFORE_RESOLVERS
async def test_a_100_000_deep_json_body_on_the_poll_path_is_a_400(
    proxied: httpx.AsyncClient, runtime: dict[str, str]
) -> None:
    response = await poll(proxied, runtime, DEEP_JSON)

    assert response.status_code == 400
    assert_well_formed(response)


@BEFORE_RESOLVERS
async def test_an_undefined_fragment_spread_fails_validation(
    proxied: httpx.AsyncClient, runtime: dict[str, str]
) -> None:
    response = await poll(proxied, runtime, request(UNDEFINED_FRAGMENT))

    assert_well_formed(response)
    assert error_codes(response) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Unknown fragment 'F1'" in response.json()["errors"][0]["message"]


@BEFORE_RESOLVERS
@pytest.mark.timeout(120)
@pytest.mark.parametrize("who", ["runtime", "anyone at the connector"])
async def test_fragments_spreading_the_next_one_twice_are_measured_once_each(
    proxied: httpx.AsyncClient, runtime: dict[str, str], who: str
) -> None:
    """The depth and alias limits followed every path through the fragments: 2^40 walks for this document."""
    path, headers = (DIRECTOR, runtime) if who == "runtime" else (CONNECTOR, {})

    response = await proxied.post(
        path, content=request(FRAGMENT_FAN_OUT), headers={**JSON_CONTENT, **headers}
    )

    assert_well_formed(response)
    assert response.json() == {"data": {"__typename": "Query"}}


@BEFORE_RESOLVERS
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("step", "words"),
    [("deeper { %s }", "exceeds maximum operation depth of 12"), ("alias: __typename %s", "aliases found")],
    ids=["depth", "aliases"],
)
async def test_fragments_spreading_the_next_one_twice_still_count_their_depth_and_aliases(
    proxied: httpx.AsyncClient, runtime: dict[str, str], step: str, words: str
) -> None:
    response = await poll(proxied, runtime, request(fragment_fan_out(step)))

    assert_well_formed(response)
    errors = response.json()["errors"]
    limits = [error["message"] for error in errors if error["extensions"]["code"] == "QUERY_TOO_COMPLEX"]
    assert len(limits) == 1 and words in limits[0], errors[:3]


# --- a real server --------------------------------------------------------------------------------------------


async def hang_up_mid_body(
    host: str, port: int, path: str, headers: dict[str, str], context: ssl.SSLContext | None
) -> None:
    """Announces a 100 kB body, sends 1 kB of it and closes the connection."""
    _, writer = await asyncio.open_connection(host, port, ssl=context)
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json"]
    lines += ["Content-Length: 100000", *(f"{name}: {value}" for name, value in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + b'{"query": "' + b" " * 1_000)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


def director_posts() -> Counter[str]:
    """POST /director/graphql requests this process counted (the server runs in it), by status."""
    counts: Counter[str] = Counter()
    for metric in REGISTRY.collect():
        for sample in metric.samples if metric.name == "compass_http_requests" else []:
            labels = sample.labels
            if sample.name.endswith("_total") and labels["method"] == "POST" and labels["path"] == DIRECTOR:
                counts[labels["status"]] += int(sample.value)
    return counts


@pytest.mark.backend_independent(
    "the body never arrives: no resolver runs, the server's logging is what is tested"
)
@pytest.mark.parametrize("who", ["runtime over mTLS", "operator"])
async def test_a_client_hanging_up_mid_body_logs_no_traceback(
    server: Harness, who: str, caplog: pytest.LogCaptureFixture
) -> None:
    operator = await server.operator()
    host, port, context, headers = "127.0.0.1", server.settings.http_port, None, operator.headers
    if who == "runtime over mTLS":
        connected = await server.connect_runtime(operator)
        port, headers = server.settings.https_port, {}
        context = client_ssl_context(server.ca.ca_pem, connected.credentials)
    caplog.set_level(logging.INFO)
    before = director_posts()

    await hang_up_mid_body(host, port, DIRECTOR, headers, context)

    await wait_until(
        lambda: director_posts().total() > before.total(), seconds=30, what="the request counted", every=0.01
    )
    after = director_posts()
    # uvicorn logs an exception that escaped the app after the app counted the request: one more round trip.
    assert (await server.http.get("/healthz")).status_code == 200
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]
    assert not errors, [record.getMessage() for record in errors]
    # counted as closed by the client: neither a server error nor an answer to the part of the body that came
    assert after - before == Counter({str(CLIENT_CLOSED_REQUEST): 1})
