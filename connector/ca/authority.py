"""The certificate authority that signs Connector client certificates, the HTTPS server certificate, the CRL.

Either pycompass generates its own CA on first start (an EC P-256 key and a self-signed certificate under
``<data dir>/ca/``, reused afterwards), or the operator supplies a CA certificate and key, which may be an
intermediate. EC P-256 is our choice for a generated CA because it signs about twice as fast as RSA-2048
(../shared/PERFORMANCE.md) and every TLS stack Compass clients use verifies it.

Chains: every issued certificate comes back as the client certificate followed by the issuing CA certificate
and then, in the order supplied, the certificates of the operator's chain files (``ca_chain_pem``). We do not
drop a root the operator put into a chain file: what is supplied is returned, so the operator decides. This is
Compass's ``certificateChain`` (client + CA) generalised to intermediates.

The object is immutable once constructed, so one instance is shared by all requests and threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from connector.ca.csr import check_public_key
from connector.ca.files import private_directory, write_private_file, write_public_file
from connector.ca.subject import COMMON_NAME_MAX_LENGTH, CertificateSubject

CA_DIRECTORY = "ca"
CA_CERT_FILENAME = "ca.crt"
CA_KEY_FILENAME = "ca.key"
_LOCK_FILENAME = ".lock"

CA_VALIDITY = timedelta(days=3650)
DEFAULT_SERVER_VALIDITY = timedelta(days=365)
# Certificates start one minute in the past so a client whose clock runs slightly behind ours can use a
# certificate the moment it receives it.
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=1)
SERIAL_BITS = 127
_MIN_CA_RSA_BITS = 2048
# The hashes a CA signs with: the certificate and CRL builders accept no others.
SignatureHash = hashes.SHA256 | hashes.SHA384 | hashes.SHA512
_CA_CURVE_HASHES: dict[str, SignatureHash] = {
    ec.SECP256R1.name: hashes.SHA256(),
    ec.SECP384R1.name: hashes.SHA384(),
    ec.SECP521R1.name: hashes.SHA512(),
}

CAPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class CAConfigurationError(ValueError):
    """The CA files are missing, inconsistent or unusable; raised at start-up, saying what to fix."""


def random_serial_number() -> int:
    """A positive serial of exactly 127 bits: 126 random bits under a fixed top bit.

    RFC 5280 allows 20 octets and asks for at least 64 random bits; ``x509.random_serial_number()`` gives 159
    bits. Ours stays below 2**128 as Compass promises, always encodes to 16 DER octets (no sign padding) and
    prints as 32 hex digits.
    """
    return secrets.randbits(SERIAL_BITS - 1) | (1 << (SERIAL_BITS - 1))


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    certificate: x509.Certificate
    pem: str
    chain_pem: str  # this certificate, then the issuing CA and the operator's chain certificates
    serial: int
    serial_hex: str
    fingerprint_sha256_hex: str
    not_before: datetime
    not_after: datetime


class ServerCredentials(NamedTuple):
    """For uvicorn's ``ssl_certfile`` and ``ssl_keyfile``; the key must be written with mode 0600."""

    certificate_pem: str  # the server certificate followed by the CA chain
    key_pem: str


def _signature_hash(key: CAPrivateKey) -> SignatureHash:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return _CA_CURVE_HASHES[key.curve.name]
    return hashes.SHA256()


def _check_ca_key(key: object, source: str) -> CAPrivateKey:
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < _MIN_CA_RSA_BITS:
            raise CAConfigurationError(
                f"{source}: RSA CA key has {key.key_size} bits, at least {_MIN_CA_RSA_BITS} required"
            )
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in _CA_CURVE_HASHES:
            raise CAConfigurationError(
                f"{source}: EC curve {key.curve.name} is not supported, use P-256, P-384 or P-521"
            )
        return key
    raise CAConfigurationError(f"{source}: the CA key must be RSA or EC, got {type(key).__name__}")


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _private_key_pem(key: CAPrivateKey) -> bytes:
    """Unencrypted PKCS#8: the file mode (0600) protects it, as for any TLS server key."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _new_ca_name() -> str:
    """A random suffix keeps the CAs of two installations apart for clients that trust both."""
    return f"pycompass CA {secrets.token_hex(4)}"


def _self_signed_ca_certificate(key: CAPrivateKey, *, now: datetime, common_name: str) -> x509.Certificate:
    """A root that only issues end-entity certificates, hence path length 0."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pycompass"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    subject_key_identifier = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(random_serial_number())
        .not_valid_before(now - CLOCK_SKEW_ALLOWANCE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(subject_key_identifier, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(subject_key_identifier),
            critical=False,
        )
        .sign(key, _signature_hash(key))
    )


