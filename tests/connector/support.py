"""A real pycompass server on loopback for the Connector tests, and a client speaking to it as Compass's do.

``RunningServer`` runs ``compass.server``'s two listeners (plain HTTP, and HTTPS asking for a client
certificate) of one ``create_app`` in a thread with its own uvloop, on sockets bound here (no race for a free
port). It gets its own ``Database`` (async pools belong to the loop that opened them) and an injected
``MutableClock``.

``Harness`` is what a test holds: operators that talk to the Director over plain HTTP with a JWT, clients that
talk to the Connector with a one-time token or over mTLS with a certificate, keys and CSRs made with
``cryptography``, and the audit trail read straight from the database.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import shutil
import socket
import ssl
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select

from compass.app import create_app
from compass.server import DrainingServer, TLSFiles, prepare_tls, serve_all, server_configs
from connector.ca import CertificateAuthority
from credentials.models import AuditEvent, IssuedCertificate
from kernel.db import Database
from kernel.settings import Settings
from testing.ports import loopback_socket
from testing.waiting import wait_until_blocking
from tests.support import Operator, TenantFactory

CONNECTOR = "/connector/graphql"
DIRECTOR = "/director/graphql"
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}

# The documents of Compass's Connector client, verbatim (its `configuration()` included).
CONFIGURATION = (
    "query { result: configuration() { token { token } "
    "certificateSigningRequestInfo { subject keyAlgorithm } "
    "managementPlaneInfo { directorURL certificateSecuredConnectorURL } } }"
)
REVOKE = "mutation { result: revokeCertificate }"

TEST_SERVER_SETTINGS: dict[str, Any] = {"redemptions_per_second": 10_000}
"""What test servers change: tests run back to back from 127.0.0.1, so many token calls per second pass."""


def sign_document(csr: str) -> str:
    return (
        f'mutation {{ result: signCertificateSigningRequest(csr: "{csr}") '
        "{ certificateChain caCertificate clientCertificate } }"
    )


REGISTER_RUNTIME = "mutation ($in: RuntimeRegisterInput!) { result: registerRuntime(in: $in) { id } }"
REGISTER_APPLICATION = (
    "mutation ($in: ApplicationRegisterInput!) { result: registerApplication(in: $in) { id } }"
)
REQUEST_RUNTIME_TOKEN = "mutation ($id: ID!) { result: requestOneTimeTokenForRuntime(id: $id) { token } }"
REQUEST_APPLICATION_TOKEN = (
    "mutation ($id: ID!) { result: requestOneTimeTokenForApplication(id: $id) { token } }"
)

_SUBJECT_OIDS = {
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "L": NameOID.LOCALITY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "C": NameOID.COUNTRY_NAME,
    "CN": NameOID.COMMON_NAME,
}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


# --- keys, CSRs, certificates -----------------------------------------------------------------------------


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def name_of(subject: str) -> x509.Name:
    """The announced subject as a Compass client reads it: split on ``,`` and ``=``, in that order."""
    attributes = []
    for part in subject.split(","):
        short, _, value = part.partition("=")
        attributes.append(x509.NameAttribute(_SUBJECT_OIDS[short], value))
    return x509.Name(attributes)


def csr_pem(key: PrivateKey, subject: str | x509.Name) -> bytes:
    name = name_of(subject) if isinstance(subject, str) else subject
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def csr_b64(key: PrivateKey, subject: str | x509.Name) -> str:
    return b64(csr_pem(key, subject))


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


async def forwarded_certificate_headers(client: httpx.AsyncClient, token: str) -> dict[str, str]:
    """Redeems the one-time ``token`` at the Connector and signs a CSR for the announced subject; answers the
    header a trusted proxy would forward the issued certificate in, so an in-process test acts as a connected
    runtime or application without a TLS socket."""
    configuration = (
        await client.post(
            CONNECTOR,
            json={"query": CONFIGURATION},
            headers={"Connector-Token": token},
        )
    ).json()["data"]["result"]
    csr = csr_b64(ec_key(), configuration["certificateSigningRequestInfo"]["subject"])
    signed = await client.post(
        CONNECTOR,
        json={"query": sign_document(csr)},
        headers={"Connector-Token": configuration["token"]["token"]},
    )
    certificate = unb64(signed.json()["data"]["result"]["clientCertificate"]).decode()
    return {"X-Forwarded-Client-Cert": f'Hash=x;Cert="{quote(certificate)}"'}


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def serial_hex(certificate: x509.Certificate) -> str:
    return f"{certificate.serial_number:032x}"


def common_name(certificate: x509.Certificate) -> str:
    return str(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


@dataclass(frozen=True)
class Credentials:
    """A client certificate and its key, in files: ``ssl`` loads client certificates from files only."""

    chain_file: Path
    key_file: Path
    certificate: x509.Certificate

    @classmethod
    def write(cls, directory: Path, chain_pem: bytes, key: PrivateKey) -> Credentials:
        stem = uuid.uuid4().hex[:8]
        chain_file, key_file = directory / f"{stem}.crt", directory / f"{stem}.key"
        chain_file.write_bytes(chain_pem)
        key_file.write_bytes(key_pem(key))
        return cls(chain_file, key_file, x509.load_pem_x509_certificates(chain_pem)[0])

    @property
    def serial(self) -> str:
        return serial_hex(self.certificate)


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def openssl_csr(directory: Path, subject: str, name: str) -> str:
    """``openssl req`` for the announced subject with the tutorial's key; base64 of the PEM, as the tutorial sends."""
    key_file = directory / "app.key"
    if not key_file.exists():
        subprocess.run(["openssl", "genrsa", "-out", str(key_file), "2048"], check=True, capture_output=True)
    slashed = "/" + subject.replace(",", "/")
    csr_file = directory / f"{name}.csr"
    subprocess.run(
        ["openssl", "req", "-new", "-key", str(key_file), "-subj", slashed, "-out", str(csr_file)],
        check=True,
        capture_output=True,
    )
    return subprocess.run(
        ["openssl", "base64", "-A", "-in", str(csr_file)], check=True, capture_output=True, text=True
    ).stdout


