"""The sink client (events/sink_client.py): one POST per event over kept-alive HTTP/1.1 connections, against the
recording sink and against raw servers written byte by byte for the answers a real server seldom gives."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

from events.sink_client import IDLE_PER_ORIGIN, Answer, SinkClient, SinkError
from testing.ports import LOOPBACK, free_port
from testing.sinks import RecordingSink
from testing.tls import tls_stand_in
from testing.waiting import wait_until

HEADERS = {"ce-specversion": "1.0", "ce-id": "event-1", "content-type": "application/json"}
BODY = b'{"number": 1}'
NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


@dataclass
class RawConnection:
    """One connection to a raw sink, from the server's side."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    requests: list[bytes] = field(default_factory=list)
    ended: bool = False  # the client closed its side
    finished: bool = False  # the server's handler returned and closed the connection

    async def request(self) -> bytes | None:
        """The next request (its head and a Content-Length body), or None once the client closed the connection."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            self.ended = True
            return None
        length = re.search(rb"(?im)^content-length: *(\d+)\r$", head)
        request = head + await self.reader.readexactly(int(length[1]) if length else 0)
        self.requests.append(request)
        return request

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()


Handler = Callable[[RawConnection], Awaitable[None]]


def answering(answer: bytes = NO_CONTENT, times: int | None = None) -> Handler:
    """Answers ``answer`` to each request (to the first ``times`` only, if given) until the client closes."""

    async def handler(connection: RawConnection) -> None:
        count = 0
        while (times is None or count < times) and await connection.request() is not None:
            await connection.send(answer)
            count += 1

    return handler


async def dropping(connection: RawConnection) -> None:
    """Takes a request and closes the connection without a byte of answer."""
    await connection.request()


async def ignoring(connection: RawConnection) -> None:
    """Takes a request and never answers; the connection stays open until the client closes it."""
    await connection.request()
    await connection.reader.read()


class RawSink:
    """A loopback server whose n-th connection is served by the n-th handler (the last serves all later ones);
    the connection is closed once its handler returns."""

    def __init__(self, handlers: tuple[Handler, ...], tls: ssl.SSLContext | None) -> None:
        self._handlers = handlers
        self._tls = tls
        self.connections: list[RawConnection] = []
        self.port = 0

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://{LOOPBACK}:{self.port}/events"

    @property
    def requests(self) -> list[bytes]:
        return [request for connection in self.connections for request in connection.requests]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0, ssl=self._tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self._server.close()
        for connection in self.connections:
            connection.writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = RawConnection(reader, writer)
        handler = self._handlers[min(len(self.connections), len(self._handlers) - 1)]
        self.connections.append(connection)
        try:
            with contextlib.suppress(ConnectionError):
                await handler(connection)
        finally:
            writer.close()
            connection.finished = True


StartRawSink = Callable[..., Awaitable[RawSink]]
NewClient = Callable[..., SinkClient]


@pytest.fixture
async def raw_sink() -> AsyncIterator[StartRawSink]:
    """Starts a RawSink serving its connections with the handlers given (closed at the end); ``tls`` may be given."""
    started: list[RawSink] = []

    async def starting(*handlers: Handler, tls: ssl.SSLContext | None = None) -> RawSink:
        sink = RawSink(handlers or (answering(),), tls)
        await sink.start()
        started.append(sink)
        return sink

    yield starting
    for sink in started:
        await sink.close()


@pytest.fixture
def new_client() -> Iterator[NewClient]:
    """Makes SinkClients (a 5 s timeout unless given), closed at the end."""
    made: list[SinkClient] = []

    def making(timeout: float = 5.0, tls: ssl.SSLContext | None = None) -> SinkClient:
        made.append(SinkClient(timeout, tls=tls))
        return made[-1]

    yield making
    for client in made:
        client.close()


@pytest.fixture
def client(new_client: NewClient) -> SinkClient:
    return new_client()


class TestPost:
    async def test_a_post_reaches_the_sink_with_the_headers_the_body_its_length_and_host(
        self, client: SinkClient, event_sink: RecordingSink
    ) -> None:
        # when
        await client.post(event_sink.url, HEADERS, BODY)

        # then
        [received] = event_sink.requests
        assert received.method == "POST"
        assert received.path == "/events"
        assert received.header("ce-specversion") == "1.0"
        assert received.header("ce-id") == "event-1"
        assert received.header("content-type") == "application/json"
        assert received.header("content-length") == str(len(BODY))
        assert received.header("host") == f"{LOOPBACK}:{event_sink.port}"
        assert received.body == BODY

    async def test_the_sinks_status_and_reason_come_back(
        self, client: SinkClient, event_sink: RecordingSink
    ) -> None:
        # given
        event_sink.fail(503, times=1)

        # when
        refused = await client.post(event_sink.url, HEADERS, BODY)
        taken = await client.post(event_sink.url, HEADERS, BODY)

        # then
        assert refused == Answer(503, "Service Unavailable")
        assert taken == Answer(204, "No Content")

    async def test_a_url_that_is_not_http_raises_value_error(self, client: SinkClient) -> None:
        with pytest.raises(ValueError, match="not an http or https URL"):
            await client.post("ftp://127.0.0.1/events", HEADERS, BODY)

    @pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\0b", "x\r\nInjected: 1", "price in €"])
    async def test_a_header_value_that_cannot_be_sent_raises_value_error_before_anything_is_sent(
        self, client: SinkClient, raw_sink: StartRawSink, value: str
    ) -> None:
        # given
        sink = await raw_sink()

        # when
        with pytest.raises(ValueError):  # noqa: PT011 - a line break and a non-Latin-1 character fail differently
            await client.post(sink.url, {**HEADERS, "ce-subject": value}, BODY)
        await client.post(sink.url, HEADERS, BODY)

        # then only the good POST arrived, on the one connection it opened
        assert len(sink.connections) == 1
        [request] = sink.requests
        assert b"ce-subject" not in request


class TestKeepAlive:
    async def test_consecutive_posts_to_one_origin_reuse_one_connection(
        self, client: SinkClient, raw_sink: StartRawSink
    ) -> None:
        # given
        sink = await raw_sink()

        # when
        answers = [await client.post(sink.url, HEADERS, BODY) for _ in range(3)]

        # then
        assert answers == [Answer(204, "No Content")] * 3
        assert len(sink.connections) == 1
        assert len(sink.requests) == 3

    async def test_an_answer_with_connection_close_makes_the_next_post_open_a_new_connection(
        self, client: SinkClient, raw_sink: StartRawSink
    ) -> None:
        # given
        sink = await raw_sink(answering(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"))

        # when
        first = await client.post(sink.url, HEADERS, BODY)
        second = await client.post(sink.url, HEADERS, BODY)

        # then
        assert first == second == Answer(204, "No Content")
        assert len(sink.connections) == 2

    async def test_a_connection_the_sink_closed_while_idle_is_replaced_without_an_error(
        self, client: SinkClient, raw_sink: StartRawSink
    ) -> None:
        # given
        sink = await raw_sink(answering(times=1), answering())
        await client.post(sink.url, HEADERS, BODY)
        await wait_until(lambda: sink.connections[0].finished, what="the sink closing the idle connection")

        # when
        answer = await client.post(sink.url, HEADERS, BODY)

        # then
        assert answer == Answer(204, "No Content")
        assert len(sink.connections) == 2

    async def test_a_post_the_sink_drops_on_a_kept_alive_connection_is_sent_again_on_a_new_one(
        self, client: SinkClient, raw_sink: StartRawSink
    ) -> None:
        # given the sink closes the kept-alive connection as the second POST arrives, as one closing an idle
        # connection does when the POST crosses its close
        async def answer_then_drop(connection: RawConnection) -> None:
            await answering(times=1)(connection)
            await dropping(connection)

        sink = await raw_sink(answer_then_drop, answering())
        await client.post(sink.url, HEADERS, BODY)

        # when
        answer = await client.post(sink.url, HEADERS, BODY)

        # then
        assert answer == Answer(204, "No Content")
        assert len(sink.connections) == 2
        assert len(sink.requests) == 3

    async def test_connections_beyond_the_idle_limit_are_closed_after_their_answer(
        self, client: SinkClient, raw_sink: StartRawSink
    ) -> None:
        # given a sink that answers only once every concurrent POST arrived, each on a connection of its own
        concurrent = IDLE_PER_ORIGIN + 2
        all_arrived = asyncio.Event()

        async def answer_together(connection: RawConnection) -> None:
            await connection.request()
            await all_arrived.wait()
            await connection.send(NO_CONTENT)
            await answering()(connection)

        sink = await raw_sink(answer_together)
        posts = asyncio.gather(*(client.post(sink.url, HEADERS, BODY) for _ in range(concurrent)))
        await wait_until(lambda: len(sink.requests) == concurrent, what="every POST arriving")

        # when
        all_arrived.set()
        await posts

        # then the ones beyond the limit are closed, and the kept ones serve the next POSTs
        await wait_until(
            lambda: sum(connection.ended for connection in sink.connections) == concurrent - IDLE_PER_ORIGIN,
            what="the connections beyond the limit closing",
        )
        await asyncio.gather(*(client.post(sink.url, HEADERS, BODY) for _ in range(IDLE_PER_ORIGIN)))
        assert len(sink.connections) == concurrent

    async def test_close_closes_the_open_connections(
        self, client: SinkClient, raw_sink: StartRawSink
    ) -> None:
        # given
        sink = await raw_sink()
        await client.post(sink.url, HEADERS, BODY)

        # when
        client.close()

        # then
        await wait_until(lambda: sink.connections[0].ended, what="the sink seeing the connection end")


class TestAnswers:
    async def test_a_chunked_answer_gives_its_status(
        self, client: SinkClient, raw_sink: StartRawSink
    ) -> None:
        # given
        chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        sink = await raw_sink(answering(chunked))

        # when
        answer = await client.post(sink.url, HEADERS, BODY)

        # then
        assert answer == Answer(200, "OK")

    async def test_an_answer_without_length_that_ends_with_the_connection_gives_its_status(
        self, client: SinkClient, raw_sink: StartRawSink
    ) -> None:
        # given
        sink = await raw_sink(answering(b"HTTP/1.1 202 Accepted\r\n\r\ntaken, body until the close", times=1))

        # when
        answer = await client.post(sink.url, HEADERS, BODY)

        # then
        assert answer == Answer(202, "Accepted")

    async def test_an_interim_100_continue_is_skipped_for_the_final_answer(
        self, client: SinkClient, raw_sink: StartRawSink
    ) -> None:
        # given
        interim = b"HTTP/1.1 100 Continue\r\n\r\n"
        sink = await raw_sink(answering(interim + b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"))

        # when
        answer = await client.post(sink.url, HEADERS, BODY)

        # then
        assert answer == Answer(201, "Created")


class TestNoAnswer:
    async def test_a_sink_that_closes_the_connection_without_answering_is_a_sink_error(
        self, client: SinkClient, raw_sink: StartRawSink
    ) -> None:
        # given
        sink = await raw_sink(dropping)

        # when, then
        with pytest.raises(SinkError, match="closed the connection without an answer"):
            await client.post(sink.url, HEADERS, BODY)

    async def test_a_post_is_not_sent_again_once_bytes_of_an_answer_came_back(
        self, client: SinkClient, raw_sink: StartRawSink
    ) -> None:
        # given the kept-alive connection breaks off in the second answer's status line
        async def answer_then_break_off(connection: RawConnection) -> None:
            await answering(times=1)(connection)
            await answering(b"HTTP/1.1 20", times=1)(connection)

        sink = await raw_sink(answer_then_break_off, answering())
        await client.post(sink.url, HEADERS, BODY)

        # when
        with pytest.raises(SinkError):
            await client.post(sink.url, HEADERS, BODY)

        # then
        assert len(sink.connections) == 1
        assert len(sink.requests) == 2

    async def test_no_answer_within_the_timeout_is_a_sink_error_that_says_so(
        self, new_client: NewClient, raw_sink: StartRawSink
    ) -> None:
        # given
        sink = await raw_sink(ignoring)

        # when, then
        with pytest.raises(SinkError, match=r"no answer within 0\.2 s"):
            await new_client(timeout=0.2).post(sink.url, HEADERS, BODY)

    async def test_a_timed_out_connection_is_not_reused_and_its_late_answer_does_not_leak(
        self, new_client: NewClient, raw_sink: StartRawSink
    ) -> None:
        # given a sink that answers the first POST late, after the client gave up on it
        late = asyncio.Event()

        async def answer_late(connection: RawConnection) -> None:
            await connection.request()
            await late.wait()
            await connection.send(b"HTTP/1.1 500 Too Late\r\nContent-Length: 0\r\n\r\n")

        sink = await raw_sink(answer_late, answering())
        client = new_client(timeout=0.2)
        with pytest.raises(SinkError):
            await client.post(sink.url, HEADERS, BODY)
        late.set()
        await wait_until(lambda: sink.connections[0].finished, what="the late answer")

        # when
        answer = await client.post(sink.url, HEADERS, BODY)

        # then
        assert answer == Answer(204, "No Content")
        assert len(sink.connections) == 2

    async def test_a_refused_connection_is_a_sink_error(self, client: SinkClient) -> None:
        with pytest.raises(SinkError):
            await client.post(f"http://{LOOPBACK}:{free_port()}/events", HEADERS, BODY)

    async def test_an_answer_that_is_not_http_is_a_sink_error(
        self, client: SinkClient, raw_sink: StartRawSink
    ) -> None:
        # given
        sink = await raw_sink(answering(b"SSH-2.0-OpenSSH_9.6\r\n"))

        # when, then
        with pytest.raises(SinkError, match="not HTTP"):
            await client.post(sink.url, HEADERS, BODY)


class TestTLS:
    @pytest.fixture
    def server_tls(self, tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
        """The stand-in server's context and a client's context that trusts its CA."""
        stand_in = tls_stand_in(tmp_path)
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(stand_in.cert_file, stand_in.key_file)
        return server, stand_in.client_context()

    async def test_an_https_sink_verified_with_the_given_ca_gets_the_post(
        self,
        new_client: NewClient,
        raw_sink: StartRawSink,
        server_tls: tuple[ssl.SSLContext, ssl.SSLContext],
    ) -> None:
        # given
        server, trusting = server_tls
        sink = await raw_sink(tls=server)

        # when
        answer = await new_client(tls=trusting).post(sink.url, HEADERS, BODY)

        # then
        assert answer == Answer(204, "No Content")
        assert len(sink.requests) == 1

    async def test_an_https_sink_whose_certificate_another_ca_issued_is_a_sink_error(
        self,
        new_client: NewClient,
        raw_sink: StartRawSink,
        server_tls: tuple[ssl.SSLContext, ssl.SSLContext],
    ) -> None:
        # given
        server, _ = server_tls
        sink = await raw_sink(tls=server)
        elsewhere = ssl.create_default_context()
        trustme.CA().configure_trust(elsewhere)

        # when, then
        with pytest.raises(SinkError, match="certificate verify failed"):
            await new_client(tls=elsewhere).post(sink.url, HEADERS, BODY)
        assert sink.requests == []
