"""What a runtime-side HTTPS listener needs: a serving certificate when the operator configured none, and
uvicorn's options for a listener that asks its clients for a certificate.

The serving certificate is made on first start in a directory of the process's own (0700, every file 0600): a
local CA (EC P-256, ten years) and a certificate it signs (EC P-256, one year) for ``localhost``, ``127.0.0.1``,
``::1`` and the host the listener is configured for. A client trusts the CA file (``serving-ca.crt``), which
outlives the certificate: at a later start the certificate is issued again from the same CA when it no longer
covers the host names or has less than 30 days left, so clients keep working. Nothing here is the pycompass CA:
that one verifies the applications' client certificates, this one only lets them recognise the listener.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dataplane.files import write_private_file
from tlsext import TLSHttpToolsProtocol

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
CA_VALIDITY = timedelta(days=3650)
CERTIFICATE_VALIDITY = timedelta(days=365)
RENEW_BEFORE = timedelta(days=30)
BACKDATE = timedelta(minutes=5)  # tolerates a client clock slightly behind


@dataclass(frozen=True)
class ServingCertificate:
    certificate: Path  # the listener's certificate (PEM, the leaf only)
    key: Path
    ca: Path  # what a client trusts to recognise the listener


def serving_hostnames(host: str) -> list[str]:
    """The loopback names and ``host``, unless it is a wildcard bind (0.0.0.0, ::), which names nothing."""
    names = list(LOOPBACK_NAMES)
    try:
        wildcard = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        wildcard = False
    if host and not wildcard and host not in names:
        names.append(host)
    return names


def serving_certificate(
    directory: Path, hostnames: Sequence[str], *, now: datetime | None = None
) -> ServingCertificate:
    """The certificate for ``hostnames`` in ``directory``: the one there if it still serves, else a new one."""
    now = now or datetime.now(UTC)
    files = ServingCertificate(
        directory / "serving.crt", directory / "serving.key", directory / "serving-ca.crt"
    )
    ca_key_file = directory / "serving-ca.key"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    ca = _load(files.ca, ca_key_file)
    if ca is None or ca[0].not_valid_after_utc - now < CERTIFICATE_VALIDITY:
        ca = _new_ca(now)
        write_private_file(ca_key_file, _key_pem(ca[1]))
        write_private_file(files.ca, ca[0].public_bytes(serialization.Encoding.PEM))
    current = _load(files.certificate, files.key)
    if current is None or not _serves(current[0], ca[0], hostnames, now):
        certificate, key = _issue(ca, hostnames, now)
        write_private_file(files.key, _key_pem(key))
        write_private_file(files.certificate, certificate.public_bytes(serialization.Encoding.PEM))
    return files


def requesting_client_certificates(certificate: Path, key: Path, client_ca: Path) -> dict[str, Any]:
    """uvicorn's options (``Listener.tls``) for an HTTPS listener that asks for a client certificate and
    verifies any it gets against ``client_ca`` during the handshake (a foreign one never reaches the app).
    The app finds it in the ASGI TLS extension (``tlsext.client_certificate_from_scope``); a request without
    one still reaches the app, which decides: a trusted proxy's X-Forwarded-Client-Cert, or a refusal."""
    return {
        "ssl_certfile": str(certificate),
        "ssl_keyfile": str(key),
        "ssl_ca_certs": str(client_ca),
        "ssl_cert_reqs": ssl.CERT_OPTIONAL,
        "http": TLSHttpToolsProtocol,
    }


def _load(
    certificate_file: Path, key_file: Path
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The pair if both files are there, readable, and belong together; None makes the caller issue anew."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != certificate.public_key():
        return None
    return certificate, key


def _serves(
    certificate: x509.Certificate, ca: x509.Certificate, hostnames: Sequence[str], now: datetime
) -> bool:
    if certificate.issuer != ca.subject or certificate.not_valid_after_utc - now < RENEW_BEFORE:
        return False
    try:
        certificate.verify_directly_issued_by(ca)
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return set(alternative_names(hostnames)) <= set(names)


def _new_ca(now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"pycompass serving CA {now:%Y-%m-%d}")])
    certificate = (
        certificate_builder(name, name, key, now, now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _issue(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], hostnames: Sequence[str], now: datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_certificate, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0] if hostnames else "localhost")])
    certificate = (
        certificate_builder(subject, ca_certificate.subject, key, now, now + CERTIFICATE_VALIDITY)
        .add_extension(x509.SubjectAlternativeName(alternative_names(hostnames)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return certificate, key


def certificate_builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, now: datetime, not_after: datetime
) -> x509.CertificateBuilder:
    """A certificate valid from ``BACKDATE`` before ``now`` until ``not_after``, with a random serial."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
    )


def key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    """A CA's (signs certificates and CRLs) or a serving certificate's key usage; shared with the watcher's CA."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def alternative_names(hostnames: Sequence[str]) -> list[x509.GeneralName]:
    """Each name as an IP address where it is one, else as a DNS name."""
    names: list[x509.GeneralName] = []
    for name in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    return names


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