def credentials_of(directory: Path, crt: str) -> Credentials:
    """The tutorial's files: the key ``openssl_csr`` made in ``directory`` and the chain of a ``crt`` answer."""
    key = serialization.load_pem_private_key((directory / "app.key").read_bytes(), password=None)
    return Credentials.write(directory, unb64(crt), key)  # type: ignore[arg-type]


def client_ssl_context(ca_pem: str, credentials: Credentials | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca_pem)
    if credentials is not None:
        context.load_cert_chain(credentials.chain_file, credentials.key_file)
    return context


# --- the server -------------------------------------------------------------------------------------------


class MutableClock:
    """The server's clock: real time plus an offset that a test may move (and that is reset after it)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by

    def reset(self) -> None:
        self.offset = timedelta(0)


@dataclass
class RunningServer:
    settings: Settings
    ca: CertificateAuthority
    clock: MutableClock
    tls: TLSFiles
    servers: list[uvicorn.Server] = field(default_factory=list)
    thread: threading.Thread | None = None
    sockets: list[socket.socket] = field(default_factory=list)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.settings.https_port}"

    @functools.cached_property
    def trust(self) -> ssl.SSLContext:
        """What a client of this server trusts (its CA, no client certificate), built once: httpx's default, the
        public CAs, costs ~50 ms of CPU per client built and is not what a test of this server means to trust."""
        return client_ssl_context(self.ca.ca_pem, None)

    @classmethod
    def start(
        cls, base: Settings, data_dir: Path, ca: CertificateAuthority, **overrides: Any
    ) -> RunningServer:
        """``compass serve``'s listeners (``server_configs``) on our sockets, in a thread with its uvloop."""
        sockets = [loopback_socket(), loopback_socket()]
        settings = base.model_copy(
            update={
                "data_dir": data_dir,
                "host": "127.0.0.1",
                "http_port": sockets[0].getsockname()[1],
                "https_port": sockets[1].getsockname()[1],
                **overrides,
            }
        )
        return cls(settings, ca, MutableClock(), prepare_tls(settings, ca), sockets=sockets)._launch()

    def restarted(self) -> RunningServer:
        """The same server (settings, CA, TLS files, clock, ports) started again after ``stop()``."""
        sockets = [loopback_socket(self.settings.http_port), loopback_socket(self.settings.https_port)]
        return RunningServer(self.settings, self.ca, self.clock, self.tls, sockets=sockets)._launch()

    def _launch(self) -> RunningServer:
        self.thread = threading.Thread(target=uvloop.run, args=(self._serve(),), daemon=True)
        self.thread.start()

        def started() -> bool:
            assert self.thread is not None
            assert self.thread.is_alive(), "the server exited during start-up"
            return len(self.servers) == 2 and all(item.started for item in self.servers)

        wait_until_blocking(started, seconds=20, what="the server starting", every=0.01)
        return self

    async def _serve(self) -> None:
        # The uvicorn.Server objects are kept so that stop() can end them; as `compass serve`'s, they end the
        # runtimes' change streams first (a stream would otherwise hold the shutdown for ever).
        database = Database(self.settings.effective_database_url)
        app = create_app(self.settings, database, ca=self.ca, clock=self.clock)
        configs = server_configs(self.settings, app, self.tls)
        servers: list[uvicorn.Server] = [DrainingServer(config, app.state.draining) for config in configs]
        self.servers.extend(servers)
        await serve_all(servers, self.sockets)

    def stop(self) -> None:
        for item in self.servers:
            item.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=20)
            assert not self.thread.is_alive(), "the server did not shut down"
        for sock in self.sockets:
            sock.close()


