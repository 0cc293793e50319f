"""``GET /connector/crl``: the Content-Type says what the bytes are, PEM unless the client prefers DER.

``application/pkix-crl`` is DER (RFC 2585); PEM is ``application/x-pem-file``, what proxies read from a file.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from cryptography import x509

CRL = "/connector/crl"
PEM = "application/x-pem-file"
DER = "application/pkix-crl"
LOADERS: dict[str, Callable[[bytes], x509.CertificateRevocationList]] = {
    PEM: x509.load_pem_x509_crl,
    DER: x509.load_der_x509_crl,
}


async def fetch(client: httpx.AsyncClient, accept: str | None) -> httpx.Response:
    return await client.get(CRL, headers={} if accept is None else {"Accept": accept})


@pytest.mark.parametrize(
    ("accept", "served"),
    [
        (None, PEM),
        ("*/*", PEM),
        (PEM, PEM),
        (DER, DER),
        ("application/*", PEM),
        (f"{PEM};q=0.5, {DER}", DER),
        (f"{DER};q=0.2, {PEM};q=0.9", PEM),
        (f"{DER}, */*;q=0.1", DER),
    ],
    ids=["no-accept", "anything", "pem", "der", "application-any", "der-preferred", "pem-preferred", "der-or-else"],
)
async def test_the_content_type_names_the_encoding_of_the_bytes(
    client: httpx.AsyncClient, accept: str | None, served: str
) -> None:
    response = await fetch(client, accept)

    assert response.status_code == 200
    assert response.headers["content-type"] == served
    assert LOADERS[served](response.content).issuer


async def test_der_is_the_pem_crl_decoded(client: httpx.AsyncClient) -> None:
    pem = x509.load_pem_x509_crl((await fetch(client, PEM)).content)
    der = x509.load_der_x509_crl((await fetch(client, DER)).content)

    assert (der.issuer, der.signature_algorithm_oid) == (pem.issuer, pem.signature_algorithm_oid)


async def test_caches_keep_the_two_encodings_apart(client: httpx.AsyncClient) -> None:
    response = await fetch(client, DER)

    assert response.headers["vary"] == "Accept"
