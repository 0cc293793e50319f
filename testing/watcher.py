"""The Runtime Watcher as an operator runs it: ``compass-watcher serve`` in a process of its own, its webhook called
over HTTPS as the API server calls it (verified against the published ``ca.crt`` for the Service's name), and a
control plane that accepts connections and never answers."""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
from cryptography import x509

from testing.ports import LOOPBACK, free_port, loopback_socket
from testing.served import ServedProcess
from watcher.events import WatchEvent

WATCHER = Path(sys.executable).with_name("compass-watcher")
# The name the API server verifies the webhook's certificate for: <WATCHER_SERVICE_NAME>.<namespace>.svc.
SERVICE_HOST = "compass-watcher.kyma-system.svc"


@dataclass(frozen=True)
class Handshake:
    version: str  # "TLSv1.3"
    certificate: x509.Certificate  # the serving certificate presented


@dataclass
class ServedWatcher:
    process: ServedProcess
    port: int
    tls_dir: Path
    spool_dir: Path

    @property
    def webhook_url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.process.http_url

    def bundle(self) -> bytes:
        """The CA bundle as published now (what the agent renders into ``caBundle``)."""
        return (self.tls_dir / "ca.crt").read_bytes()

    def client_context(self, bundle: bytes | None = None) -> ssl.SSLContext:
        """An API server's context: trusts ``bundle`` (default: the one published now), and only it."""
        return ssl.create_default_context(cadata=(bundle or self.bundle()).decode("ascii"))

    def post(self, path: str, content: bytes, *, method: str = "POST") -> httpx.Response:
        """As the API server calls a webhook: HTTPS to the Service's name, ``?timeout=3s``, a JSON body."""
        with httpx.Client(verify=self.client_context(), timeout=10, trust_env=False) as client:
            return client.request(
                method,
                f"{self.webhook_url}{path}",
                params={"timeout": "3s"},
                content=content,
                headers={"Content-Type": "application/json", "Host": f"{SERVICE_HOST}:443"},
                extensions={"sni_hostname": SERVICE_HOST},
            )

    def spooled(self) -> list[WatchEvent]:
        """The events in the spool (one file per event, named by sequence), oldest first."""
        return [WatchEvent.from_json(path.read_bytes()) for path in sorted(self.spool_dir.glob("*.event"))]

    def handshake(self, context: ssl.SSLContext, server_hostname: str = SERVICE_HOST) -> Handshake:
        """One TLS handshake with the webhook, the server verified by ``context`` for ``server_hostname``."""
        with (
            socket.create_connection((LOOPBACK, self.port), timeout=10) as connection,
            context.wrap_socket(connection, server_hostname=server_hostname) as tls,
        ):
            certificate = tls.getpeercert(binary_form=True)
            assert certificate is not None
            return Handshake(str(tls.version()), x509.load_der_x509_certificate(certificate))

    def metrics(self) -> str:
        return httpx.get(f"{self.api_url}/metrics", timeout=10).text


def start_watcher(state_dir: Path, directory: Path, **settings: str) -> ServedWatcher:
    """Started and ready, with its certificates and spool under ``directory``; ``settings`` are WATCHER_* beyond
    the defaults (``ca_days="0.5"`` sets WATCHER_CA_DAYS). The caller stops ``process``."""
    env = {
        "AGENT_STATE_DIR": str(state_dir),
        "WATCHER_TLS_DIR": str(directory / "tls"),
        "WATCHER_SPOOL_DIR": str(directory / "spool"),
        "WATCHER_PORT": str(free_port()),
        "WATCHER_API_PORT": str(free_port()),
        **{f"WATCHER_{name.upper()}": value for name, value in settings.items()},
    }
    process = ServedProcess(
        "compass-watcher",
        [str(WATCHER), "serve"],
        log=directory / "watcher.log",
        env=env,
        http_port=int(env["WATCHER_API_PORT"]),
    )
    process.start()
    try:
        process.wait_ready()
    except BaseException:
        process.stop()
        raise
    return ServedWatcher(
        process, int(env["WATCHER_PORT"]), Path(env["WATCHER_TLS_DIR"]), Path(env["WATCHER_SPOOL_DIR"])
    )


class SilentListener:
    """A control plane that hangs: TCP connections are accepted and never answered (no TLS handshake even)."""

    def __init__(self) -> None:
        self._socket = loopback_socket()
        self._socket.listen()
        self._socket.settimeout(0.1)
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self._socket.getsockname()[1]}"

    @property
    def accepted(self) -> int:
        with self._lock:
            return len(self._held)

    def _accept(self) -> None:
        while not self._closed.is_set():
            with contextlib.suppress(TimeoutError):
                connection, _ = self._socket.accept()
                with self._lock:
                    self._held.append(connection)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._closed.set()
        self._thread.join()
        with self._lock:
            for connection in self._held:
                connection.close()
        self._socket.close()
