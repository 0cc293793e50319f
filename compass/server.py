"""Runs the one ASGI app on two listeners: plain HTTP, and HTTPS that asks for (not requires) a client certificate.

With ``workers > 1`` (``compass serve --workers N``) a supervising parent does what must happen once (the
CA, the JWT signing key, the TLS files), binds the listening sockets (a pair per worker on the same two ports,
with SO_REUSEPORT) and forks N workers. Each worker builds its own app, ``Database`` and event loop after the
fork and serves both listeners on its inherited pair; the kernel spreads new connections over the workers.

What each process keeps for itself stays correct across processes: a one-time token is spent by one
conditional UPDATE; kept runtime answers and ETags are keyed by revisions read from the database per poll;
last-seen flushes never move a time backwards. Per process, and so N times looser in all: the Connector's
token-call rate limit (``redemptions_per_second``). ``/metrics`` sums every worker's counters, through files in
``PROMETHEUS_MULTIPROC_DIR`` (``$COMPASS_DATA_DIR/metrics`` unless set; emptied at each start).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import gc
import logging
import os
import re
import signal
import socket
import ssl
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import NoReturn
from urllib.parse import unquote_plus

import structlog
import uvicorn
import uvloop
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from compass.app import create_app, load_certificate_authority
from compass.auth.jwt import load_or_create_signing_key
from compass.connections import ConnectionLimits, connection_cap, guarded
from connector.ca.authority import CertificateAuthority
from connector.ca.files import private_directory, write_private_file, write_public_file
from kernel.observability.metrics import SHARED_ACROSS_PROCESSES
from kernel.settings import Settings
from tlsext import TLSHttpToolsProtocol

# A query parameter: its name (up to "="), its value (up to the next "&" or ";", the separators clients use).
_QUERY_PARAMETER = re.compile(r"(?P<name>[^?&;=\s]*)=(?P<value>[^&;\s]*)")
log = structlog.get_logger("compass.server")


@dataclass(frozen=True)
class TLSFiles:
    certificate: Path
    key: Path
    #: pycompass's own CA chain (``client-ca.pem``): what clients verify the server certificate against.
    client_ca: Path
    #: What the listener verifies client certificates against: the own chain and the external CAs, if any.
    accepted_client_cas: Path


def prepare_tls(settings: Settings, ca: CertificateAuthority) -> TLSFiles:
    """The operator's server certificate, or a fresh one from our CA for the configured host names."""
    directory = private_directory(settings.data_dir / "tls")
    client_ca, accepted = directory / "client-ca.pem", directory / "accepted-client-cas.pem"
    # The whole chain up to the root: OpenSSL will not verify clients against an intermediate alone.
    chain = ca.ca_chain_pem.encode()
    write_public_file(client_ca, chain)
    # The external CAs only in the listener's file: in client-ca.pem they could vouch for a server certificate.
    # The middleware tells the two kinds of client certificate apart.
    external = settings.external_client_ca_file.read_bytes() if settings.external_client_ca_file else b""
    write_public_file(accepted, chain + (b"\n" + external if external else b""))
    if settings.tls_cert_file and settings.tls_key_file:
        return TLSFiles(settings.tls_cert_file, settings.tls_key_file, client_ca, accepted)
    credentials = ca.issue_server_certificate(settings.tls_hostnames)
    certificate, key = directory / "server.pem", directory / "server-key.pem"
    write_public_file(certificate, credentials.certificate_pem.encode())
    write_private_file(key, credentials.key_pem.encode())
    return TLSFiles(certificate, key, client_ca, accepted)


def _redact_token(parameter: re.Match[str]) -> str:
    if "token" not in unquote_plus(parameter["name"]).lower():
        return parameter[0]
    return f"{parameter['name']}=[redacted]"


def redact_query_tokens(text: str) -> str:
    """Redacts, after the first ``?``, the value of every parameter whose *decoded* name contains ``token``:
    the server reads ``%74oken=`` as ``token=``, and the log must not keep what it took for a token."""
    path, question, query = text.partition("?")
    return f"{path}{question}{_QUERY_PARAMETER.sub(_redact_token, query)}" if question else text


