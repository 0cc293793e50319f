"""Where a client certificate comes from: the TLS handshake, or a trusted proxy's X-Forwarded-Client-Cert."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import unquote

from cryptography import x509
from starlette.datastructures import Headers
from starlette.types import Scope

from compass.errors import UnauthenticatedError
from compass.tls import client_certificate_from_scope
from connector.ca.authority import CertificateAuthority

XFCC_HEADER = "x-forwarded-client-cert"
_XFCC_CERT = re.compile(r'(?:^|;)\s*Cert="?(?P<cert>[^";]+)"?', re.IGNORECASE)


def _last_element(value: str) -> str:
    """The element the trusted proxy itself added: Envoy appends its own after any the client sent
    (APPEND_FORWARD), and SANITIZE_SET leaves only its own. Elements are separated by commas, but quoted values
    (``Subject="CN=a,O=b"``) contain commas too."""
    quoted = False
    start = 0
    for position, character in enumerate(value):
        if character == '"' and (position == 0 or value[position - 1] != "\\"):
            quoted = not quoted
        elif character == "," and not quoted:
            start = position + 1
    return value[start:]


def _from_proxy_header(value: str, ca: CertificateAuthority, now: datetime) -> x509.Certificate:
    """Envoy's format: ``Hash=...;Subject="...";Cert="<URL-encoded PEM>"``."""
    element = _last_element(value)
    match = _XFCC_CERT.search(element)
    if match is None:
        raise UnauthenticatedError("X-Forwarded-Client-Cert carries no Cert")
    try:
        certificate = x509.load_pem_x509_certificate(unquote(match.group("cert")).encode())
    except ValueError:
        raise UnauthenticatedError("X-Forwarded-Client-Cert does not hold a PEM certificate") from None
    # Nobody checked this certificate during a handshake: do what the handshake would have done.
    if not ca.verify_issued(certificate):
        raise UnauthenticatedError("the forwarded client certificate was not issued by this CA")
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise UnauthenticatedError("the forwarded client certificate is not valid at this time")
    return certificate


def client_certificate(
    scope: Scope, *, ca: CertificateAuthority, trusted_proxies: frozenset[str], now: datetime
) -> x509.Certificate | None:
    certificate = client_certificate_from_scope(scope)
    if certificate is not None:
        return certificate
    client = scope.get("client")
    forwarded = Headers(scope=scope).get(XFCC_HEADER)
    if forwarded and client is not None and client[0] in trusted_proxies:
        return _from_proxy_header(forwarded, ca, now)
    return None


def client_id_of(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if len(names) != 1:
        raise UnauthenticatedError("the client certificate has no single CN")
    return str(names[0].value)


def serial_of(certificate: x509.Certificate) -> str:
    return f"{certificate.serial_number:032x}"
