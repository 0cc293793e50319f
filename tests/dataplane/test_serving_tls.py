"""A runtime-side HTTPS listener's TLS: the serving certificate made on first start, and a listener that asks
for client certificates, verifies them against the client CA and hands them to the app (real sockets)."""

from __future__ import annotations

import json
import ssl
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from cryptography import x509
from cryptography.x509.oid import NameOID

from dataplane.tls import (
    CERTIFICATE_VALIDITY,
    ServingCertificate,
    requesting_client_certificates,
    serving_certificate,
    serving_hostnames,
)
from testing.threaded import ThreadedServer
from tlsext import client_certificate_from_scope

HOSTS = serving_hostnames("events.example")


def files_of(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def alternative_names(path: Path) -> set[str]:
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(name.value) for name in names}


def test_a_wildcard_bind_adds_no_name_and_a_named_host_is_added() -> None:
    assert serving_hostnames("0.0.0.0") == ["localhost", "127.0.0.1", "::1"]  # noqa: S104
    assert serving_hostnames("::") == ["localhost", "127.0.0.1", "::1"]
    assert serving_hostnames("127.0.0.1") == ["localhost", "127.0.0.1", "::1"]
    assert serving_hostnames("events.example") == ["localhost", "127.0.0.1", "::1", "events.example"]


def test_the_first_start_writes_a_ca_and_a_certificate_for_the_host_names_readable_by_the_owner_only(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "tls"

    serving = serving_certificate(directory, HOSTS)

    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in directory.iterdir()} == {
        "serving-ca.crt": 0o600,
        "serving-ca.key": 0o600,
        "serving.crt": 0o600,
        "serving.key": 0o600,
    }
    assert alternative_names(serving.certificate) == {"localhost", "127.0.0.1", "::1", "events.example"}


def test_the_certificate_is_ec_p256_and_signed_by_the_ca_beside_it(tmp_path: Path) -> None:
    serving = serving_certificate(tmp_path, HOSTS)
    certificate = x509.load_pem_x509_certificate(serving.certificate.read_bytes())
    ca = x509.load_pem_x509_certificate(serving.ca.read_bytes())

    certificate.verify_directly_issued_by(ca)
    assert certificate.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]


def test_a_later_start_keeps_every_file_as_it_was(tmp_path: Path) -> None:
    first = serving_certificate(tmp_path, HOSTS)
    before = files_of(tmp_path)

    again = serving_certificate(tmp_path, HOSTS)

    assert again == first
    assert files_of(tmp_path) == before


def test_a_new_host_name_gets_a_new_certificate_from_the_same_ca(tmp_path: Path) -> None:
    first = serving_certificate(tmp_path, HOSTS)
    ca_before = first.ca.read_bytes()

    moved = serving_certificate(tmp_path, serving_hostnames("elsewhere.example"))

    assert moved.ca.read_bytes() == ca_before
    assert "elsewhere.example" in alternative_names(moved.certificate)


def test_a_certificate_near_its_end_is_issued_again_from_the_same_ca(tmp_path: Path) -> None:
    first = serving_certificate(tmp_path, HOSTS)
    certificate_before, ca_before = first.certificate.read_bytes(), first.ca.read_bytes()
    late = datetime.now(UTC) + CERTIFICATE_VALIDITY - timedelta(days=10)

    renewed = serving_certificate(tmp_path, HOSTS, now=late)

    assert renewed.certificate.read_bytes() != certificate_before
    assert renewed.ca.read_bytes() == ca_before


def test_a_key_that_does_not_match_its_certificate_is_replaced(tmp_path: Path) -> None:
    first = serving_certificate(tmp_path, HOSTS)
    (tmp_path / "serving.key").write_bytes((tmp_path / "serving-ca.key").read_bytes())

    serving_certificate(tmp_path, HOSTS)

    context = ssl.create_default_context()
    context.load_cert_chain(first.certificate, first.key)  # raises if they do not belong together


# --- the listener ------------------------------------------------------------------------------------------


async def common_name_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    certificate = client_certificate_from_scope(scope)
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME) if certificate else []
    body = json.dumps({"cn": str(names[0].value) if names else None}).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def client_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def listener(
    tmp_path_factory: pytest.TempPathFactory, client_ca: trustme.CA
) -> Iterator[tuple[str, ServingCertificate]]:
    directory = tmp_path_factory.mktemp("listener")
    serving = serving_certificate(directory / "tls", serving_hostnames("127.0.0.1"))
    client_ca.cert_pem.write_to_path(str(directory / "client-ca.crt"))
    options = requesting_client_certificates(serving.certificate, serving.key, directory / "client-ca.crt")
    with ThreadedServer(common_name_app, **options) as server:
        yield f"https://127.0.0.1:{server.port}/", serving


def client(serving: ServingCertificate, certificate: trustme.LeafCert | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(serving.ca))
    if certificate is not None:
        with certificate.private_key_and_cert_chain_pem.tempfile() as path:
            context.load_cert_chain(path)
    return httpx.Client(verify=context)


def test_the_app_sees_the_client_certificate_the_listener_verified(
    listener: tuple[str, ServingCertificate], client_ca: trustme.CA
) -> None:
    url, serving = listener
    with client(serving, client_ca.issue_cert("shop-client", common_name="shop-client")) as http:
        answer = http.get(url)

    assert answer.json() == {"cn": "shop-client"}


def test_a_request_without_a_certificate_reaches_the_app_which_decides(
    listener: tuple[str, ServingCertificate],
) -> None:
    url, serving = listener
    with client(serving, None) as http:
        answer = http.get(url)

    assert answer.json() == {"cn": None}


def test_a_certificate_of_a_foreign_ca_never_gets_an_http_answer(
    listener: tuple[str, ServingCertificate],
) -> None:
    url, serving = listener
    foreign = trustme.CA().issue_cert("shop-client", common_name="shop-client")

    # With TLS 1.3 the server's refusal arrives on the first read: a transport error, never an answer.
    with client(serving, foreign) as http, pytest.raises(httpx.TransportError):
        http.get(url)
