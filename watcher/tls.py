"""The webhook's TLS material, made and rotated by the watcher itself (no cert-manager), in ``WATCHER_TLS_DIR``.

Files (directory 0700, files 0600, each written through a temporary file and a rename, the directory fsynced):

- ``ca.crt``: the CA bundle the API server trusts (the agent renders it into the webhook's ``caBundle``): the CA
  that signs the serving certificate, the next one while a rotation is under way, and a replaced one until it
  expires;
- ``ca.key``: the signing CA's key; ``ca-next.key``: the next CA's key while it is only published;
- ``tls.crt`` (the serving certificate, then its CA) and ``tls.key``.

Rotation, so that a client holding the published bundle never sees a failed handshake: the serving certificate is
renewed when a third of its life is left. The CA is replaced when a third of its life is left, in three steps: a
next CA is published in the bundle beside the current one; after ``WATCHER_CA_OVERLAP_SECONDS`` (longer than the
agent takes to render the bundle into ``caBundle``) it signs a new serving certificate; the old CA leaves the bundle
when it expires. Files that are valid are reused at start, so a restart does not change the CA.

A new certificate reaches new handshakes without a restart: ``SSLContext.load_cert_chain`` on the live context
applies to every connection made after it (OpenSSL copies the context's certificate into each new connection;
checked for the asyncio and uvloop event loops), and it runs on the event loop, so no connection is made between
the certificate and its key being loaded. One process owns a directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dataplane.files import sync_directory, write_private_file
from dataplane.tls import BACKDATE, alternative_names, certificate_builder, key_usage, serving_hostnames
from watcher.metrics import record_certificate_expiry
from watcher.settings import WatcherSettings

log = structlog.get_logger(__name__)

# The rotation is looked at again at least this often (a clock that jumped), and never in a tighter loop.
_LONGEST_WAIT = 60.0
_SHORTEST_WAIT = 0.1
_RETRY_AFTER_FAILURE = 5.0


@dataclass(frozen=True)
class KeyPair:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    @property
    def issued_at(self) -> datetime:
        return self.certificate.not_valid_before_utc + BACKDATE

    @property
    def renewal_due(self) -> datetime:
        """When a third of its life is left."""
        return self.not_after - (self.not_after - self.issued_at) / 3


@dataclass(frozen=True)
class WebhookCertificates:
    """What ``WATCHER_TLS_DIR`` holds after ``WebhookTLS.ensure``."""

    bundle: tuple[x509.Certificate, ...]  # ca.crt, oldest first
    signing: KeyPair
    upcoming: KeyPair | None  # published, not yet signing
    serving: KeyPair


@dataclass(frozen=True)
class _Files:
    bundle: Path
    signing_key: Path
    upcoming_key: Path
    certificate: Path
    key: Path


def webhook_hostnames(settings: WatcherSettings) -> list[str]:
    """The names the API server calls the webhook by (through its Service), then the loopback names and
    ``WATCHER_HOST``."""
    service = f"{settings.service_name}.{settings.service_namespace}.svc"
    return [service, f"{service}.cluster.local", *serving_hostnames(settings.host)]


class WebhookTLS:
    def __init__(
        self,
        directory: Path,
        hostnames: Sequence[str],
        *,
        ca_lifetime: timedelta,
        certificate_lifetime: timedelta,
        overlap: timedelta,
    ) -> None:
        self.directory = directory
        self.files = _Files(
            directory / "ca.crt",
            directory / "ca.key",
            directory / "ca-next.key",
            directory / "tls.crt",
            directory / "tls.key",
        )
        self.hostnames = list(hostnames)
        self.ca_lifetime = ca_lifetime
        self.certificate_lifetime = certificate_lifetime
        self.overlap = overlap
        self.current: WebhookCertificates | None = None

    @classmethod
    def from_settings(cls, settings: WatcherSettings) -> WebhookTLS:
        return cls(
            settings.tls_dir,
            webhook_hostnames(settings),
            ca_lifetime=settings.ca_lifetime,
            certificate_lifetime=settings.cert_lifetime,
            overlap=timedelta(seconds=settings.ca_overlap_seconds),
        )

    def ensure(self, now: datetime | None = None) -> WebhookCertificates:
        """Brings the files up to date at ``now``: reuses what is valid, takes every rotation step that is due.
        Blocking (file I/O, key generation): call it in a thread from the event loop."""
        now = now or datetime.now(UTC)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        bundle = _read_bundle(self.files.bundle)
        signing = _pair_in(bundle, self.files.signing_key, now)
        upcoming = _pair_in(bundle, self.files.upcoming_key, now)
        if upcoming is not None and (signing is None or now >= upcoming.issued_at + self.overlap):
            os.replace(self.files.upcoming_key, self.files.signing_key)
            sync_directory(self.directory)
            signing, upcoming = upcoming, None
            log.info("webhook_ca_switched", ca=_name(signing.certificate), not_after=_iso(signing.not_after))
        elif upcoming is None:
            with contextlib.suppress(FileNotFoundError):
                self.files.upcoming_key.unlink()  # a key whose CA never reached the bundle
        if signing is None:
            signing = self._new_ca(self.files.signing_key, now)
            log.info("webhook_ca_created", ca=_name(signing.certificate), not_after=_iso(signing.not_after))
        elif upcoming is None and now >= signing.renewal_due:
            upcoming = self._new_ca(self.files.upcoming_key, now)
            log.info(
                "webhook_ca_rotation_started",
                next_ca=_name(upcoming.certificate),
                switch_at=_iso(upcoming.issued_at + self.overlap),
            )
        # Replaced CAs stay until they expire (a client may still be served by one), oldest first.
        in_force = (signing.certificate, *([upcoming.certificate] if upcoming else []))
        replaced = (c for c in bundle if c not in in_force and c.not_valid_after_utc > now)
        kept = (*replaced, *in_force)
        if kept != bundle:
            write_private_file(self.files.bundle, b"".join(_pem(certificate) for certificate in kept))
        serving = self._serving(signing, now)
        self.current = WebhookCertificates(kept, signing, upcoming, serving)
        record_certificate_expiry(
            serving=serving.not_after,
            ca=signing.not_after,
            next_ca=upcoming.not_after if upcoming else None,
        )
        return self.current

    def server_context(self) -> ssl.SSLContext:
        """TLS 1.3 only (as Kyma's webhook), serving the certificate in the files (after ``ensure``)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        self.load_into(context)
        return context

    def load_into(self, context: ssl.SSLContext) -> None:
        context.load_cert_chain(self.files.certificate, self.files.key)

    def seconds_until_due(self, current: WebhookCertificates, now: datetime | None = None) -> float:
        """Until the next rotation step (or a replaced CA expiring), within the loop's bounds."""
        now = now or datetime.now(UTC)
        due = [current.serving.renewal_due]
        due.append(
            current.upcoming.issued_at + self.overlap if current.upcoming else current.signing.renewal_due
        )
        due.extend(certificate.not_valid_after_utc for certificate in current.bundle)
        seconds = (min(due) - now).total_seconds()
        return min(max(seconds, _SHORTEST_WAIT), _LONGEST_WAIT)

    async def keep_rotated(
        self, current: WebhookCertificates, context: ssl.SSLContext, stop: asyncio.Event
    ) -> None:
        """Runs until ``stop``: each rotation step when it is due, a new serving certificate loaded into
        ``context`` (which serves ``current``) for the handshakes that follow."""
        wait = self.seconds_until_due(current)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
                return
            try:
                updated = await asyncio.to_thread(self.ensure)
            # A full or read-only disk: the certificate in force still serves, and the step is tried again.
            except (OSError, ValueError) as exc:
                log.warning("webhook_tls_rotation_failed", error=str(exc), retry_in=_RETRY_AFTER_FAILURE)
                wait = _RETRY_AFTER_FAILURE
                continue
            if updated.serving != current.serving:
                self.load_into(context)
            current = updated
            wait = self.seconds_until_due(current)

    def _new_ca(self, key_file: Path, now: datetime) -> KeyPair:
        """A CA whose key is written to ``key_file``; the caller publishes its certificate in the bundle."""
        key = ec.generate_private_key(ec.SECP256R1())
        # Each CA's name is its own, so that a bundle with two of them never leaves a client guessing.
        common_name = f"compass-watcher CA {now:%Y%m%d%H%M%S} {secrets.token_hex(4)}"
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        certificate = (
            certificate_builder(name, name, key, now, now + self.ca_lifetime)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        write_private_file(key_file, _key_pem(key))
        return KeyPair(certificate, key)

    def _serving(self, signing: KeyPair, now: datetime) -> KeyPair:
        """The serving certificate in the files if ``signing`` issued it for our names and it is not due for
        renewal; else a new one (never outliving its CA)."""
        current = _load_pair(self.files.certificate, self.files.key)
        if current is not None and self._serves(current, signing, now):
            return current
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.hostnames[0])])
        not_after = min(now + self.certificate_lifetime, signing.not_after)
        certificate = (
            certificate_builder(subject, signing.certificate.subject, key, now, not_after)
            .add_extension(x509.SubjectAlternativeName(alternative_names(self.hostnames)), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signing.key.public_key()), critical=False
            )
            .sign(signing.key, hashes.SHA256())
        )
        # Key first: a crash between the two renames leaves a pair that does not match, issued anew at start.
        write_private_file(self.files.key, _key_pem(key))
        write_private_file(self.files.certificate, _pem(certificate) + _pem(signing.certificate))
        log.info(
            "webhook_serving_certificate_issued",
            ca=_name(signing.certificate),
            not_after=_iso(certificate.not_valid_after_utc),
        )
        return KeyPair(certificate, key)

    def _serves(self, pair: KeyPair, signing: KeyPair, now: datetime) -> bool:
        if pair.certificate.issuer != signing.certificate.subject or now >= pair.renewal_due:
            return False
        try:
            pair.certificate.verify_directly_issued_by(signing.certificate)
            names = pair.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            return False
        return set(alternative_names(self.hostnames)) <= set(names)


def _read_bundle(path: Path) -> tuple[x509.Certificate, ...]:
    try:
        return tuple(x509.load_pem_x509_certificates(path.read_bytes()))
    except (OSError, ValueError):
        return ()


def _pair_in(bundle: Sequence[x509.Certificate], key_file: Path, now: datetime) -> KeyPair | None:
    """The unexpired CA of ``bundle`` whose key is in ``key_file``."""
    key = _load_key(key_file)
    if key is None:
        return None
    public = key.public_key()
    return next(
        (
            KeyPair(certificate, key)
            for certificate in bundle
            if certificate.public_key() == public and certificate.not_valid_after_utc > now
        ),
        None,
    )


def _load_pair(certificate_file: Path, key_file: Path) -> KeyPair | None:
    key = _load_key(key_file)
    try:
        certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
    except (OSError, ValueError):
        return None
    if key is None or certificate.public_key() != key.public_key():
        return None
    return KeyPair(certificate, key)


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None



def _name(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
