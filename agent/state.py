"""The credential store: the agent's private key, its certificate chain and the CA certificate, as files, and
``management-plane.json`` (the runtime's id and its Director's and Connector's URLs), which the Runtime Watcher
reads beside them to send its events to the control plane as this runtime.

The directory is mode 0700 and each file 0600, written atomically (temporary file, fsync, rename, fsync of the
directory). The three files of one set are all written to temporary files first and then renamed one after the
other, so a crash can at worst leave a key beside the certificate of another: ``load`` checks that they belong
together and treats a mismatch as "no credentials" (the agent then connects again with its token).

The private key is made here and never leaves this directory.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from agent.errors import AgentError
from agent.settings import KeyType
from dataplane.files import stage_private_file, sync_directory

log = structlog.get_logger(__name__)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class CertificateMismatch(AgentError):
    """A certificate whose public key is not the one of the private key it is to be used with."""


def generate_key(key_type: KeyType) -> PrivateKey:
    """RSA 4096 as Compass's agent makes (about half a second: call it in a thread), or EC P-256."""
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=4096)


def _public_key_der(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def matches(key: PrivateKey, certificate: x509.Certificate) -> bool:
    """Whether the certificate certifies exactly this key's public half."""
    return _public_key_der(key.public_key()) == _public_key_der(certificate.public_key())


def key_to_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class Credentials:
    key_pem: bytes
    chain_pem: bytes
    ca_pem: bytes

    @cached_property
    def key(self) -> PrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise CertificateMismatch(f"unsupported private key type {type(key).__name__}")
        return key

    @cached_property
    def certificate(self) -> x509.Certificate:
        """The client certificate: the first of the chain."""
        return x509.load_pem_x509_certificates(self.chain_pem)[0]

    @property
    def not_before(self) -> datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    @property
    def serial(self) -> str:
        return f"{self.certificate.serial_number:032x}"

    def matches(self) -> bool:
        return matches(self.key, self.certificate)


class CredentialStore:
    KEY = "client.key"
    CHAIN = "client.crt"
    CA = "ca.crt"
    # Where the Runtime Watcher (beside the agent, sharing this directory) sends its events, and as whom.
    MANAGEMENT_PLANE = "management-plane.json"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def key_file(self) -> Path:
        return self.directory / self.KEY

    @property
    def chain_file(self) -> Path:
        return self.directory / self.CHAIN

    @property
    def ca_file(self) -> Path:
        return self.directory / self.CA

    def load(self) -> Credentials | None:
        try:
            credentials = Credentials(
                self.key_file.read_bytes(), self.chain_file.read_bytes(), self.ca_file.read_bytes()
            )
        except FileNotFoundError:
            return None
        try:
            if credentials.matches():
                return credentials
        except (ValueError, CertificateMismatch) as error:
            log.warning("credentials_unreadable", directory=str(self.directory), error=str(error))
            return None
        log.warning("credentials_mismatch", directory=str(self.directory))
        return None

    def save(self, credentials: Credentials) -> None:
        """Replaces the stored set; refuses (keeping the old one) a certificate that is not for the key."""
        if not credentials.matches():
            raise CertificateMismatch(
                f"the certificate {credentials.serial} does not certify the agent's private key; "
                "kept the old one"
            )
        self._ensure_directory()
        staged = [
            (stage_private_file(self.key_file, credentials.key_pem), self.key_file),
            (stage_private_file(self.chain_file, credentials.chain_pem), self.chain_file),
            (stage_private_file(self.ca_file, credentials.ca_pem), self.ca_file),
        ]
        for temporary, final in staged:
            os.replace(temporary, final)
        sync_directory(self.directory)

    @property
    def management_plane_file(self) -> Path:
        return self.directory / self.MANAGEMENT_PLANE

    def save_management_plane(self, runtime_id: str, director_url: str, connector_url: str) -> bool:
        """Writes ``management-plane.json`` (atomically) unless it already says this; whether it was written."""
        content = json.dumps(
            {"runtimeId": runtime_id, "directorUrl": director_url, "connectorUrl": connector_url},
            sort_keys=True,
        ).encode("utf-8")
        try:
            if self.management_plane_file.read_bytes() == content:
                return False
        except FileNotFoundError:
            pass
        self._ensure_directory()
        os.replace(stage_private_file(self.management_plane_file, content), self.management_plane_file)
        sync_directory(self.directory)
        return True

    def discard(self) -> None:
        """Stops using the stored certificate for good: the key and certificate files are removed."""
        for path in (self.key_file, self.chain_file, self.ca_file):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if self.directory.exists():
            sync_directory(self.directory)

    def _ensure_directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)
