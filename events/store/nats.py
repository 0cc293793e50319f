"""The event log on NATS JetStream: what Kyma's eventing runs on, and what carries a runtime beyond one machine.

Layout, all derived from the stream name and a subject prefix (``compass`` below):

- the stream ``COMPASS_EVENTS`` (file storage) holds the events as ``compass.events.<source>``, one message per
  event, the stored form of ``Event.to_json``; an event's sequence is its stream sequence (names in subjects and
  keys go through ``subject_token``);
- it republishes the headers of each message once stored as ``compass.stored.<source>`` (``Nats-Sequence`` set):
  the wake-up of ``wait_for``;
- the KeyValue bucket ``COMPASS_EVENTS_CURSORS`` keeps one key per subscription, its last sequence;
- the stream ``COMPASS_EVENTS_DEAD`` keeps dead letters, one message per letter on ``compass.dead.<subscription>``:
  they are only ever added and listed, which a stream does with no read-modify-write.

Reads are direct gets by sequence (``allow_direct``), sent together and answered in about one round trip: no
consumer lives in the server between reads, so any number of subscriptions reading at any position cost it
nothing, and a server restart leaves no consumer to recreate.

Durability: ``append`` returns after JetStream's publish acknowledgement, i.e. once the server wrote the message
to its store. That survives a kill -9 of nats-server (the kernel holds the write); surviving a power loss needs
the server's ``sync_interval: always`` (nats-server 2.10+) or replicas. Publishing carries no ``Nats-Msg-Id``: an
append that timed out may still have been stored, and a resend is delivered twice (at least once, as documented).

Every operation is bounded by ``timeout``; while the connection is down it fails at once. Both raise
``StoreUnavailable`` (the ingress answers 503) and nats-py keeps reconnecting in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.kv import KeyValue

from events.model import DeadLetter, Event, StoredEvent
from events.store.base import StoreUnavailable

# Between two notifications, wait_for asks the stream itself this often: a republish sent while the connection
# was down is not sent again.
RECHECK_SECONDS = 1.0
# The most events one read asks for at once (each is a request in flight); a caller reads on from the last.
READ_BATCH = 1000
_PLAIN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def subject_token(text: str) -> str:
    """``text`` as one subject token and KeyValue key: letters, digits, ``_`` and ``-`` as they are, every other
    UTF-8 byte as ``=XX`` (so ``.``, ``*``, ``>`` and spaces cannot split or widen a subject, and two names never
    share a token; the empty name is ``=``)."""
    return "".join(chr(byte) if byte in _PLAIN else f"={byte:02X}" for byte in text.encode()) or "="


class NatsLog:
    """``EventLog`` on a JetStream server at ``url``: the module docstring has the layout."""

    def __init__(
        self,
        url: str,
        stream: str = "COMPASS_EVENTS",
        *,
        subject_prefix: str = "compass",
        timeout: float = 5.0,
        connect_timeout: int = 5,
    ) -> None:
        self.url = url
        self.stream = stream
        self.dead_stream = f"{stream}_DEAD"
        self.cursor_bucket = f"{stream}_CURSORS"
        self.prefix = subject_prefix
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._cursors: KeyValue | None = None
        self._known_head = 0  # the highest sequence seen stored: only ever behind the stream's, never ahead
        self._advanced = asyncio.Event()

    async def start(self) -> None:
        """Connects and creates (or updates) the streams and the bucket; ``StoreUnavailable`` when the server
        cannot be reached within ``connect_timeout``. Once started, nats-py reconnects for as long as it runs."""
        client = Client()
        try:
            await asyncio.wait_for(
                client.connect(
                    self.url,
                    name="compass-events",
                    connect_timeout=self.connect_timeout,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    error_cb=_ignore,
                ),
                self.connect_timeout,
            )
        except (TimeoutError, OSError, nats.errors.Error) as error:
            await client.close()
            raise StoreUnavailable(f"NATS at {self.url} cannot be reached: {error!r}") from error
        self._nc = client
        self._js = client.jetstream(timeout=self.timeout)
        try:
            async with self._available():
                await client.subscribe(f"{self.prefix}.stored.>", cb=self._on_stored)
                await self._ensure_stream(self._events_config())
                await self._ensure_stream(self._dead_config())
                self._cursors = await self._js.create_key_value(
                    bucket=self.cursor_bucket, history=1, storage=api.StorageType.FILE
                )
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._nc is not None:
            await self._nc.close()
        self._nc = self._js = self._cursors = None

    async def append(self, events: Sequence[Event]) -> list[int]:
        """Publishes every event before awaiting any acknowledgement: concurrent appends share the connection's
        writes and the server's acknowledgements, and one call's events keep their order in the stream."""
        js = self._jetstream()
        async with self._available():
            pending: list[asyncio.Future[api.PubAck]] = []
            try:
                for event in events:
                    subject = f"{self.prefix}.events.{subject_token(event.source)}"
                    pending.append(await js.publish_async(subject, event.to_json(), stream=self.stream))
                acks = await asyncio.wait_for(asyncio.gather(*pending), self.timeout)
            finally:
                for future in pending:
                    future.cancel()  # frees its place in nats-py's window of unacknowledged publishes
        sequences = [ack.seq for ack in acks]
        self._saw(max(sequences, default=0))
        return sequences

    async def read(self, after: int, limit: int) -> list[StoredEvent]:
        first, last = await self._bounds(self.stream)
        start = max(after + 1, first)
        messages = await self._get_range(self.stream, start, min(last, after + min(limit, READ_BATCH)))
        return [
            StoredEvent(sequence=seq, event=Event.from_json(data), stored_at=stored_at)
            for seq, data, stored_at in messages
        ]

    async def wait_for(self, after: int, timeout: float) -> bool:  # noqa: ASYNC109 - EventLog's signature
        """Woken by the stream's republish of each stored message; the stream's own last sequence decides."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self._known_head > after:
                return True
            advanced = self._advanced  # taken before asking, so a republish during the question is not missed
            if await self.head() > after:
                return True
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(advanced.wait(), min(remaining, RECHECK_SECONDS))

    async def head(self) -> int:
        _, last = await self._bounds(self.stream)
        self._saw(last)
        return last

    async def cursor(self, subscription: str) -> int | None:
        cursors = self._cursor_bucket()
        async with self._available():
            try:
                entry = await cursors.get(subject_token(subscription))
            except nats.js.errors.KeyNotFoundError:
                return None
        return int(entry.value or b"0")

    async def save_cursor(self, subscription: str, sequence: int) -> None:
        cursors = self._cursor_bucket()
        async with self._available():
            await cursors.put(subject_token(subscription), str(sequence).encode())

    async def dead_letter(self, letter: DeadLetter) -> None:
        js = self._jetstream()
        subject = f"{self.prefix}.dead.{subject_token(letter.subscription)}"
        async with self._available():
            await js.publish(subject, _letter_json(letter), stream=self.dead_stream)

    async def dead_letters(self, subscription: str | None = None) -> list[DeadLetter]:
        """All of them, oldest first: dead letters are few, so they are fetched whole and filtered here."""
        first, last = await self._bounds(self.dead_stream)
        letters = [
            _letter_from_json(data) for _, data, _ in await self._get_range(self.dead_stream, first, last)
        ]
        return [letter for letter in letters if subscription is None or letter.subscription == subscription]

    def _events_config(self) -> api.StreamConfig:
        return api.StreamConfig(
            name=self.stream,
            subjects=[f"{self.prefix}.events.>"],
            storage=api.StorageType.FILE,
            allow_direct=True,
            republish=api.RePublish(
                src=f"{self.prefix}.events.>", dest=f"{self.prefix}.stored.>", headers_only=True
            ),
        )

    def _dead_config(self) -> api.StreamConfig:
        return api.StreamConfig(
            name=self.dead_stream,
            subjects=[f"{self.prefix}.dead.>"],
            storage=api.StorageType.FILE,
            allow_direct=True,
        )

    async def _ensure_stream(self, config: api.StreamConfig) -> None:
        """Creates the stream, or brings an existing one to this configuration (a restart after an upgrade)."""
        js = self._jetstream()
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await js.update_stream(config)

    async def _bounds(self, stream: str) -> tuple[int, int]:
        """The stream's first and last sequence (0, 0 when it never held a message)."""
        js = self._jetstream()
        async with self._available():
            state = (await js.stream_info(stream)).state
        return max(state.first_seq, 1), state.last_seq

    async def _get_range(self, stream: str, first: int, last: int) -> list[tuple[int, bytes, float]]:
        """Sequence, payload and store time of each message from ``first`` to ``last``, requested together; a
        sequence with no message (deleted) is left out."""
        if last < first:
            return []
        js = self._jetstream()
        async with self._available():
            found = await asyncio.wait_for(
                asyncio.gather(*(_get_or_none(js, stream, seq) for seq in range(first, last + 1))),
                self.timeout,
            )
        return [
            (message.seq or 0, message.data or b"", message.time.timestamp() if message.time else time.time())
            for message in found
            if message is not None
        ]

    async def _on_stored(self, message: Msg) -> None:
        headers = message.headers or {}
        self._saw(int(headers.get("Nats-Sequence", "0")))

    def _saw(self, sequence: int) -> None:
        if sequence > self._known_head:
            self._known_head = sequence
            self._advanced.set()
            self._advanced = asyncio.Event()

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("NatsLog.start() was not called")
        return self._js

    def _cursor_bucket(self) -> KeyValue:
        if self._cursors is None:
            raise RuntimeError("NatsLog.start() was not called")
        return self._cursors

    @contextlib.asynccontextmanager
    async def _available(self) -> AsyncIterator[None]:
        """Fails at once while disconnected (nothing is buffered for a later reconnect), and turns the client's
        errors and time-outs into ``StoreUnavailable``."""
        if self._nc is None or not self._nc.is_connected:
            raise StoreUnavailable(f"not connected to NATS at {self.url}")
        try:
            yield
        except nats.js.errors.NoStreamResponseError as error:
            raise StoreUnavailable("JetStream did not answer (is it enabled on the server?)") from error
        except (TimeoutError, nats.errors.Error) as error:
            raise StoreUnavailable(f"NATS at {self.url}: {error!r}") from error


async def _get_or_none(js: JetStreamContext, stream: str, sequence: int) -> api.RawStreamMsg | None:
    try:
        return await js.get_msg(stream, seq=sequence, direct=True)
    except nats.js.errors.NotFoundError:
        return None


async def _ignore(error: Exception) -> None:
    """nats-py reports each failed (re)connection here; callers see them as ``StoreUnavailable`` instead."""


def _letter_json(letter: DeadLetter) -> bytes:
    document: dict[str, Any] = {
        "subscription": letter.subscription,
        "sequence": letter.sequence,
        "event": json.loads(letter.event.to_json()),
        "attempts": letter.attempts,
        "reason": letter.reason,
        "dead_at": letter.dead_at,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def _letter_from_json(raw: bytes) -> DeadLetter:
    document = json.loads(raw)
    return DeadLetter(
        subscription=document["subscription"],
        sequence=document["sequence"],
        event=Event.from_json(json.dumps(document["event"]).encode()),
        attempts=document["attempts"],
        reason=document["reason"],
        dead_at=document["dead_at"],
    )
