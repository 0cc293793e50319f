"""Push: the agent keeps one change stream open to the Director and syncs as soon as it says the view changed.

``GET <director>/changes`` (the directorURL with its last segment ``graphql`` replaced by ``changes``), over the
same mTLS connection as the sync, answers server-sent events: ``subscribed`` at once, ``changed`` whenever the
runtime's view may have changed, and a ``: heartbeat`` comment every 20 s. On ``subscribed`` (what changed before
the stream opened) and on every ``changed`` the loop is nudged: it syncs at once, with ``If-None-Match``, instead
of waiting out its period. The period stays as the periodic resync.

- A stream that drops, ends or cannot be opened is opened again after an exponential backoff with jitter (from
  ``PUSH_RETRY_SECONDS``, the server's ``retry``, to ``PUSH_RETRY_CAP_SECONDS``), back to the start after a
  stream that said ``subscribed``. Nothing heard for ``PUSH_SILENCE_SECONDS`` (three heartbeats) is a dead stream.
- 404, 405 or 501, or an answer that is not an event stream: the Director has no push (Compass's own): tried again
  after ``PUSH_UNAVAILABLE_SECONDS``; the agent syncs at its period meanwhile.
- 401 or 403: the certificate is refused; the loop is nudged, and its sync finds out why (a revocation makes it
  give the certificate up, which ends the stream).
- No certificate, no stream; a renewed certificate reopens the stream with the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import structlog

from agent.connection import Backoff, Connection
from agent.director_client import mtls_context

log = structlog.get_logger(__name__)

PUSH_RETRY_SECONDS = 5.0
PUSH_RETRY_CAP_SECONDS = 300.0
PUSH_UNAVAILABLE_SECONDS = 1800.0
PUSH_SILENCE_SECONDS = 60.0
NO_PUSH_STATUSES = frozenset({404, 405, 501})
REFUSED_STATUSES = frozenset({401, 403})
EVENT_STREAM = "text/event-stream"


@dataclass(frozen=True)
class Event:
    name: str
    data: str


class EventStreamParser:
    """Server-sent events (the WHATWG ``text/event-stream`` format) from text as it arrives, in chunks that may
    split a line anywhere (even between CR and LF). Comments and ``id``/``retry`` fields are read past. An event
    with a name but no data still counts (the spec drops it; our server always sends data)."""

    def __init__(self) -> None:
        self._pending = ""
        self._name = ""
        self._data: list[str] = []

    def feed(self, text: str) -> list[Event]:
        self._pending += text
        events = []
        for line in self._complete_lines():
            if line == "":
                if self._name or self._data:
                    events.append(Event(self._name or "message", "\n".join(self._data)))
                self._name, self._data = "", []
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                self._name = value
            elif field == "data":
                self._data.append(value)
        return events

    def _complete_lines(self) -> Iterator[str]:
        while True:
            ends = (index for index in (self._pending.find("\r"), self._pending.find("\n")) if index >= 0)
            end = min(ends, default=-1)
            # A CR at the end of the text may be the first half of a CRLF: wait for what follows.
            if end < 0 or (self._pending[end] == "\r" and end == len(self._pending) - 1):
                return
            line = self._pending[:end]
            skip = 2 if self._pending.startswith("\r\n", end) else 1
            self._pending = self._pending[end + skip :]
            yield line


def changes_url(director_url: str) -> str | None:
    """The change stream's URL beside the Director's GraphQL endpoint; None when that does not end in graphql."""
    url = httpx.URL(director_url)
    head, _, last = url.path.rstrip("/").rpartition("/")
    if last != "graphql":
        return None
    return str(url.copy_with(path=f"{head}/changes", query=None))


class ChangeSubscription:
    """The change stream of the current connection, in a task of its own beside the loop; ``nudge`` is called on
    ``subscribed`` and ``changed`` (and when the certificate is refused)."""

    def __init__(
        self, nudge: Callable[[], None], *, runtime_id: str, timeout: float, rng: random.Random
    ) -> None:
        self.nudge = nudge
        self.runtime_id = runtime_id
        self.timeout = timeout
        self.rng = rng
        self._task: asyncio.Task[None] | None = None
        self._following: tuple[str, str] | None = None

    async def follow(self, director_url: str | None, connection: Connection | None) -> None:
        """Streams for this connection from now on (None: no stream); the same one again changes nothing."""
        key = (director_url, connection.credentials.serial) if director_url and connection else None
        if key == self._following:
            return
        await self.aclose()
        if director_url is None or connection is None:
            return
        self._following = key
        url = changes_url(director_url)
        if url is None:
            reason = f"{director_url} does not end in /graphql: no change stream beside it"
            log.warning("push_unavailable", runtime_id=self.runtime_id, reason=reason)
            return
        self._task = asyncio.create_task(self._stream_forever(url, connection))

    async def aclose(self) -> None:
        task, self._task, self._following = self._task, None, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _stream_forever(self, url: str, connection: Connection) -> None:
        store = connection.store
        backoff = Backoff(base=PUSH_RETRY_SECONDS, cap=PUSH_RETRY_CAP_SECONDS)
        timeout = httpx.Timeout(self.timeout, read=PUSH_SILENCE_SECONDS)
        while True:
            try:
                context = mtls_context(store.chain_file, store.key_file, store.ca_file)
                async with httpx.AsyncClient(verify=context, timeout=timeout, trust_env=False) as http:
                    delay = await self._listen(http, url, backoff)
            except (httpx.HTTPError, OSError) as error:  # ssl.SSLError is an OSError
                delay = self._lost(backoff, f"{type(error).__name__}: {error}")
            except Exception:  # the stream is an optimisation: a bug in it must not end it for good
                log.exception("push_failed", runtime_id=self.runtime_id)
                delay = backoff.next_delay(self.rng)
            await asyncio.sleep(delay)

    async def _listen(self, http: httpx.AsyncClient, url: str, backoff: Backoff) -> float:
        """One stream, until it ends; the seconds to wait before the next."""
        async with http.stream("GET", url, headers={"Accept": EVENT_STREAM}) as response:
            status = response.status_code
            streams = response.headers.get("content-type", "").startswith(EVENT_STREAM)
            if status in NO_PUSH_STATUSES or (status == httpx.codes.OK and not streams):
                delay = PUSH_UNAVAILABLE_SECONDS * self.rng.uniform(0.8, 1.2)
                log.info(
                    "push_unavailable",
                    runtime_id=self.runtime_id,
                    status=status,
                    next_attempt_seconds=round(delay),
                )
                return delay
            if status != httpx.codes.OK:
                if status in REFUSED_STATUSES:
                    self.nudge()  # the sync finds out whether the certificate was revoked
                return self._lost(backoff, f"the Director answered HTTP {status}")
            parser = EventStreamParser()
            try:
                async for text in response.aiter_text():
                    for event in parser.feed(text):
                        self._received(event, backoff)
            except httpx.ReadTimeout:
                return self._lost(backoff, f"nothing heard for {PUSH_SILENCE_SECONDS:g} s (no heartbeat)")
        return self._lost(backoff, "the Director ended the stream")

    def _received(self, event: Event, backoff: Backoff) -> None:
        if event.name == "subscribed":
            backoff.reset()
            log.info("push_subscribed", runtime_id=self.runtime_id)
        elif event.name == "changed":
            log.debug("push_changed", runtime_id=self.runtime_id)
        else:
            return
        self.nudge()

    def _lost(self, backoff: Backoff, reason: str) -> float:
        delay = backoff.next_delay(self.rng)
        log.warning(
            "push_lost", runtime_id=self.runtime_id, reason=reason, next_attempt_seconds=round(delay, 1)
        )
        return delay
