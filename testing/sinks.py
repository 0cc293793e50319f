"""A recording sink for the events' delivery: what a subscriber's service is, on loopback HTTP, for the tests and
the bench.

Every request is recorded (method, path, headers, body, the status answered); ``delivered`` lists those answered
2xx, as ``Received`` with the binary-mode CloudEvent's attributes at hand. Knobs: ``fail(status, times)`` answers
``status`` to the next ``times`` requests (None: until ``recover()``); ``recording = False`` keeps only the
count (a bench). ``stop()`` and ``start()`` again serve on the SAME port, so a subscription's sink URL stays
right while it is down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from testing.ports import LOOPBACK
from testing.threaded import RestartableServer, answer_empty, request_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]  # lower-case names, in order
    body: bytes
    status: int  # what the sink answered
    at: float  # time.monotonic() when it arrived

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)

    def attribute(self, name: str) -> str | None:
        """A CloudEvent attribute as binary mode carries it (``ce-<name>``), percent-decoded."""
        value = self.header(f"ce-{name}")
        return unquote(value) if value is not None else None

    @property
    def id(self) -> str | None:
        return self.attribute("id")

    @property
    def type(self) -> str | None:
        return self.attribute("type")


class RecordingSink(RestartableServer):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.requests: list[Received] = []
        self.delivered_count = 0
        self.recording = True
        self._failing_status = 500
        self._failures_left: int | None = 0  # None: failing until recover()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._port}/events"

    @property
    def delivered(self) -> list[Received]:
        with self._lock:
            return [request for request in self.requests if 200 <= request.status < 300]

    def delivered_ids(self) -> list[str | None]:
        return [request.id for request in self.delivered]

    def fail(self, status: int = 500, times: int | None = None) -> None:
        """Answers ``status`` to the next ``times`` requests, or to every one until ``recover()``."""
        with self._lock:
            self._failing_status, self._failures_left = status, times

    def recover(self) -> None:
        with self._lock:
            self._failures_left = 0

    def reset(self) -> None:
        with self._lock:
            self.requests, self.delivered_count, self.recording = [], 0, True
            self._failures_left = 0

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await answer_empty(send, self._answer(scope, await request_body(receive)))

    def _answer(self, scope: Scope, body: bytes) -> int:
        with self._lock:
            status = 204
            if self._failures_left is None or self._failures_left > 0:
                status = self._failing_status
                if self._failures_left is not None:
                    self._failures_left -= 1
            else:
                self.delivered_count += 1
            if self.recording:
                headers = tuple(
                    (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
                )
                self.requests.append(
                    Received(scope["method"], scope["path"], headers, body, status, time.monotonic())
                )
            return status