class RedactQueryTokens(logging.Filter):
    """uvicorn's access line carries the query string, and with it a one-time token sent as ``?token=``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query_tokens(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def server_configs(settings: Settings, app: Starlette, tls: TLSFiles) -> list[uvicorn.Config]:
    limits = ConnectionLimits(
        header_timeout=settings.request_header_timeout_seconds,
        body_timeout=settings.request_body_timeout_seconds,
        max_connections=connection_cap(settings.max_connections, listeners=2),
    )
    config = functools.partial(
        uvicorn.Config,
        host=settings.host,
        log_config=None,
        loop="uvloop",
        proxy_headers=False,
        # uvicorn annotates an int, yet only hands it to loop.call_later, which takes fractions of a second too.
        timeout_keep_alive=settings.keep_alive_timeout_seconds,  # type: ignore[arg-type]
        ws="none",  # nothing here speaks WebSocket: an upgrade request is an ordinary request
    )
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(item, RedactQueryTokens) for item in access_log.filters):
        access_log.addFilter(RedactQueryTokens())
    return [
        config(app, port=settings.http_port, http=guarded(HttpToolsProtocol, limits), lifespan="on"),
        config(
            app,
            port=settings.https_port,
            http=guarded(TLSHttpToolsProtocol, limits),
            lifespan="off",
            ssl_certfile=str(tls.certificate),
            ssl_keyfile=str(tls.key),
            ssl_ca_certs=str(tls.accepted_client_cas),
            ssl_cert_reqs=ssl.CERT_OPTIONAL,
        ),
    ]


async def serve_all(servers: list[uvicorn.Server], sockets: list[socket.socket]) -> int:
    """Serves each server on its socket until one of them stops; the exit status is the first failure's."""
    tasks = [asyncio.create_task(_serve(server, sock)) for server, sock in zip(servers, sockets, strict=True)]
    # Each server installs the signal handlers in turn, so Ctrl-C reaches one of them: it stops the others.
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    statuses = [task.result() for task in done] + await asyncio.gather(*pending)
    return next((status for status in statuses if status), 0)


async def _serve(server: uvicorn.Server, sock: socket.socket) -> int:
    """uvicorn ends a failed start-up with ``sys.exit(3)`` inside its task: escaping the task, that SystemExit
    stopped the event loop at once and left the other task unretrieved (a traceback after the message)."""
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


COLLECTOR_THRESHOLDS = (50_000, 50, 100)
"""A sync answer allocates tens of thousands of short-lived objects; with Python's first threshold (700)
collections took ~20% of CPU on a 200-application page, with 50,000 ~5% (bench/director.py). What a large request
body leaves in cyclic garbage is collected once it is answered (``kernel.http.BodySizeLimitMiddleware``)."""


def _tune_gc() -> None:
    # Start-up garbage (strawberry, SQLAlchemy) is frozen so that gen-2 collections stay short under load.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


def run(settings: Settings, workers: int = 1) -> int:
    """Serves until interrupted; the exit status is non-zero when a listener or a worker failed to start or stop.

    Both ports are bound before anything else starts: a port in use raises ``ListenError``, and nothing ran.
    """
    if workers > 1:
        return run_workers(settings, workers)
    sockets = [sock for group in bind_listeners(settings, 1) for sock in group]
    try:
        ca = load_certificate_authority(settings)
        tls = prepare_tls(settings, ca)
        app = create_app(settings, ca=ca)
        servers: list[uvicorn.Server] = [DrainingServer(config, app.state.draining) for config in server_configs(settings, app, tls)]
        _tune_gc()
        return uvloop.run(serve_all(servers, sockets))
    finally:
        for sock in sockets:
            sock.close()


class ListenError(RuntimeError):
    """A port of the server cannot be listened on (taken, or not allowed); the message names its setting."""


def bind_listeners(settings: Settings, count: int) -> list[list[socket.socket]]:
    """``[HTTP sockets, HTTPS sockets]``, ``count`` listening sockets on each port (one per worker)."""
    groups: list[list[socket.socket]] = []
    for setting, port in (("COMPASS_HTTP_PORT", settings.http_port), ("COMPASS_HTTPS_PORT", settings.https_port)):
        try:
            groups.append(listening_sockets(settings.host, port, count))
        except OSError as error:
            for sock in (sock for group in groups for sock in group):
                sock.close()
            reason = (error.strerror or str(error)).lower()
            raise ListenError(f"cannot listen on {settings.host}:{port} ({setting}): {reason}") from None
    return groups


# --- several worker processes -----------------------------------------------------------------------------

#: uvicorn's exit status for a failed start-up; a worker uses it for any failure before both listeners ran.
STARTUP_FAILURE = 3
#: A worker that dies after it served is started again, unless this many died within RESTART_WINDOW_SECONDS.
MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_PR_SET_PDEATHSIG = 1


