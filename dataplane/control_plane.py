"""How a runtime-side process calls the control plane as the runtime (the watcher posting events, the broker asking
the Director for credentials): the agent's credentials and the control plane's URLs, read from the agent's state
directory (``AGENT_STATE_DIR``) and read again whenever the files change (the agent renews its certificate, or
connects anew).

The files are the agent's: ``client.crt`` (the runtime's certificate chain), ``client.key``, ``ca.crt`` (the only CA
trusted for the control plane's server certificate) and ``management-plane.json`` (``directorUrl``: the Director's
GraphQL URL, whose scheme://host:port is the base URL, unless the caller names a base URL of its own; then the file
is not needed). No runtime-side process shares code with the agent: the file names and format are the contract.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import structlog

log = structlog.get_logger(__name__)

CHAIN_FILE = "client.crt"
KEY_FILE = "client.key"
CA_FILE = "ca.crt"
MANAGEMENT_PLANE_FILE = "management-plane.json"

# What a file looked like when read: a rename (the agent's atomic write) changes the inode, a rewrite the rest.
Signature = tuple[tuple[int, int, int] | None, ...]


class NotReady(Exception):
    """The credentials or the control plane's address cannot be used (yet); the message says why."""


@dataclass(frozen=True)
class ControlPlane:
    """One consistent reading of the files: a new object after every change."""

    base_url: str
    runtime_id: str | None
    context: ssl.SSLContext
    # The Director's GraphQL URL as the agent was told it; None when the caller named the base URL.
    director_url: str | None = None


def base_url(url: str) -> str:
    """scheme://host:port of an https URL; checked here, because an unparsable host or port would otherwise raise
    out of the delivery loop (it is no connection error) and end the delivery for good."""
    refused = NotReady(f"the control plane URL {url!r} is not an https URL")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port that is not a number from 0 to 65535
    except ValueError:
        raise refused from None
    if parts.scheme != "https" or not parts.hostname or port == 0:
        raise refused
    return f"{parts.scheme}://{parts.netloc}"


class ControlPlaneCredentials:
    def __init__(self, state_dir: Path, control_plane_url: str | None = None) -> None:
        """``control_plane_url``: the base URL to post to, in place of the one the agent's Director URL gives
        (``ValueError`` unless it is https: the certificate is the runtime's identity)."""
        if control_plane_url is not None:
            try:
                base_url(control_plane_url)
            except NotReady as error:
                raise ValueError(str(error)) from None
        self.state_dir = state_dir
        self._override = control_plane_url.rstrip("/") if control_plane_url else None
        self._files = [state_dir / name for name in (CHAIN_FILE, KEY_FILE, CA_FILE)]
        if self._override is None:
            self._files.append(state_dir / MANAGEMENT_PLANE_FILE)
        self._signature: Signature | None = None
        self._current: ControlPlane | None = None
        self.problem: str | None = "not read yet"

    def current(self) -> ControlPlane | None:
        """The control plane as the files say now (read again only when they changed), or None, with
        ``problem`` saying why, when they cannot be used."""
        signature = self._stat()
        if signature != self._signature or self._current is None:
            self._read(signature)
        return self._current

    def reload(self) -> ControlPlane | None:
        """Reads the files again even if they look unchanged (the control plane refused the certificate)."""
        self._read(self._stat())
        return self._current

    def _read(self, signature: Signature) -> None:
        try:
            plane = self._load()
        except NotReady as error:
            if str(error) != self.problem:
                log.warning("control_plane_not_ready", reason=str(error), state_dir=str(self.state_dir))
            self._current, self._signature, self.problem = None, None, str(error)
            return
        if self._current is None or plane.base_url != self._current.base_url:
            log.info("control_plane_credentials_read", base_url=plane.base_url, runtime_id=plane.runtime_id)
        self._current, self._signature, self.problem = plane, signature, None

    def _load(self) -> ControlPlane:
        chain, key, ca = self._files[:3]
        try:
            context = ssl.create_default_context(cadata=ca.read_text())
            context.load_cert_chain(chain, key)
        except FileNotFoundError as error:
            missing = Path(str(error.filename)).name
            raise NotReady(f"no {missing} in {self.state_dir}: the agent has not connected") from None
        except (ssl.SSLError, ValueError, OSError) as error:
            # Also what a read between the agent's renames of a new key and its certificate gives: the next
            # attempt finds them matching again.
            raise NotReady(f"the agent's credentials in {self.state_dir} cannot be used: {error}") from None
        if self._override is not None:
            return ControlPlane(self._override, None, context)
        url, runtime_id = self._management_plane()
        return ControlPlane(base_url(url), runtime_id, context, url)

    def _management_plane(self) -> tuple[str, str | None]:
        path = self.state_dir / MANAGEMENT_PLANE_FILE
        try:
            info = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise NotReady(
                f"no {MANAGEMENT_PLANE_FILE} in {self.state_dir}: the agent has not connected"
            ) from None
        except (OSError, ValueError) as error:
            raise NotReady(f"{path} cannot be read: {error}") from None
        url = info.get("directorUrl") if isinstance(info, dict) else None
        if not isinstance(url, str):
            raise NotReady(f"{path} has no directorUrl")
        runtime_id = info.get("runtimeId")
        return url, runtime_id if isinstance(runtime_id, str) else None

    def _stat(self) -> Signature:
        signature: list[tuple[int, int, int] | None] = []
        for path in self._files:
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                signature.append(None)
            else:
                signature.append((stat.st_ino, stat.st_mtime_ns, stat.st_size))
        return tuple(signature)