def _key_usage(*, digital_signature: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _general_name(hostname: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        pass
    if not hostname or not hostname.isascii():
        raise ValueError(f"host name {hostname!r} must be an IP address or an ASCII (IDNA) DNS name")
    return x509.DNSName(hostname)


def _check_ca_certificate(
    certificate: x509.Certificate, key: CAPrivateKey, chain: Sequence[x509.Certificate], *, now: datetime
) -> None:
    """Refuse at start-up what would only fail later, at the first signature or in a client's verifier."""
    if certificate.public_key() != key.public_key():
        raise CAConfigurationError("the CA certificate does not belong to the CA key")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise CAConfigurationError("the CA certificate lacks basicConstraints CA:TRUE, it cannot issue")
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.key_cert_sign:
        raise CAConfigurationError("the CA certificate's key usage does not allow keyCertSign")
    if certificate.not_valid_after_utc <= now:
        expired_at = certificate.not_valid_after_utc.isoformat()
        raise CAConfigurationError(f"the CA certificate expired at {expired_at}")
    for position, (child, parent) in enumerate(zip([certificate, *chain], chain, strict=False), start=1):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise CAConfigurationError(
                f"chain certificate {position} ({parent.subject.rfc4514_string()}) did not issue "
                f"{child.subject.rfc4514_string()}: list the chain issuer after subject"
            ) from None


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Serialises CA creation between processes started together (several workers on one data directory)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CAConfigurationError(f"cannot read the {what} {path}: {error.strerror}") from None


def _load_key(path: Path, password: bytes | None) -> CAPrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path, "CA key file"), password=password)
    except (ValueError, TypeError) as error:
        raise CAConfigurationError(f"{path}: not a readable PEM private key ({error})") from None
    return _check_ca_key(key, str(path))


def _load_certificates(path: Path, what: str) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(_read(path, what))
    except ValueError:
        raise CAConfigurationError(f"{path}: the {what} holds no readable PEM certificate") from None
    return certificates


