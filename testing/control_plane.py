"""A stand-in for the control plane's watcher event listener (``POST /v2/<module>/event``), over mTLS, for tests of
the watcher's delivery that need answers a real server does not give on demand (500, 400, 403, being down).

One throwaway CA (trustme) signs the server's certificate (127.0.0.1, localhost) and the runtimes' client
certificates: it is the ``ca.crt`` an agent would hold. Client certificates are required and verified by OpenSSL in
the handshake. Every request is recorded with the client certificate's CN and the status answered. Knobs:
``answer(*statuses)`` answers those to the next requests, in turn; ``refuse(credentials)`` answers 403 to that
certificate (revoked, say). ``stop()`` and ``start()`` again serve on the SAME port, so the base URL stays right while it is down.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.x509.oid import NameOID

from dataplane.files import write_private_file
from testing.ports import LOOPBACK
from testing.threaded import RestartableServer, answer_empty, request_body
from tlsext import TLSHttpToolsProtocol, client_certificate_from_scope

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class ReceivedEvent:
    method: str
    path: str
    content_type: str | None
    body: bytes
    common_name: str | None  # of the client certificate
    status: int  # what the stand-in answered


@dataclass(frozen=True)
class ClientCredentials:
    chain_pem: bytes
    key_pem: bytes

    @property
    def serial(self) -> int:
        return x509.load_pem_x509_certificate(self.chain_pem).serial_number


class ControlPlaneStandIn(RestartableServer):
    def __init__(self, directory: Path) -> None:
        super().__init__()
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA()
        self.ca_pem = self.ca.cert_pem.bytes()
        server = self.ca.issue_cert(LOOPBACK, "localhost")
        self._files = {name: directory / name for name in ("ca.crt", "server.crt", "server.key")}
        self._files["ca.crt"].write_bytes(self.ca_pem)
        self._files["server.crt"].write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
        self._files["server.key"].write_bytes(server.private_key_pem.bytes())
        self._lock = threading.Lock()
        self.received: list[ReceivedEvent] = []
        self._answers: deque[int] = deque()
        self._refused: set[int] = set()  # serial numbers

    def issue(self, common_name: str) -> ClientCredentials:
        """A client certificate (and its key) of this CA, as the Connector would sign a runtime's."""
        leaf = self.ca.issue_cert("runtime.invalid", common_name=common_name)
        return ClientCredentials(leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes())

    @property
    def base_url(self) -> str:
        return f"https://{LOOPBACK}:{self._port}"

    @property
    def delivered(self) -> list[ReceivedEvent]:
        """The requests answered 200, in order."""
        with self._lock:
            return [request for request in self.received if request.status == 200]

    def answer(self, *statuses: int) -> None:
        """The next requests get these statuses, one each, in turn; the ones after them 200 again."""
        with self._lock:
            self._answers.extend(statuses)

    def refuse(self, credentials: ClientCredentials) -> None:
        """403 to every request made with this certificate (as to a revoked one)."""
        with self._lock:
            self._refused.add(credentials.serial)

    def _options(self) -> dict[str, Any]:
        return {
            "http": TLSHttpToolsProtocol,
            "ssl_certfile": str(self._files["server.crt"]),
            "ssl_keyfile": str(self._files["server.key"]),
            "ssl_ca_certs": str(self._files["ca.crt"]),
            "ssl_cert_reqs": ssl.CERT_REQUIRED,
        }

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await request_body(receive)
        certificate = client_certificate_from_scope(scope)
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME) if certificate else []
        common_name = str(names[0].value) if names else None
        headers = dict(scope["headers"])
        content_type = headers[b"content-type"].decode() if b"content-type" in headers else None
        with self._lock:
            status = 200
            if certificate is not None and certificate.serial_number in self._refused:
                status = 403
            elif self._answers:
                status = self._answers.popleft()
            self.received.append(
                ReceivedEvent(scope["method"], scope["path"], content_type, body, common_name, status)
            )
        await answer_empty(send, status)


def write_agent_state(directory: Path, credentials: ClientCredentials, ca_pem: bytes, director_url: str) -> None:
    """The files the agent keeps in its state directory and the watcher reads (each replaced atomically, as the
    agent writes them): a runtime's certificate, key, the CA and ``management-plane.json``."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    management = {"runtimeId": "runtime-1", "directorUrl": director_url, "connectorUrl": director_url}
    for name, content in (
        ("client.key", credentials.key_pem),
        ("client.crt", credentials.chain_pem),
        ("ca.crt", ca_pem),
        ("management-plane.json", json.dumps(management).encode()),
    ):
        write_private_file(directory / name, content)