def _tcp_socket(host: str) -> socket.socket:
    return socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on one port (SO_REUSEPORT), one per worker: the kernel spreads new
    connections over them evenly. On one shared socket, whichever idle worker wakes first accepts every queued
    connection (libuv accepts until the queue is empty): 30 connections opened at once all went to one worker.

    The sockets stay open in the parent, so connections that arrive for a worker being restarted wait in its
    queue for the replacement. A plain bind first makes sure nobody else holds the port (not even another
    pycompass with SO_REUSEPORT, which would otherwise silently share it).
    """
    with _tcp_socket(host) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = _tcp_socket(host)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(2048)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


@contextlib.contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """Around a fork: a stop signal waits until the child has its handlers and the parent knows its pid."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# uvicorn closes idle keep-alive connections when it stops; over TLS the close waits for the peer's close_notify,
# which a client that reads nothing until its next request (httpx's idle pool) never sends before the TLS shutdown
# timeout, 30 s, all that time holding the stop. A connection still closing after this long is cut instead.
CLOSING_GRACE_SECONDS = 1.0


class DrainingServer(uvicorn.Server):
    """Tells long-lived answers (runtimes' change streams) to end when it stops, before it waits for the open
    requests: otherwise a stream would hold the shutdown for ever. Connections left closing are cut (above)."""

    def __init__(self, config: uvicorn.Config, draining: asyncio.Event) -> None:
        super().__init__(config)
        self.draining = draining

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.draining.set()
        cutter = asyncio.create_task(self._cut_closing_connections())
        try:
            await super().shutdown(sockets)
        finally:
            cutter.cancel()

    async def _cut_closing_connections(self) -> None:
        while True:
            await asyncio.sleep(CLOSING_GRACE_SECONDS)
            for connection in list(self.server_state.connections):
                transport = getattr(connection, "transport", None)
                # Only a close already under way with nothing left to write: an answer is never cut short.
                if transport is not None and transport.is_closing() and not transport.get_write_buffer_size():
                    transport.abort()


class _WorkerServer(DrainingServer):
    """A uvicorn server that leaves signals to its worker: one handler stops both listeners of the process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class _WorkerStop:
    """SIGTERM (or a first SIGINT) stops a worker's servers gracefully; a second SIGINT stops them at once."""

    servers: list[uvicorn.Server] = field(default_factory=list)
    requested: bool = False
    interrupted: bool = False

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        force = signum == signal.SIGINT and self.interrupted
        self.interrupted = self.interrupted or signum == signal.SIGINT
        self.requested = True
        self._apply(force=force)

    def attach(self, servers: list[uvicorn.Server]) -> None:
        self.servers = servers
        if self.requested:
            self._apply(force=False)

    def _apply(self, *, force: bool) -> None:
        for server in self.servers:
            server.should_exit = True
            server.force_exit = server.force_exit or force


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel sends SIGTERM to the worker when the supervisor dies, even of SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _worker_main(settings: Settings, tls: TLSFiles, sockets: list[socket.socket], parent: int) -> int:
    """One worker: its own app, database pool and event loop, built after the fork, on inherited sockets."""
    stop = _WorkerStop()
    for signum in _STOP_SIGNALS:
        signal.signal(signum, stop.handle)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    _die_with_parent(parent)
    servers: list[uvicorn.Server] = []

    def served() -> bool:
        return bool(servers) and all(server.started for server in servers)

    try:
        # The CA and the signing key exist by now (the parent made them): loading them races with nobody.
        app = create_app(settings, ca=load_certificate_authority(settings))
        servers = [_WorkerServer(config, app.state.draining) for config in server_configs(settings, app, tls)]
        stop.attach(servers)
        _tune_gc()
        status = uvloop.run(serve_all(servers, sockets))
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # whatever ends a worker is logged and becomes its exit status
        log.exception("worker_failed", pid=os.getpid())
        return 1 if served() else STARTUP_FAILURE
    if status:
        return status if served() else STARTUP_FAILURE
    return 0 if stop.requested or served() else STARTUP_FAILURE