# --- GraphQL over HTTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]

    @property
    def codes(self) -> list[str]:
        return [error.get("extensions", {}).get("code") for error in self.body.get("errors") or []]

    @property
    def messages(self) -> list[str]:
        return [error["message"] for error in self.body.get("errors") or []]

    @property
    def data(self) -> Any:
        """The data of an answer that must have no errors."""
        assert not self.body.get("errors"), f"unexpected errors: {self.body.get('errors')}"
        return self.body["data"]

    @property
    def result(self) -> Any:
        return self.data["result"]


async def post_graphql(
    client: httpx.AsyncClient,
    path: str,
    document: str,
    *,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> Answer:
    """As Compass clients post: ``{"query", "variables"}`` with ``application/json; charset=utf-8``."""
    body = json.dumps({"query": document, "variables": variables}).encode()
    headers = {**JSON_HEADERS, **(headers or {})}
    response = await client.post(path, content=body, headers=headers, params=params)
    return Answer(response.status_code, response.json())


# --- the REST API of the tutorials ------------------------------------------------------------------------

JSON_TYPE = "application/json;charset=UTF-8"
"""The Content-Type of every answer of the REST API, as Go's adapter writes it."""


def assert_error(response: httpx.Response, status: int, message: str) -> None:
    """The adapter's error body ``{"code": N, "error": "..."}``, as Compass's ``pkg/res`` writes it."""
    assert response.headers["content-type"] == JSON_TYPE
    assert (response.status_code, response.json()) == (status, {"code": status, "error": message})


async def register_application(operator: Operator, name: str, labels: dict[str, Any] | None = None) -> str:
    data = await operator.query(REGISTER_APPLICATION, {"in": {"name": name, "labels": labels}})
    return str(data["result"]["id"])


async def register_events_runtime(
    operator: Operator, events_url: str, labels: dict[str, str] | None = None
) -> None:
    """A runtime in the DEFAULT formation whose agent announced ``events_url`` as its event ingress."""
    announced = {"scenarios": ["DEFAULT"], "runtime_eventServiceUrl": events_url, "isNormalized": "false"}
    name = f"rt-{uuid.uuid4().hex[:6]}"
    await operator.query(REGISTER_RUNTIME, {"in": {"name": name, "labels": {**announced, **(labels or {})}}})


@dataclass(frozen=True)
class Announcement:
    """What ``configuration`` announces: the subject the CSR must carry, the token for the signing call."""

    subject: str
    signing_token: str

    @property
    def client_id(self) -> str:
        return self.subject.rsplit(",CN=", 1)[1]

    @classmethod
    def of(cls, configuration: dict[str, Any]) -> Announcement:
        return cls(configuration["certificateSigningRequestInfo"]["subject"], configuration["token"]["token"])


@dataclass(frozen=True)
class Connected:
    """A runtime or application that went through the whole first connection."""

    object_id: str
    client_id: str
    subject: str
    credentials: Credentials
    result: dict[str, str]


@dataclass
class Harness:
    server: RunningServer
    database: Database
    http: httpx.AsyncClient
    directory: Path
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.server.settings

    @property
    def ca(self) -> CertificateAuthority:
        return self.server.ca

    @property
    def clock(self) -> MutableClock:
        return self.server.clock

    # --- clients -------------------------------------------------------------------------------------------

    def mtls(
        self, credentials: Credentials | None = None, *, context: ssl.SSLContext | None = None
    ) -> httpx.AsyncClient:
        """A client of the HTTPS listener, presenting ``credentials`` (or no certificate)."""
        verify = context or client_ssl_context(self.ca.ca_pem, credentials)
        client = httpx.AsyncClient(base_url=self.server.https_url, verify=verify, timeout=30)
        self._clients.append(client)
        return client

    def plain_from(self, address: str) -> httpx.AsyncClient:
        """A plain HTTP client whose connections come from another loopback address, e.g. 127.0.0.2."""
        transport = httpx.AsyncHTTPTransport(local_address=address, verify=self.server.trust)
        client = httpx.AsyncClient(base_url=self.server.http_url, transport=transport, timeout=30)
        self._clients.append(client)
        return client

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()

    # --- the Director, as an operator ----------------------------------------------------------------------

    async def operator(self, tenant_id: str | None = None, *, scopes: list[str] | None = None) -> Operator:
        """An operator of ``tenant_id`` (a new tenant if None) holding ``scopes`` (all if None)."""
        return await TenantFactory(self.settings, self.database, self.http).operator(
            tenant_id=tenant_id, scopes=scopes
        )

    async def register_runtime(self, operator: Operator, *, scenarios: list[str] | None = None) -> str:
        labels = {"scenarios": scenarios} if scenarios else None
        data = await operator.query(
            REGISTER_RUNTIME, {"in": {"name": f"runtime-{uuid.uuid4().hex[:8]}", "labels": labels}}
        )
        return str(data["result"]["id"])

    async def register_application(self, operator: Operator, *, scenarios: list[str] | None = None) -> str:
        labels = {"scenarios": scenarios} if scenarios else None
        data = await operator.query(
            REGISTER_APPLICATION, {"in": {"name": f"app-{uuid.uuid4().hex[:8]}", "labels": labels}}
        )
        return str(data["result"]["id"])

    async def runtime_token(self, operator: Operator, runtime_id: str) -> str:
        return str((await operator.query(REQUEST_RUNTIME_TOKEN, {"id": runtime_id}))["result"]["token"])

    async def application_token(self, operator: Operator, application_id: str) -> str:
        data = await operator.query(REQUEST_APPLICATION_TOKEN, {"id": application_id})
        return str(data["result"]["token"])

    # --- the Connector -------------------------------------------------------------------------------------

    async def connector(
        self, document: str, *, token: str | None = None, client: httpx.AsyncClient | None = None
    ) -> Answer:
        headers = {"Connector-Token": token} if token is not None else None
        return await post_graphql(client or self.http, CONNECTOR, document, headers=headers)

    async def director(
        self, client: httpx.AsyncClient, document: str, variables: dict[str, Any] | None = None
    ) -> Answer:
        return await post_graphql(client, DIRECTOR, document, variables=variables)

    async def configuration(self, token: str) -> dict[str, Any]:
        return dict((await self.connector(CONFIGURATION, token=token)).result)

    async def announce(self, token: str) -> Announcement:
        return Announcement.of(await self.configuration(token))

    async def sign(self, announcement: Announcement, csr: str) -> Answer:
        """signCertificateSigningRequest with the announced signing token."""
        return await self.connector(sign_document(csr), token=announcement.signing_token)

    def credentials(self, result: dict[str, str], key: PrivateKey) -> Credentials:
        """The files a client keeps: its key, and the certificate chain the Connector returned."""
        return Credentials.write(self.directory, unb64(result["certificateChain"]), key)

    async def connect(self, object_id: str, token: str, key: PrivateKey | None = None) -> Connected:
        """configuration with the token, then signCertificateSigningRequest for the announced subject."""
        key = key or ec_key()
        configuration = await self.configuration(token)
        subject = configuration["certificateSigningRequestInfo"]["subject"]
        signing_token = configuration["token"]["token"]
        result = (await self.connector(sign_document(csr_b64(key, subject)), token=signing_token)).result
        credentials = self.credentials(result, key)
        return Connected(object_id, common_name(credentials.certificate), subject, credentials, result)

    async def connect_runtime(self, operator: Operator, *, scenarios: list[str] | None = None) -> Connected:
        runtime_id = await self.register_runtime(operator, scenarios=scenarios)
        return await self.connect(runtime_id, await self.runtime_token(operator, runtime_id))

    async def connect_application(
        self, operator: Operator, *, scenarios: list[str] | None = None
    ) -> Connected:
        application_id = await self.register_application(operator, scenarios=scenarios)
        return await self.connect(application_id, await self.application_token(operator, application_id))

    async def renew(self, credentials: Credentials, key: PrivateKey | None = None) -> Answer:
        """configuration, then signCertificateSigningRequest, over mTLS with ``credentials``."""
        client = self.mtls(credentials)
        configuration = await self.connector(CONFIGURATION, client=client)
        if configuration.body.get("errors"):
            return configuration
        subject = configuration.result["certificateSigningRequestInfo"]["subject"]
        return await self.connector(sign_document(csr_b64(key or ec_key(), subject)), client=client)

    # --- the database --------------------------------------------------------------------------------------

    async def audit(self, event: str, **where: str) -> list[AuditEvent]:
        statement = select(AuditEvent).where(AuditEvent.event == event)
        for column, value in where.items():
            statement = statement.where(getattr(AuditEvent, column) == value)
        async with self.database.read_sessions() as session:
            return list((await session.execute(statement.order_by(AuditEvent.at))).scalars())

    async def count_audit(self, event: str, reason_prefix: str) -> int:
        statement = select(func.count()).where(
            AuditEvent.event == event, AuditEvent.reason.startswith(reason_prefix)
        )
        async with self.database.read_sessions() as session:
            return int((await session.execute(statement)).scalar_one())

    async def certificate_record(self, serial: str) -> IssuedCertificate | None:
        async with self.database.read_sessions() as session:
            return await session.get(IssuedCertificate, serial)


HarnessFactory = Callable[..., Awaitable[Harness]]
"""``connector_with(**settings)``: a harness on a server started with those settings."""


@contextlib.asynccontextmanager
async def harness(server: RunningServer, database: Database, directory: Path) -> AsyncIterator[Harness]:
    async with httpx.AsyncClient(base_url=server.http_url, verify=server.trust, timeout=30) as http:
        subject = Harness(server, database, http, directory)
        try:
            yield subject
        finally:
            await subject.close()
            server.clock.reset()
