"""Sockets that hold a listener without finishing a request: idle, trickled headers, trickled bodies, and more
sockets than the listener takes. Before, 800 idle, 400 partial-header and 200 slow-body sockets all stayed open
for 80 s, and with a lower file limit 300 idle sockets made /healthz fail.

Each test talks to a real server (``compass.server``'s two listeners on loopback, tests/connector/support.py)
whose deadlines are cut to a second, or whose connection cap is cut to a few dozen; it asserts that the server
closes the sockets (end of stream, or a reset), never how long that took: the waits are generous bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from compass import migrate
from compass.connections import RESERVED_FILE_DESCRIPTORS
from connector.ca import CertificateAuthority
from kernel.settings import Settings
from testing.served import ServedCompass
from tests.connector.support import RunningServer, client_ssl_context

Listener = Literal["http", "https"]
SOCKETS: dict[Listener, int] = {"http": 100, "https": 40}  # TLS handshakes cost the test's CPU too
CAP = 40
FILE_LIMIT = 300
DRIP_SECONDS = 0.2
GENEROUS_SECONDS = 60.0
SHORT: dict[str, Any] = {
    "request_header_timeout_seconds": 1.0,
    "request_body_timeout_seconds": 1.0,
    "keep_alive_timeout_seconds": 1.0,
}
LONG: dict[str, Any] = {
    "request_header_timeout_seconds": 600.0,
    "request_body_timeout_seconds": 600.0,
    "keep_alive_timeout_seconds": 600.0,
}
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: compass\r\n\r\n"
PARTIAL_HEADERS = b"POST /connector/graphql HTTP/1.1\r\nHost: compass\r\n"
SLOW_BODY_HEADERS = (
    b"POST /connector/graphql HTTP/1.1\r\nHost: compass\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100000\r\n"
)

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture(scope="module")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The server's own SQLite database: what is tested here is the same on PostgreSQL."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('connections-db') / 'compass.db'}"
    migrate.upgrade(url)
    return Settings(
        database_url=url, log_json=False, maintenance_interval_seconds=3600, last_seen_flush_seconds=3600
    )


def _start(
    base: Settings, ca: CertificateAuthority, data_dir: Path, **overrides: Any
) -> Iterator[RunningServer]:
    server = RunningServer.start(base, data_dir, ca, **overrides)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def impatient_server(
    base_settings: Settings, compass_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """Header, body and keep-alive deadlines of one second."""
    yield from _start(base_settings, compass_ca, tmp_path_factory.mktemp("impatient"), **SHORT)


@pytest.fixture
def capped_server(
    base_settings: Settings, compass_ca: CertificateAuthority, tmp_path: Path
) -> Iterator[RunningServer]:
    """At most CAP connections per listener; deadlines far away, so that only the cap closes anything."""
    yield from _start(base_settings, compass_ca, tmp_path, max_connections=CAP, **LONG)


@contextlib.asynccontextmanager
async def sockets(
    port: int, count: int, context: ssl.SSLContext | None = None, first: bytes = b""
) -> AsyncIterator[list[Connection]]:
    """``count`` connections opened one after the other (so the server accepts them in this order), each
    sending ``first`` as soon as it is open (the deadlines run from then)."""
    opened: list[Connection] = []
    try:
        for _ in range(count):
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
            opened.append((reader, writer))
            writer.write(first)
        yield opened
    finally:
        for _, writer in opened:
            writer.close()
        for _, writer in opened:
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()


def connections(
    server: RunningServer, listener: Listener, count: int, first: bytes = b""
) -> contextlib.AbstractAsyncContextManager[list[Connection]]:
    if listener == "http":
        return sockets(server.settings.http_port, count, first=first)
    context = client_ssl_context(server.ca.ca_chain_pem, None)
    return sockets(server.settings.https_port, count, context, first)


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as closed)."""
    received = b""
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while chunk := await reader.read(65536):
            received += chunk
    return received


async def trickle_until_closed(connection: Connection, drop: bytes) -> bytes:
    """Sends ``drop`` every DRIP_SECONDS until the server closes the connection."""
    reader, writer = connection
    closed = asyncio.ensure_future(until_closed(reader))
    while not closed.done():
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            writer.write(drop)
            await writer.drain()
        await asyncio.wait([closed], timeout=DRIP_SECONDS)
    return closed.result()


async def all_closed(pending: list[Any]) -> list[bytes]:
    async with asyncio.timeout(GENEROUS_SECONDS):
        return list(await asyncio.gather(*pending))


