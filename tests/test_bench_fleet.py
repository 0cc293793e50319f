"""bench/fleet.py: its agents' connection (kept as Go's HTTP client keeps it) against a small TLS server that
can close connections, and the bench end to end at a tiny size on PostgreSQL. They assert behaviour (which
connections were opened, what each row and case reports), never a time.
"""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import trustme

from bench.fleet import POLL_COST_CASES, POLL_COST_HEADER, PUSH_HEADER, RUN_HEADER, Connection
from testing.databases import POSTGRES_URL
from tests.bench_support import bench_output, section

REQUEST = b"POST /director/graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}"
BODY = b'{"data":{"result":"fleet-change-1"}}'


@dataclass
class TinyServer:
    """HTTP/1.1 over TLS answering every request with ``BODY``; told to, it closes connections as servers do."""

    port: int = 0
    connections: int = 0
    requests: int = 0
    close_after_answer: bool = False  # as when the keep-alive timeout or the connection cap struck
    drop_next_request: bool = False  # the connection closes as a request arrives, before any answer
    answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                if self.drop_next_request:
                    self.drop_next_request = False
                    return
                self.requests += 1
                writer.write(self.answer)
                await writer.drain()
                if self.close_after_answer:
                    return
        finally:
            writer.close()


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def server(certificate_authority: trustme.CA) -> AsyncIterator[TinyServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(context)
    tiny = TinyServer()
    listener = await asyncio.start_server(tiny.handle, "127.0.0.1", 0, ssl=context)
    tiny.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield tiny


def connection_to(server: TinyServer, ca: trustme.CA, *, keep_alive: bool = True) -> Connection:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return Connection("127.0.0.1", server.port, context, keep_alive=keep_alive)


async def ended(connection: Connection) -> None:
    """Until the client has seen the end of the connection's stream (the server's close reached it)."""
    assert connection.reader is not None
    assert await asyncio.wait_for(connection.reader.read(), 10) == b""


async def test_keep_alive_polls_share_one_connection(
    server: TinyServer, certificate_authority: trustme.CA
) -> None:
    connection = connection_to(server, certificate_authority)

    answers = [await connection.exchange(REQUEST) for _ in range(3)]

    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert (server.connections, connection.opened, connection.retried) == (1, 1, 0)
    connection.close()


async def test_without_keep_alive_every_poll_opens_a_connection(
    server: TinyServer, certificate_authority: trustme.CA
) -> None:
    connection = connection_to(server, certificate_authority, keep_alive=False)

    for _ in range(3):
        await connection.exchange(REQUEST)

    assert (server.connections, connection.opened) == (3, 3)


async def test_a_connection_the_server_closed_while_idle_is_replaced_at_the_next_poll(
    server: TinyServer, certificate_authority: trustme.CA
) -> None:
    # given
    server.close_after_answer = True
    connection = connection_to(server, certificate_authority)
    await connection.exchange(REQUEST)
    await ended(connection)

    # when
    status, _, body = await connection.exchange(REQUEST)

    # then
    assert (status, body) == (200, BODY)
    assert (server.connections, connection.opened, connection.retried) == (2, 2, 0)


async def test_a_poll_the_server_dropped_on_a_kept_connection_is_sent_again_once_on_a_new_one(
    server: TinyServer, certificate_authority: trustme.CA
) -> None:
    # given
    connection = connection_to(server, certificate_authority)
    await connection.exchange(REQUEST)
    server.drop_next_request = True

    # when
    status, _, body = await connection.exchange(REQUEST)

    # then
    assert (status, body) == (200, BODY)
    assert (server.connections, server.requests, connection.opened, connection.retried) == (2, 2, 2, 1)
    connection.close()


async def test_a_poll_dropped_on_a_new_connection_fails_without_a_retry(
    server: TinyServer, certificate_authority: trustme.CA
) -> None:
    server.drop_next_request = True
    connection = connection_to(server, certificate_authority)

    with pytest.raises(ConnectionError):
        await connection.exchange(REQUEST)

    assert (server.connections, connection.retried, connection.reader) == (1, 0, None)


async def test_a_gzip_answer_in_chunks_comes_back_decompressed(
    server: TinyServer, certificate_authority: trustme.CA
) -> None:
    compressed = gzip.compress(BODY)
    half = len(compressed) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (compressed[:half], compressed[half:]))
    server.answer = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunks
        + b"0\r\n\r\n"
    )
    connection = connection_to(server, certificate_authority)

    answers = [await connection.exchange(REQUEST) for _ in range(2)]

    assert [body for _, _, body in answers] == [BODY, BODY]
    assert connection.opened == 1
    connection.close()


# The bench end to end: it needs PostgreSQL -------------------------------------------------------------------

needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="bench/fleet.py runs on PostgreSQL only")
TINY_FLEET = [
    "--runtimes", "4", "--workers", "1", "--applications", "2", "--formations", "2", "--bundles", "1",
    "--period", "1", "--duration", "5.5", "--change-every", "1", "--clients", "1",
]  # fmt: skip


def fleet_row(output: str) -> dict[str, str]:
    """The first run's row by the header's columns: errors, answers 200 and 304, conns and retry."""
    [row, *_] = section(output, RUN_HEADER)
    cells = row.replace("|", " ").split()
    names = {"errors": 5, "200": 6, "304": 7, "conns": 9, "retry": 10}
    return {name: cells[index] for name, index in names.items()}


@needs_postgres
def test_keep_alive_runtimes_open_no_connection_after_the_warm_up() -> None:
    row = fleet_row(bench_output("bench/fleet.py", *TINY_FLEET))

    assert (row["errors"], row["conns"], row["retry"]) == ("0", "0", "0")


@needs_postgres
def test_runtimes_without_keep_alive_open_a_connection_per_poll() -> None:
    row = fleet_row(bench_output("bench/fleet.py", *TINY_FLEET, "--new-connection-per-poll"))

    answers = int(row["200"]) + int(row["304"])
    assert row["errors"] == "0"
    assert int(row["conns"]) == answers > 0


@needs_postgres
def test_pushed_changes_reach_every_affected_runtime_before_its_period() -> None:
    # given: a period longer than the run (the last --period wins), so only a push makes a runtime poll again
    push = [
        "--push", "--period", "60", "--warmup", "1", "--duration", "4", "--change-every", "0.5", "--idle", "0.5",
    ]  # fmt: skip

    # when
    output = bench_output("bench/fleet.py", *TINY_FLEET, *push)

    # then: counts, never times
    assert fleet_row(output)["errors"] == "0"
    [row] = section(output, PUSH_HEADER)
    cells = row.replace("|", " ").split()
    streams, pushes, polls, by_push, by_period, affected = map(int, cells[2:8])
    assert (cells[1], streams) == ("4", 4)  # R, and every runtime's stream open
    assert by_push == affected > 0
    assert by_period == 0
    assert pushes >= affected
    assert polls >= affected


@needs_postgres
def test_the_poll_cost_reports_each_case_against_healthz_with_the_goals() -> None:
    output = bench_output("bench/fleet.py", "--poll-cost", "--duration", "0.5", "--applications", "3")

    assert "connections the runtime opened: 1" in output
    lines = section(output, POLL_COST_HEADER)
    assert [line[:3] for line in lines] == ["(a)", "(b)", "(c)"]
    assert [line.rsplit("|", 1)[1].strip().split(":")[0] for line in lines] == [
        "" if goal is None else f"<= {goal:g} x" for *_, goal in POLL_COST_CASES
    ]
