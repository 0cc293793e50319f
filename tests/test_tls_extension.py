"""The ASGI TLS extension on real sockets: uvicorn verifies client certificates and the app sees them.

Each server runs in a background thread on a port the OS picked, with a stand-in's server certificate
(trustme); the client certificates are our CA's, as the Connector issues them. The client is httpx with an
``ssl.SSLContext`` that trusts the stand-in's CA and, when a test wants one, presents a client certificate.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connector.ca import CertificateAuthority, CertificateSubject, write_private_file, write_public_file
from testing.threaded import ThreadedServer
from testing.tls import StandInTLS, tls_stand_in
from tlsext import TLSHttpToolsProtocol, client_certificate_from_scope

SUBJECT = CertificateSubject("Org", "OrgUnit", "Locality", "State", "PL", "runtime-1")


@dataclass
class RecordingApp:
    """Answers with the client certificate's CN (or "none") and what it saw of the TLS extension."""

    requests: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        certificate = client_certificate_from_scope(scope)
        tls = scope.get("extensions", {}).get("tls")
        common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME) if certificate else []
        answer = {
            "cn": common_names[0].value if common_names else "none",
            "client_port": scope["client"][1],
            "tls": None if tls is None else {k: v for k, v in tls.items() if k != "client_cert_chain"},
            "client_cert_chain": None if tls is None else tls["client_cert_chain"],
        }
        self.requests.append(answer)
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


@dataclass(frozen=True)
class Server:
    url: str
    app: RecordingApp


@dataclass(frozen=True)
class ClientCertificate:
    certificate_file: Path
    key_file: Path
    pem: str


@dataclass(frozen=True)
class PKI:
    server: StandInTLS
    client_ca_file: Path
    valid: ClientCertificate
    foreign: ClientCertificate
    expired: ClientCertificate