class CertificateAuthority:
    """Signs client and server certificates and CRLs with one CA key; immutable after construction."""

    __slots__ = (
        "_authority_key_identifier",
        "_ca_chain_pem",
        "_ca_pem",
        "_certificate",
        "_chain",
        "_hash",
        "_key",
    )

    def __init__(
        self,
        certificate: x509.Certificate,
        private_key: CAPrivateKey,
        chain: Sequence[x509.Certificate] = (),
        *,
        now: datetime | None = None,
    ) -> None:
        """``chain``: the certificates above ``certificate`` (its issuer first), returned with every chain."""
        key = _check_ca_key(private_key, "CA key")
        _check_ca_certificate(certificate, key, chain, now=now or datetime.now(UTC))
        try:
            identifier = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            authority_key_identifier = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                identifier
            )
        except x509.ExtensionNotFound:
            authority_key_identifier = x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())
        self._certificate = certificate
        self._key = key
        self._chain = (certificate, *chain)
        self._hash = _signature_hash(key)
        self._authority_key_identifier = authority_key_identifier
        self._ca_pem = _pem(certificate)
        self._ca_chain_pem = "".join(_pem(item) for item in self._chain)

    # --- construction -------------------------------------------------------------------------------------

    @classmethod
    def generate(cls, *, now: datetime | None = None, common_name: str | None = None) -> CertificateAuthority:
        """A fresh in-memory EC P-256 root, valid ten years."""
        moment = now or datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = _self_signed_ca_certificate(key, now=moment, common_name=common_name or _new_ca_name())
        return cls(certificate, key, now=moment)

    @classmethod
    def load_or_create(
        cls,
        data_dir: Path,
        *,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        chain_files: Sequence[Path] = (),
        key_password: bytes | None = None,
        now: datetime | None = None,
    ) -> CertificateAuthority:
        """The operator's CA when ``cert_file`` and ``key_file`` are given, else the one in ``data_dir/ca/``.

        ``cert_file`` may hold an intermediate CA; ``chain_files`` then hold the certificates above it, issuer
        after subject, and are returned after the CA in every chain. Without operator files the CA is created
        on first start (key written atomically with mode 0600, directory 0700) and reused afterwards;
        creation is locked so processes starting together agree on one CA.
        """
        if cert_file is not None or key_file is not None:
            if cert_file is None or key_file is None:
                raise CAConfigurationError("give both the CA certificate file and the CA key file, or none")
            return cls._load_supplied(cert_file, key_file, chain_files, key_password, now)
        if chain_files:
            raise CAConfigurationError("CA chain files need an operator-supplied CA certificate and key")
        return cls._load_or_create_generated(Path(data_dir), now)

    @classmethod
    def _load_supplied(
        cls,
        cert_file: Path,
        key_file: Path,
        chain_files: Sequence[Path],
        key_password: bytes | None,
        now: datetime | None,
    ) -> CertificateAuthority:
        certificates = _load_certificates(Path(cert_file), "CA certificate file")
        chain = certificates[1:]  # a bundle in the certificate file is read like a chain file
        for chain_file in chain_files:
            chain.extend(_load_certificates(Path(chain_file), "CA chain file"))
        return cls(certificates[0], _load_key(Path(key_file), key_password), chain, now=now)

    @classmethod
    def _load_or_create_generated(cls, data_dir: Path, now: datetime | None) -> CertificateAuthority:
        directory = private_directory(data_dir / CA_DIRECTORY)
        cert_path, key_path = directory / CA_CERT_FILENAME, directory / CA_KEY_FILENAME
        with _exclusive_lock(directory / _LOCK_FILENAME):
            if cert_path.exists() and not key_path.exists():
                raise CAConfigurationError(
                    f"{cert_path} exists without {key_path}: restore the key or remove both"
                )
            if key_path.exists():
                key = _load_key(key_path, None)
            else:
                key = ec.generate_private_key(ec.SECP256R1())
                write_private_file(key_path, _private_key_pem(key))
            if cert_path.exists():
                certificate = _load_certificates(cert_path, "CA certificate file")[0]
            else:
                # Also the way out of a crash between the two writes: nothing can have been issued yet.
                moment = now or datetime.now(UTC)
                certificate = _self_signed_ca_certificate(key, now=moment, common_name=_new_ca_name())
                write_public_file(cert_path, _pem(certificate).encode("ascii"))
            return cls(certificate, key, now=now)

    # --- reading ------------------------------------------------------------------------------------------

    @property
    def certificate(self) -> x509.Certificate:
        """The issuing CA certificate."""
        return self._certificate

    @property
    def issuer_chain(self) -> tuple[x509.Certificate, ...]:
        """The issuing CA certificate followed by the operator's chain certificates."""
        return self._chain

    @property
    def ca_pem(self) -> str:
        """The issuing CA certificate (Compass's ``caCertificate``)."""
        return self._ca_pem

    @property
    def ca_chain_pem(self) -> str:
        """The issuing CA, then the chain certificates: what follows a client certificate in its chain."""
        return self._ca_chain_pem

    def verify_issued(self, certificate: x509.Certificate) -> bool:
        """True if this CA signed ``certificate`` (issuer name and signature); validity is not checked."""
        try:
            certificate.verify_directly_issued_by(self._certificate)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True

    # --- issuing ------------------------------------------------------------------------------------------

    def _not_after(self, now: datetime, validity: timedelta) -> datetime:
        """``now + validity``, but never past the CA's own expiry, so no certificate outlives its issuer."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if validity <= timedelta(0):
            raise ValueError("validity must be positive")
        not_after = min(now + validity, self._certificate.not_valid_after_utc)
        if not_after <= now:
            raise ValueError("the CA certificate has expired; it cannot issue certificates")
        return not_after

    def _issued(self, certificate: x509.Certificate) -> IssuedCertificate:
        pem = _pem(certificate)
        return IssuedCertificate(
            certificate=certificate,
            pem=pem,
            chain_pem=pem + self._ca_chain_pem,
            serial=certificate.serial_number,
            serial_hex=f"{certificate.serial_number:032x}",
            fingerprint_sha256_hex=certificate.fingerprint(hashes.SHA256()).hex(),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
        )

    def sign(
        self,
        csr: x509.CertificateSigningRequest,
        subject: CertificateSubject,
        *,
        validity: timedelta,
        now: datetime,
    ) -> IssuedCertificate:
        """A client certificate for the CSR's key, with ``subject`` built by us (not copied from the CSR).

        The CSR must have passed ``parse_and_validate_csr``; only the key policy is re-checked here. Valid
        from ``now`` minus the clock-skew allowance until ``now + validity`` (capped at the CA's expiry); key
        usage digitalSignature (critical), extended key usage clientAuth, no subject alternative names.
        """
        public_key = csr.public_key()
        check_public_key(public_key)
        not_after = self._not_after(now, validity)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject.to_x509_name())
            .issuer_name(self._certificate.subject)
            .public_key(public_key)
            .serial_number(random_serial_number())
            .not_valid_before(now - CLOCK_SKEW_ALLOWANCE)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(public_key),
                critical=False,
            )
            .add_extension(self._authority_key_identifier, critical=False)
            .sign(self._key, self._hash)
        )
        return self._issued(certificate)

    async def sign_async(
        self,
        csr: x509.CertificateSigningRequest,
        subject: CertificateSubject,
        *,
        validity: timedelta,
        now: datetime,
    ) -> IssuedCertificate:
        """``sign`` on a worker thread: signing is CPU work that must not stall the event loop."""
        return await asyncio.to_thread(self.sign, csr, subject, validity=validity, now=now)

    def issue_server_certificate(
        self,
        hostnames: Sequence[str],
        *,
        validity: timedelta = DEFAULT_SERVER_VALIDITY,
        now: datetime | None = None,
    ) -> ServerCredentials:
        """A fresh EC P-256 key and a serverAuth certificate naming every host (DNS names, IP addresses)."""
        if not hostnames:
            raise ValueError("a server certificate needs at least one host name")
        moment = now or datetime.now(UTC)
        names = [_general_name(hostname) for hostname in hostnames]
        key = ec.generate_private_key(ec.SECP256R1())
        common_name = hostnames[0] if len(hostnames[0]) <= COMMON_NAME_MAX_LENGTH else "pycompass"
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self._certificate.subject)
            .public_key(key.public_key())
            .serial_number(random_serial_number())
            .not_valid_before(moment - CLOCK_SKEW_ALLOWANCE)
            .not_valid_after(self._not_after(moment, validity))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(self._authority_key_identifier, critical=False)
            .sign(self._key, self._hash)
        )
        key_pem = _private_key_pem(key).decode("ascii")
        return ServerCredentials(_pem(certificate) + self._ca_chain_pem, key_pem)

    # --- revocation ---------------------------------------------------------------------------------------

    def crl(
        self,
        revoked: Iterable[tuple[int, datetime]],
        *,
        now: datetime,
        next_update: datetime,
        crl_number: int | None = None,
    ) -> x509.CertificateRevocationList:
        """A CRL of ``(serial, revoked_at)`` pairs signed by this CA.

        ``crl_number`` must grow with every CRL (RFC 5280); by default it is ``now`` in milliseconds since the
        epoch, which grows as long as the clock does.
        """
        if next_update <= now:
            raise ValueError("next_update must be after now")
        number = crl_number if crl_number is not None else int(now.timestamp() * 1000)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self._certificate.subject)
            .last_update(now)
            .next_update(next_update)
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(self._authority_key_identifier, critical=False)
        )
        for serial, revoked_at in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(revoked_at).build()
            )
        return builder.sign(self._key, self._hash)