@pytest.mark.parametrize("listener", ["http", "https"])
async def test_idle_connections_are_closed(impatient_server: RunningServer, listener: Listener) -> None:
    async with connections(impatient_server, listener, SOCKETS[listener]) as opened:
        received = await all_closed([until_closed(reader) for reader, _ in opened])

    assert received == [b""] * SOCKETS[listener]


@pytest.mark.parametrize("listener", ["http", "https"])
async def test_line_breaks_trickled_after_a_request_are_cut_off(
    impatient_server: RunningServer, listener: Listener
) -> None:
    # Each byte cancels the keep-alive timer; stray line breaks between requests begin no new request.
    async with connections(impatient_server, listener, SOCKETS[listener], HEALTHZ) as opened:
        received = await all_closed([trickle_until_closed(each, b"\r\n") for each in opened])

    assert all(answer.startswith(b"HTTP/1.1 200 OK") for answer in received)


@pytest.mark.parametrize("listener", ["http", "https"])
async def test_headers_trickled_byte_by_byte_are_cut_off(
    impatient_server: RunningServer, listener: Listener
) -> None:
    async with connections(impatient_server, listener, SOCKETS[listener], PARTIAL_HEADERS) as opened:
        received = await all_closed([trickle_until_closed(each, b"X") for each in opened])

    assert all(answer.startswith(b"HTTP/1.1 408 Request Timeout") for answer in received)


@pytest.mark.parametrize("listener", ["http", "https"])
async def test_bodies_trickled_byte_by_byte_are_cut_off(
    impatient_server: RunningServer, listener: Listener
) -> None:
    headers = SLOW_BODY_HEADERS + b"\r\n"
    async with connections(impatient_server, listener, SOCKETS[listener], headers) as opened:
        received = await all_closed([trickle_until_closed(each, b" ") for each in opened])

    assert all(b"200 OK" not in answer for answer in received)  # no request was ever complete


async def test_connections_beyond_the_cap_close_the_longest_idle_and_healthz_still_answers(
    capped_server: RunningServer,
) -> None:
    async with connections(capped_server, "http", 3 * CAP) as opened:
        # when
        async with httpx.AsyncClient(base_url=capped_server.http_url, timeout=GENEROUS_SECONDS) as client:
            health = await client.get("/healthz")

        # then: the 2 * CAP oldest made room for the newer ones, and one more for the probe
        received = await all_closed([until_closed(reader) for reader, _ in opened[: 2 * CAP + 1]])
        listener = capped_server.servers[0].server_state
        assert len(listener.connections) <= CAP

    assert health.status_code == 200
    assert received == [b""] * (2 * CAP + 1)


async def test_beyond_the_cap_with_every_connection_busy_a_new_connection_is_closed(
    capped_server: RunningServer,
) -> None:
    # given: CAP requests in flight, each waiting for the rest of its body
    async with connections(capped_server, "http", CAP) as busy:
        for reader, writer in busy:
            writer.write(SLOW_BODY_HEADERS + b"Expect: 100-continue\r\n\r\n")
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 100 Continue")

        # when
        async with connections(capped_server, "http", 1) as [(reader, writer)]:
            writer.write(HEALTHZ)
            received = await all_closed([until_closed(reader)])

        # then
        assert received == [b""]
        assert all(not reader.at_eof() for reader, _ in busy)


def _lower_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


async def test_idle_sockets_beyond_a_low_file_limit_leave_healthz_answering(tmp_path: Path) -> None:
    # given: `compass serve` with a file limit of 300, and its default deadlines and cap
    with ServedCompass(tmp_path / "compass", before_exec=_lower_file_limit) as served:
        # when: as many idle sockets as the server may open files
        async with (
            sockets(served.http_port, FILE_LIMIT),
            httpx.AsyncClient(base_url=served.http_url, timeout=GENEROUS_SECONDS) as client,
        ):
            health = await client.get("/healthz")
            metrics = await client.get("/metrics")

    # then: the cap (lowered to what the file limit leaves room for) closed the oldest idle sockets
    assert health.status_code == 200
    closed = next(
        sample.value
        for family in text_string_to_metric_families(metrics.text)
        for sample in family.samples
        if sample.name == "compass_http_connections_closed_total"
        and sample.labels == {"reason": "connection_limit"}
    )
    assert closed >= FILE_LIMIT - (FILE_LIMIT - RESERVED_FILE_DESCRIPTORS) // 2
