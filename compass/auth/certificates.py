"""Where a client certificate comes from: the TLS handshake, or a trusted proxy's X-Forwarded-Client-Cert."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from starlette.datastructures import Headers
from starlette.types import Scope

from connector.ca.authority import CertificateAuthority
from kernel.errors import UnauthenticatedError
from tlsext import client_certificate_from_scope

XFCC_HEADER = "x-forwarded-client-cert"
#: Keys Envoy writes once per subject alternative name (By: per URI of its own certificate); none is read.
_REPEATABLE_KEYS = frozenset({"by", "uri", "dns"})
_PAIR_START = re.compile(r"[ \t]*(?P<key>[!#$%&'*+.^_`|~0-9A-Za-z-]+)=")  # key: an HTTP token
# Possessive (*+): a value gives no characters back, so a quote that does not close fails here, at its start.
_VALUE = re.compile(r'"(?P<quoted>[^"\\]*+(?:\\.[^"\\]*+)*+)"|(?P<bare>[^ \t,;"]*+)(?!")', re.DOTALL)
_AFTER_VALUE = re.compile(r"[ \t]*(?:(?P<separator>[,;])|\Z)")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)

XFCCElement = list[tuple[str, str]]


def _malformed(position: int, problem: str) -> UnauthenticatedError:
    return UnauthenticatedError(f"X-Forwarded-Client-Cert is malformed at character {position}: {problem}")


def parse_xfcc(header: str) -> list[XFCCElement]:
    """Envoy's grammar, strictly: elements separated by commas, each of ``key=value`` pairs separated by
    semicolons; a value is bare (no whitespace, ``,``, ``;`` or ``"``) or double-quoted with backslash
    escapes. Keys come back lower-cased (Envoy's are case-insensitive). Anything else, an unterminated quote
    above all, is refused rather than guessed at: a client may shape its part to swallow the proxy's."""
    elements: list[XFCCElement] = []
    pairs: XFCCElement = []
    position = 0
    while True:
        start = _PAIR_START.match(header, position)
        if start is None:
            raise _malformed(position, "expected key=value")
        value = _VALUE.match(header, start.end())
        if value is None:
            raise _malformed(start.end(), "a quote that does not close, or one inside a bare value")
        quoted = value["quoted"]
        pairs.append((start["key"].lower(), value["bare"] if quoted is None else _ESCAPE.sub(r"\1", quoted)))
        after = _AFTER_VALUE.match(header, value.end())
        if after is None:
            raise _malformed(value.end(), "expected ; or , after a value")
        if after["separator"] != ";":
            elements.append(pairs)
            pairs = []
        if after["separator"] is None:
            return elements
        position = after.end()


def proxy_element(header: str) -> dict[str, str]:
    """The fields of the element the trusted proxy added: the last one (Envoy's APPEND_FORWARD appends its own
    after whatever the client sent; SANITIZE_SET sends only its own). A key repeated there is refused, except
    By, URI and DNS, which Envoy repeats once per name and which are left out."""
    fields: dict[str, str] = {}
    for key, value in parse_xfcc(header)[-1]:
        if key in _REPEATABLE_KEYS:
            continue
        if key in fields:
            raise UnauthenticatedError(f"X-Forwarded-Client-Cert repeats {key} in the proxy's element")
        fields[key] = value
    return fields


class ExternalCAs:
    """The CAs of COMPASS_EXTERNAL_CLIENT_CA_FILE: a certificate one of them signed is an external one."""

    def __init__(self, certificates: list[x509.Certificate]) -> None:
        self.certificates = certificates

    @classmethod
    def load(cls, path: Path | None) -> ExternalCAs:
        return cls(x509.load_pem_x509_certificates(path.read_bytes()) if path else [])

    def issued(self, certificate: x509.Certificate, now: datetime) -> bool:
        """True if one of the CAs signed ``certificate`` (issuer name and signature) and, as a handshake
        requires, is valid at ``now`` and a CA (BasicConstraints ca=True); the leaf's own validity is not checked."""
        for issuer in self.certificates:
            if not (_is_ca(issuer) and issuer.not_valid_before_utc <= now <= issuer.not_valid_after_utc):
                continue
            try:
                certificate.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return True
        return False


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


@dataclass(frozen=True)
class ClientCertificate:
    """A verified client certificate, and whether an external CA issued it (else pycompass's own CA did)."""

    certificate: x509.Certificate
    external: bool


def _from_proxy_header(
    value: str, ca: CertificateAuthority, now: datetime, external: ExternalCAs | None = None
) -> ClientCertificate:
    """Envoy's format: ``Hash=...;Cert="<URL-encoded PEM>";Subject="..."``."""
    cert = proxy_element(value).get("cert")
    if not cert:
        raise UnauthenticatedError("X-Forwarded-Client-Cert carries no Cert")
    try:
        certificate = x509.load_pem_x509_certificate(unquote(cert).encode())
    except ValueError:
        raise UnauthenticatedError("X-Forwarded-Client-Cert does not hold a PEM certificate") from None
    # Nobody checked this certificate during a handshake: do what the handshake would have done.
    own = ca.verify_issued(certificate)
    if not own and not (external and external.issued(certificate, now)):
        trusted = "this CA nor an external one" if external else "this CA"
        raise UnauthenticatedError(f"the forwarded client certificate was not issued by {trusted}")
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise UnauthenticatedError("the forwarded client certificate is not valid at this time")
    return ClientCertificate(certificate, external=not own)


def client_certificate(
    scope: Scope,
    *,
    ca: CertificateAuthority,
    trusted_proxies: frozenset[str],
    now: datetime,
    external: ExternalCAs | None = None,
) -> ClientCertificate | None:
    """The handshake's certificate (OpenSSL verified it against our CA or an external one), or the trusted
    proxy's, verified here the same way; either way checked once for which CA issued it."""
    certificate = client_certificate_from_scope(scope)
    if certificate is not None:
        # Without external CAs the handshake admitted only our CA's certificates.
        return ClientCertificate(certificate, external=external is not None and not ca.verify_issued(certificate))
    client = scope.get("client")
    forwarded = Headers(scope=scope).getlist(XFCC_HEADER)
    if not forwarded or client is None or client[0] not in trusted_proxies:
        return None
    if len(forwarded) > 1:
        # The proxy adds one line, or appends to the client's: which line is the proxy's is anyone's guess.
        raise UnauthenticatedError("more than one X-Forwarded-Client-Cert header line")
    return _from_proxy_header(forwarded[0], ca, now, external)


def client_id_of(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if len(names) != 1:
        raise UnauthenticatedError("the client certificate has no single CN")
    return str(names[0].value)


def serial_of(certificate: x509.Certificate) -> str:
    return f"{certificate.serial_number:032x}"
