"""Serving several ASGI listeners from one process (the gateway's three, the event ingress's two): every port is
bound before anything starts, so a port in use is one clear error; SIGTERM or a first Ctrl-C stops all listeners
gracefully (calls in flight finish), a second Ctrl-C stops them at once."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
import uvicorn

log = structlog.get_logger("dataplane.serving")


class ListenError(Exception):
    """A listener's address could not be bound; the message names the listener, the address and why."""


@dataclass(frozen=True)
class Listener:
    name: str  # for messages: "standalone proxy", "health and metrics", ...
    app: Any  # an ASGI application
    host: str
    port: int
    # A proxy answers with the target's Date and Server headers, not uvicorn's.
    proxy: bool = False
    # uvicorn's TLS options (ssl_certfile, ssl_keyfile, ssl_ca_certs, ssl_cert_reqs) for an HTTPS listener.
    tls: dict[str, Any] = field(default_factory=dict)


def bind(listeners: list[Listener]) -> list[socket.socket]:
    sockets: list[socket.socket] = []
    try:
        for listener in listeners:
            family = socket.AF_INET6 if ":" in listener.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((listener.host, listener.port))
            except OSError as exc:
                raise ListenError(
                    f"cannot listen on {listener.host}:{listener.port} for the {listener.name}: {exc.strerror}"
                ) from exc
            sock.set_inheritable(True)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class _Server(uvicorn.Server):
    """Leaves signals to ``serve``: one handler stops every listener of the process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def uvicorn_config(listener: Listener) -> uvicorn.Config:
    """How every runtime-side listener is served (benches that serve one in-process use it too)."""
    return uvicorn.Config(
        listener.app,
        lifespan="off",
        log_config=None,
        access_log=False,
        ws="none",
        server_header=not listener.proxy,
        date_header=not listener.proxy,
        # The peer is always the connection's: uvicorn's proxy headers would put a loopback caller's
        # X-Forwarded-For in its place, letting it pose as a trusted proxy (EVENTS_TRUSTED_PROXIES) or as anyone.
        proxy_headers=False,
        timeout_graceful_shutdown=30,
        **listener.tls,
    )


async def serve(listeners: list[Listener], sockets: list[socket.socket]) -> int:
    """Serves until a signal (or a listener failing); 0 when every listener stopped cleanly."""
    servers = [_Server(uvicorn_config(listener)) for listener in listeners]
    loop = asyncio.get_running_loop()
    interrupted = False

    def stop(signum: int) -> None:
        nonlocal interrupted
        force = signum == signal.SIGINT and interrupted
        interrupted = interrupted or signum == signal.SIGINT
        for server in servers:
            server.should_exit = True
            server.force_exit = server.force_exit or force

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)
    try:
        tasks = [
            asyncio.create_task(_serve(server, sock)) for server, sock in zip(servers, sockets, strict=True)
        ]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for server in servers:
            server.should_exit = True
        statuses = [task.result() for task in done] + list(await asyncio.gather(*pending))
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return next((status for status in statuses if status), 0)


async def _serve(server: uvicorn.Server, sock: socket.socket) -> int:
    """uvicorn ends a failed start-up with ``sys.exit(3)``: kept inside this task, it is an exit status."""
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


class Service(Protocol):
    """What a runtime-side command serves: started once its ports are bound, stopped when serving ends."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def run_service(
    service: Service, listeners: list[Listener], *, start_errors: tuple[type[Exception], ...]
) -> int:
    """A command's whole life: bind every port (a port in use: one line, exit 1), start (one of
    ``start_errors``: one line ``cannot start: ...``, exit 1), serve until a signal, stop."""
    try:
        sockets = bind(listeners)
    except ListenError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        await service.start()
    except start_errors as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        for sock in sockets:
            sock.close()
        await service.stop()
        return 1
    for listener, sock in zip(listeners, sockets, strict=True):
        host, port = sock.getsockname()[:2]
        scheme = "https" if listener.tls else "http"
        log.info("listening", listener=listener.name, url=f"{scheme}://{host}:{port}")
    try:
        return await serve(listeners, sockets)
    finally:
        await service.stop()