class _Counted(httpx.AsyncBaseTransport):
    """A client's transport that counts the requests in flight (until their response is closed: read, or failed),
    so a client replaced after a renewal is closed once its last request is done, not under it."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport
        self._in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._in_flight += 1
        self.idle.clear()
        try:
            response = await self._transport.handle_async_request(request)
        except BaseException:
            self._done()
            raise
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Released(response.stream, self._done),
            extensions=response.extensions,
        )

    def _done(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self.idle.set()

    async def aclose(self) -> None:
        await self._transport.aclose()


class _Released(httpx.AsyncByteStream):
    """A response's body that tells its transport once, when closed, that the request is done."""

    def __init__(
        self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, done: Callable[[], None]
    ) -> None:
        assert isinstance(stream, httpx.AsyncByteStream)  # noqa: S101 - an async transport's response
        self._stream, self._done = stream, done
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if not self._released:
                self._released = True
                self._done()


class ControlPlaneClient:
    """An HTTP client presenting the runtime's certificate as the files hold it now: a new client once they
    changed (the agent renewed the certificate); the replaced one is closed once no request uses it any more (a
    request under way when a renewal is noticed completes on the client it started with)."""

    def __init__(self, credentials: ControlPlaneCredentials, timeout: float) -> None:
        self.credentials, self.timeout = credentials, timeout
        self._plane: ControlPlane | None = None
        self._http: httpx.AsyncClient | None = None
        self._transport: _Counted | None = None
        self._retiring: set[asyncio.Task[None]] = set()

    async def current(self) -> tuple[ControlPlane, httpx.AsyncClient] | None:
        """The control plane and a client for it, or None (``credentials.problem`` says why)."""
        plane = self.credentials.current()
        if plane is not self._plane:
            self._retire()
            self._plane = plane
            if plane is not None:
                self._transport = _Counted(httpx.AsyncHTTPTransport(verify=plane.context))
                self._http = httpx.AsyncClient(
                    transport=self._transport, timeout=self.timeout, trust_env=False
                )
        if plane is None or self._http is None:
            return None
        return plane, self._http

    def _retire(self) -> None:
        if self._http is not None and self._transport is not None:
            task = asyncio.create_task(_close_when_idle(self._http, self._transport))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
        self._plane = self._http = self._transport = None

    async def aclose(self) -> None:
        """The current client and the replaced ones closed now (the process stops: their requests end too)."""
        http = self._http
        self._plane = self._http = self._transport = None
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        if http is not None:
            await http.aclose()


async def _close_when_idle(http: httpx.AsyncClient, transport: _Counted) -> None:
    try:
        await transport.idle.wait()
    finally:
        await http.aclose()