def issue_client_certificate(
    ca: CertificateAuthority, directory: Path, name: str, *, now: datetime, validity: timedelta
) -> ClientCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(SUBJECT.to_x509_name())
    csr = builder.sign(key, hashes.SHA256())
    issued = ca.sign(csr, SUBJECT, validity=validity, now=now)
    certificate_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    write_public_file(certificate_file, issued.chain_pem.encode())
    write_private_file(
        key_file,
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    return ClientCertificate(certificate_file, key_file, issued.pem)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    directory = tmp_path_factory.mktemp("tls")
    now = datetime.now(UTC)  # OpenSSL checks validity against the real clock
    ca = CertificateAuthority.generate(now=now)
    foreign_ca = CertificateAuthority.generate(now=now)
    client_ca_file = directory / "client-ca.crt"
    write_public_file(client_ca_file, ca.ca_pem.encode())
    return PKI(
        server=tls_stand_in(directory),
        client_ca_file=client_ca_file,
        valid=issue_client_certificate(ca, directory, "valid", now=now, validity=timedelta(days=1)),
        foreign=issue_client_certificate(
            foreign_ca, directory, "foreign", now=now, validity=timedelta(days=1)
        ),
        expired=issue_client_certificate(
            ca, directory, "expired", now=now - timedelta(days=10), validity=timedelta(days=1)
        ),
    )


@pytest.fixture(scope="module", params=["asyncio", "uvloop"])
def https_server(request: pytest.FixtureRequest, pki: PKI) -> Iterator[Server]:
    app = RecordingApp()
    with ThreadedServer(
        app,
        http=TLSHttpToolsProtocol,
        loop=request.param,
        ssl_certfile=str(pki.server.cert_file),
        ssl_keyfile=str(pki.server.key_file),
        ssl_ca_certs=str(pki.client_ca_file),
        ssl_cert_reqs=ssl.CERT_OPTIONAL,
    ) as served:
        yield Server(f"https://127.0.0.1:{served.port}/", app)


@pytest.fixture(scope="module")
def http_server() -> Iterator[Server]:
    app = RecordingApp()
    with ThreadedServer(app, http=TLSHttpToolsProtocol, loop="asyncio") as served:
        yield Server(f"http://127.0.0.1:{served.port}/", app)


def client_context(pki: PKI, certificate: ClientCertificate | None) -> ssl.SSLContext:
    context = pki.server.client_context()
    if certificate is not None:
        context.load_cert_chain(certificate.certificate_file, certificate.key_file)
    return context


def get(server: Server, context: ssl.SSLContext | None = None, requests: int = 1) -> list[dict[str, Any]]:
    with httpx.Client(verify=context or True, timeout=5) as client:
        answers = []
        for _ in range(requests):
            response = client.get(server.url)
            response.raise_for_status()
            answers.append(response.json())
        return answers


def test_app_sees_the_verified_client_certificate(https_server: Server, pki: PKI) -> None:
    [answer] = get(https_server, client_context(pki, pki.valid))

    assert answer["cn"] == "runtime-1"
    assert answer["client_cert_chain"] == [pki.valid.pem]
    assert answer["tls"]["client_cert_name"] == SUBJECT.to_x509_name().rfc4514_string()
    assert answer["tls"]["client_cert_error"] is None


def test_extension_reports_tls_version_and_cipher_suite(https_server: Server, pki: PKI) -> None:
    [answer] = get(https_server, client_context(pki, pki.valid))

    assert answer["tls"]["tls_version"] == 0x0304  # TLS 1.3, what both ends negotiate by default
    assert answer["tls"]["cipher_suite"] in {0x1301, 0x1302, 0x1303}


def test_tls12_connection_reports_its_version_and_cipher_suite(https_server: Server, pki: PKI) -> None:
    context = client_context(pki, pki.valid)
    context.maximum_version = ssl.TLSVersion.TLSv1_2

    [answer] = get(https_server, context)

    assert answer["cn"] == "runtime-1"
    assert answer["tls"]["tls_version"] == 0x0303
    # ECDHE-ECDSA with AES-GCM or ChaCha20 (the server key is EC P-256)
    assert answer["tls"]["cipher_suite"] in {0xC02B, 0xC02C, 0xCCA9}


def test_every_request_on_a_kept_alive_connection_carries_the_certificate(
    https_server: Server, pki: PKI
) -> None:
    first, second = get(https_server, client_context(pki, pki.valid), requests=2)

    assert first["client_port"] == second["client_port"]  # same connection
    assert first["cn"] == second["cn"] == "runtime-1"


def test_request_without_a_client_certificate_succeeds_anonymously(https_server: Server, pki: PKI) -> None:
    [answer] = get(https_server, client_context(pki, None))

    assert answer["cn"] == "none"
    assert answer["client_cert_chain"] == []
    assert answer["tls"]["tls_version"] == 0x0304


@pytest.mark.parametrize("which", ["foreign", "expired"])
def test_untrusted_client_certificate_fails_the_tls_handshake(
    https_server: Server, pki: PKI, which: str
) -> None:
    # given
    context = client_context(pki, getattr(pki, which))
    answered = len(https_server.app.requests)

    # when / then: with TLS 1.3 the client has sent its Finished before the server checks the certificate, so
    # the server's refusal shows up on the first read; still a transport error, never an HTTP answer
    with pytest.raises(httpx.TransportError):
        get(https_server, context)
    assert len(https_server.app.requests) == answered


@pytest.mark.parametrize("which", ["foreign", "expired"])
def test_untrusted_client_certificate_fails_a_tls12_handshake_while_connecting(
    https_server: Server, pki: PKI, which: str
) -> None:
    # given: TLS 1.2 completes only after the server accepted the client certificate
    context = client_context(pki, getattr(pki, which))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    answered = len(https_server.app.requests)

    # when / then
    with pytest.raises(httpx.ConnectError, match="SSL"):
        get(https_server, context)
    assert len(https_server.app.requests) == answered


def test_plain_http_request_has_no_tls_extension(http_server: Server) -> None:
    [answer] = get(http_server)

    assert answer["tls"] is None
    assert answer["cn"] == "none"


def test_scope_without_extensions_has_no_client_certificate() -> None:
    without_chain = {"type": "http", "extensions": {"tls": {"client_cert_chain": []}}}

    assert client_certificate_from_scope({"type": "http"}) is None
    assert client_certificate_from_scope(without_chain) is None