def _run_worker(settings: Settings, tls: TLSFiles, sockets: list[socket.socket], parent: int) -> NoReturn:
    """In the forked child: never returns into the caller's frames (the CLI), whatever happens."""
    code = 1
    try:
        code = _worker_main(settings, tls, sockets, parent)
    finally:
        with contextlib.suppress(Exception):
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class Supervisor:
    """Forks the workers, forwards stop signals to them, restarts one that died after serving, and waits.

    ``spawn(index)`` runs in the child and must never return; a restarted worker gets the index (and so the
    sockets) of the one it replaces. The first SIGINT or SIGTERM sends SIGTERM to every worker (graceful:
    in-flight requests finish); another one sends SIGKILL.
    """

    def __init__(self, count: int, spawn: Callable[[int], NoReturn]) -> None:
        self.count = count
        self.spawn = spawn
        self.workers: dict[int, int] = {}  # pid -> index
        self.stopping = False
        self.failed = False
        self._stop_requests = 0
        self._restarts: deque[float] = deque()

    def run(self) -> int:
        previous = {signum: signal.signal(signum, self._on_signal) for signum in _STOP_SIGNALS}
        try:
            for index in range(self.count):
                self._fork(index)
            log.info("workers_started", parent=os.getpid(), workers=sorted(self.workers))
            while self.workers:
                try:
                    pid, status = os.wait()
                except ChildProcessError:
                    break
                worker = self.workers.pop(pid, None)
                if worker is not None:
                    self._exited(pid, worker, os.waitstatus_to_exitcode(status))
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        log.info("workers_stopped", failed=self.failed)
        return 1 if self.failed else 0

    def _fork(self, index: int) -> None:
        with _stop_signals_blocked():
            pid = os.fork()
            if pid == 0:
                self.spawn(index)
            self.workers[pid] = index
            if self.stopping:  # a stop request came in while this worker was being started
                os.kill(pid, signal.SIGTERM)

    def _exited(self, pid: int, index: int, code: int) -> None:
        if self.stopping:
            if code != 0:
                self.failed = True
                log.error("worker_failed_to_stop", pid=pid, exit_code=code)
            return
        log.error("worker_died", pid=pid, worker=index, exit_code=code)
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > RESTART_WINDOW_SECONDS:
            self._restarts.popleft()
        if code == STARTUP_FAILURE or len(self._restarts) >= MAX_RESTARTS:
            # Starting again would fail the same way (port, database, migrations): stop everything instead.
            reason = "start-up failure" if code == STARTUP_FAILURE else "restarting too often"
            log.error("workers_giving_up", reason=reason)
            self.failed = True
            self._stop(signal.SIGTERM)
            return
        self._restarts.append(now)
        self._fork(index)
        log.info("worker_restarted", worker=index)

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self._stop_requests += 1
        self._stop(signal.SIGTERM if self._stop_requests == 1 else signal.SIGKILL)

    def _stop(self, signum: int) -> None:
        self.stopping = True
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)


def share_metrics_across_workers(settings: Settings) -> None:
    """Starts this command again with ``PROMETHEUS_MULTIPROC_DIR`` set, unless it is: prometheus-client reads it
    once, at import, and everything is imported by now."""
    if SHARED_ACROSS_PROCESSES:
        return
    directory = private_directory(settings.data_dir / "metrics")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606 - this very command, again


def _forget_metrics_of_earlier_runs() -> None:
    directory = private_directory(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    for stale in directory.glob("*.db"):
        stale.unlink()


def run_workers(settings: Settings, workers: int) -> int:
    """``compass serve --workers N``: the once-only work here, then N forked workers on a socket pair each."""
    if not SHARED_ACROSS_PROCESSES:
        raise RuntimeError("PROMETHEUS_MULTIPROC_DIR must be set before the import: share_metrics_across_workers")
    _forget_metrics_of_earlier_runs()
    ca = load_certificate_authority(settings)
    load_or_create_signing_key(settings.jwt_key_file)  # created with O_EXCL: two workers must not race for it
    tls = prepare_tls(settings, ca)
    sockets = bind_listeners(settings, workers)  # [HTTP sockets, HTTPS sockets], one of each per worker
    parent = os.getpid()
    # Everything is imported by now: the workers share the parent's modules copy-on-write.
    gc.collect()
    gc.freeze()

    def spawn(index: int) -> NoReturn:
        mine = [group[index] for group in sockets]
        for sock in (sock for group in sockets for sock in group if sock not in mine):
            sock.close()
        _run_worker(settings, tls, mine, parent)

    try:
        return Supervisor(workers, spawn).run()
    finally:
        for sock in (sock for group in sockets for sock in group):
            sock.close()
