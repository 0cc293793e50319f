"""What the ingress's unit tests share: an event log in memory, client certificates by CN, and the ingress over
ASGI with the TLS extension a verified handshake would have put in the scope (the real-TLS tests are the
served process's)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trustme

from dataplane.catalog.directory import DirectoryCatalog
from events.ingress import Ingress, Receive, Scope, Send
from events.model import DeadLetter, Event, StoredEvent
from events.settings import EventsSettings
from events.store.base import StoreUnavailable
from testing.applications import ManifestDirectory

PROXY = "10.0.0.7"
ELSEWHERE = "10.0.1.9"


@dataclass
class MemoryLog:
    """The EventLog protocol in a list; ``unavailable`` makes ``append`` fail as a backend that is down."""

    stored: list[StoredEvent] = field(default_factory=list)
    cursors: dict[str, int] = field(default_factory=dict)
    letters: list[DeadLetter] = field(default_factory=list)
    unavailable: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def events(self) -> list[Event]:
        return [stored.event for stored in self.stored]

    async def start(self) -> None:
        """Nothing to open."""

    async def stop(self) -> None:
        """Nothing to close."""

    async def append(self, events: Sequence[Event]) -> list[int]:
        if self.unavailable:
            raise StoreUnavailable("the bus is down")
        first = len(self.stored) + 1
        self.stored.extend(StoredEvent(first + index, event, 0.0) for index, event in enumerate(events))
        self.changed.set()
        return list(range(first, len(self.stored) + 1))

    async def read(self, after: int, limit: int) -> list[StoredEvent]:
        return self.stored[after : after + limit]

    async def wait_for(self, after: int, timeout: float) -> bool:  # noqa: ASYNC109 - the protocol's signature
        try:
            async with asyncio.timeout(timeout):
                while len(self.stored) <= after:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            return False
        return True

    async def head(self) -> int:
        return len(self.stored)

    async def cursor(self, subscription: str) -> int | None:
        return self.cursors.get(subscription)

    async def save_cursor(self, subscription: str, sequence: int) -> None:
        self.cursors[subscription] = sequence

    async def dead_letter(self, letter: DeadLetter) -> None:
        self.letters.append(letter)

    async def dead_letters(self, subscription: str | None = None) -> list[DeadLetter]:
        return [letter for letter in self.letters if subscription in (None, letter.subscription)]


@functools.cache
def _ca() -> trustme.CA:
    return trustme.CA()


@functools.cache
def certificate(common_name: str) -> str:
    """A client certificate's PEM with this CN (the issuer does not matter: the listener verified it)."""
    return (
        _ca()
        .issue_cert(f"{common_name}.example", common_name=common_name)
        .cert_chain_pems[0]
        .bytes()
        .decode()
    )


class WithClientCertificate:
    """The ingress as uvicorn with TLSHttpToolsProtocol calls it: the ``tls`` extension carries the leaf."""

    def __init__(self, app: Any, pem: str | None) -> None:
        self.app, self.pem = app, pem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tls = {"client_cert_chain": [self.pem] if self.pem else [], "client_cert_error": None}
        await self.app({**scope, "extensions": {**scope.get("extensions", {}), "tls": tls}}, receive, send)


@dataclass
class Harness:
    """An ingress over a manifest directory (as the agent writes it) and a log in memory."""

    manifests: ManifestDirectory
    log: MemoryLog
    ingress: Ingress

    @classmethod
    def create(cls, directory: Path, **settings: Any) -> Harness:
        manifests, log = ManifestDirectory(directory), MemoryLog()
        ingress = Ingress(DirectoryCatalog(directory), log, EventsSettings(**settings))
        return cls(manifests, log, ingress)

    def client(self, common_name: str | None = None, *, peer: str = "127.0.0.1") -> httpx.AsyncClient:
        """A client presenting a certificate with ``common_name`` (None: no certificate), from ``peer``."""
        pem = certificate(common_name) if common_name is not None else None
        transport = httpx.ASGITransport(app=WithClientCertificate(self.ingress, pem), client=(peer, 40000))
        return httpx.AsyncClient(transport=transport, base_url="https://events.test")

    def plain_client(self, *, peer: str) -> httpx.AsyncClient:
        """A client on a connection without TLS (behind a proxy that terminated it)."""
        transport = httpx.ASGITransport(app=self.ingress, client=(peer, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://events.test")
