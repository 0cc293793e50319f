"""The agent's connection: a one-time token turned into a certificate, kept renewed, given up when revoked.

``ConnectionManager.ensure`` runs at the start of every iteration of the loop with the ``CompassConnection``
record as stored (None when it was deleted). It returns the record to store next and, when there is a usable
certificate, the ``Connection`` to sync with:

- no record, no stored credentials, or a record in ``ConnectionFailed``: connect with the token from the
  settings (read again first, so a new TOKEN in a mounted Secret is picked up): ``configuration`` → a new key
  made here → CSR for the announced subject → ``signCertificateSigningRequest`` → store → ``Connected``.
  A refused token (or an unreachable Connector) gives ``ConnectionFailed`` with the reason; the loop retries
  with a capped backoff.
- a certificate whose renewal time has come, or ``spec.refreshCredentialsNow``: the same two calls over mTLS.
- a revoked certificate (``CERTIFICATE_REVOKED``, or a TLS "certificate revoked" alert):
  ``ConnectionMaintenanceFailed``; key and certificate are deleted, and the next iteration connects with the
  token if one is configured. Other refusals of the certificate are reported the same way but the certificate
  is kept (deleting the CompassConnection makes the agent connect anew with its token); an expired one makes
  the agent connect with its token at once.

Renewal time: ``notAfter - validity × (threshold - offset)``. The offset is a share of the validity between
0 and 10 % (at most a third of the threshold) drawn from ``sha256(runtime id / certificate serial)``: the same
at every check of one certificate (no flapping), different between runtimes (a fleet connected in the same
minute renews spread over 10 % of the validity, 9 days of 90) and between certificates, never before the
threshold.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from agent.connector_client import (
    CertificateRefused,
    CertificateRevoked,
    ConnectorClient,
    ConnectorError,
    ConnectorRefused,
)
from agent.errors import AgentError
from agent.settings import AgentSettings
from agent.state import Credentials, CredentialStore, PrivateKey, generate_key, key_to_pem
from agent.status import CertificateStatus, CompassConnection, ConnectionState, ConnectionStatus

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]

RENEWAL_SPREAD = 0.1
BACKOFF_CAP_SECONDS = 300.0

_SUBJECT_OIDS = {
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "L": NameOID.LOCALITY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "C": NameOID.COUNTRY_NAME,
    "CN": NameOID.COMMON_NAME,
}


def system_clock() -> datetime:
    return datetime.now(UTC)


def subject_name(subject: str) -> x509.Name:
    """``O=Org,OU=OrgUnit,L=Locality,ST=State,C=PL,CN=<client id>``, attribute by attribute, in that order."""
    attributes = []
    for part in subject.split(","):
        short, separator, value = part.strip().partition("=")
        if not separator or short not in _SUBJECT_OIDS:
            raise ConnectorRefused("invalid_subject", f"cannot make a CSR for the subject {subject!r}")
        attributes.append(x509.NameAttribute(_SUBJECT_OIDS[short], value))
    return x509.Name(attributes)


def csr_for(key: PrivateKey, subject: str) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject_name(subject))
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def renewal_offset(runtime_id: str, serial: str, threshold: float) -> float:
    spread = min(RENEWAL_SPREAD, threshold / 3)
    digest = hashlib.sha256(f"{runtime_id}/{serial}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * spread


def renewal_time(credentials: Credentials, *, threshold: float, runtime_id: str) -> datetime:
    validity = credentials.not_after - credentials.not_before
    share = threshold - renewal_offset(runtime_id, credentials.serial, threshold)
    return credentials.not_after - validity * share


@dataclass
class Backoff:
    """Exponential, capped, ±20 % jitter: the wait before the next token connection after a failed one."""

    base: float
    cap: float = BACKOFF_CAP_SECONDS
    failures: int = 0

    def next_delay(self, rng: random.Random) -> float:
        delay = min(self.cap, self.base * 2**self.failures)
        self.failures += 1
        return delay * rng.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.failures = 0


@dataclass(frozen=True)
class Connection:
    """A usable certificate and where to use it."""

    runtime_id: str
    director_url: str
    connector_url: str
    credentials: Credentials
    store: CredentialStore = field(repr=False)


@dataclass
class Maintenance:
    """What ``ensure`` did: the record to store, the connection to sync with (None: do not sync)."""

    record: CompassConnection
    connection: Connection | None
    connected: bool = False
    renewed: bool = False
    failed: bool = False


class ConnectionManager:
    def __init__(
        self,
        settings: AgentSettings,
        store: CredentialStore,
        *,
        clock: Clock = system_clock,
        reload_settings: Callable[[], AgentSettings] | None = None,
    ) -> None:
        settings.require_connection_settings()
        self.settings = settings
        self.store = store
        self.clock = clock
        self.reload_settings = reload_settings
        self.runtime_id: str = settings.runtime_id  # type: ignore[assignment]  # checked just above

    async def ensure(self, record: CompassConnection | None, *, force_renewal: bool = False) -> Maintenance:
        credentials = self.store.load()
        if record is None or credentials is None or record.state is ConnectionState.CONNECTION_FAILED:
            if record is None and credentials is not None:
                log.warning("connection_record_missing", action="connecting again with the token")
            return await self.connect(record)
        if not record.director_url or not record.connector_url:
            return await self.connect(record)
        connection = self._connection(record.director_url, record.connector_url, credentials)
        if credentials.not_after <= self.clock():
            # Too late to renew: only a token helps. The expired files stay until new ones replace them.
            log.warning("certificate_expired", runtime_id=self.runtime_id, serial=credentials.serial)
            return await self.connect(record)
        if force_renewal or record.refresh_credentials_now or self.renewal_due(credentials):
            return await self.renew(record, connection)
        return Maintenance(record, connection)

    def renewal_due(self, credentials: Credentials) -> bool:
        due = renewal_time(credentials, threshold=self.settings.renewal_threshold, runtime_id=self.runtime_id)
        return self.clock() >= due

    async def connect(self, previous: CompassConnection | None) -> Maintenance:
        settings = self._fresh_settings()
        token = settings.token_value()
        record = previous or CompassConnection()
        if token is None:
            if record.state is ConnectionState.CONNECTION_MAINTENANCE_FAILED:
                return Maintenance(record, None, failed=True)  # keep saying why the certificate was given up
            return self._failed(record, "no TOKEN configured: request a one-time token for the runtime")
        url = settings.connector_url or ""
        try:
            async with ConnectorClient.for_token(url, timeout=settings.http_timeout) as client:
                configuration = await client.configuration(token)
                key = await asyncio.to_thread(generate_key, settings.key_type)
                certification = await client.sign(csr_for(key, configuration.subject), configuration.token)
            credentials = Credentials(
                key_to_pem(key), certification.certificate_chain, certification.ca_certificate
            )
            self.store.save(credentials)
        except AgentError as error:
            return self._failed(record, error.reason)
        except (ValueError, KeyError, TypeError, OSError) as error:
            return self._failed(record, f"the Connector's answer is unusable: {error}")
        now = self.clock()
        connected = CompassConnection(
            director_url=configuration.director_url,
            connector_url=configuration.certificate_secured_connector_url,
            state=ConnectionState.CONNECTED,
            connection_status=ConnectionStatus(
                established=now, certificate_status=self._certificate_status(credentials, now)
            ),
            synchronization_status=record.synchronization_status,
        )
        not_after = str(credentials.not_after)
        log.info("connected", runtime_id=self.runtime_id, serial=credentials.serial, not_after=not_after)
        connection = self._connection(
            configuration.director_url, configuration.certificate_secured_connector_url, credentials
        )
        return Maintenance(connected, connection, connected=True)

    async def renew(self, record: CompassConnection, connection: Connection) -> Maintenance:
        record.refresh_credentials_now = False
        try:
            async with self._mtls_client(connection) as client:
                configuration = await client.configuration()
                key = await asyncio.to_thread(generate_key, self.settings.key_type)
                certification = await client.sign(csr_for(key, configuration.subject))
            credentials = Credentials(
                key_to_pem(key), certification.certificate_chain, certification.ca_certificate
            )
            self.store.save(credentials)
        except CertificateRevoked as error:
            return self._stop_using(record, connection, error)
        except (AgentError, ValueError, KeyError, TypeError, OSError) as error:
            # The current certificate stays in use until it can be renewed (a refusal that is not a
            # revocation may be a proxy's mistake; deleting the CompassConnection connects with the token).
            reason = error.reason if isinstance(error, AgentError) else f"{type(error).__name__}: {error}"
            log.warning("renewal_failed", runtime_id=self.runtime_id, error=reason)
            record.state = ConnectionState.CONNECTION_MAINTENANCE_FAILED
            record.connection_status.error = f"renewal failed: {reason}"
            return Maintenance(record, connection, failed=True)
        record.director_url = configuration.director_url
        record.connector_url = configuration.certificate_secured_connector_url
        record.state = ConnectionState.CONNECTED
        now = self.clock()
        record.connection_status.renewed = now
        record.connection_status.certificate_status = self._certificate_status(credentials, now)
        record.connection_status.error = None
        log.info(
            "certificate_renewed",
            runtime_id=self.runtime_id,
            old_serial=connection.credentials.serial,
            serial=credentials.serial,
            not_after=str(credentials.not_after),
        )
        renewed = self._connection(record.director_url, record.connector_url, credentials)
        return Maintenance(record, renewed, renewed=True)

    async def check_certificate(
        self, record: CompassConnection, connection: Connection, error: AgentError
    ) -> Maintenance:
        """After a failed sync: was our certificate revoked? The Director's code says so, else the Connector.

        Only a revocation makes the agent give the certificate up; any other refusal of it is reported as
        ``ConnectionMaintenanceFailed`` and the certificate kept (it may be a proxy's mistake).
        """
        if error.code == "CERTIFICATE_REVOKED":
            return self._stop_using(record, connection, CertificateRevoked(error.code, error.reason))
        try:
            async with self._mtls_client(connection) as client:
                await client.configuration()
        except CertificateRevoked as revoked:
            return self._stop_using(record, connection, revoked)
        except CertificateRefused as refused:
            log.warning("certificate_refused", runtime_id=self.runtime_id, error=refused.reason)
            record.state = ConnectionState.CONNECTION_MAINTENANCE_FAILED
            record.connection_status.error = f"the certificate is refused: {refused.reason}"
            return Maintenance(record, connection, failed=True)
        except (AgentError, OSError, ValueError):
            pass  # the Connector is unreachable too, or busy: nothing says the certificate is bad
        return Maintenance(record, connection)

    def _stop_using(
        self, record: CompassConnection, connection: Connection, error: ConnectorError
    ) -> Maintenance:
        serial = connection.credentials.serial
        self.store.discard()
        has_token = self._fresh_settings().token_value() is not None
        next_step = "connecting again with TOKEN" if has_token else "set a new TOKEN to connect again"
        log.error(
            "certificate_given_up",
            runtime_id=self.runtime_id,
            serial=serial,
            code=error.code,
            error=error.message,
        )
        record.state = ConnectionState.CONNECTION_MAINTENANCE_FAILED
        record.connection_status.error = (
            f"certificate {serial} is no longer accepted ({error.code}: {error.message}); "
            f"stopped using it, {next_step}"
        )
        return Maintenance(record, None, failed=True)

    def _failed(self, record: CompassConnection, reason: str) -> Maintenance:
        log.warning("connection_failed", runtime_id=self.runtime_id, error=reason)
        record.state = ConnectionState.CONNECTION_FAILED
        record.connection_status.error = reason
        return Maintenance(record, None, failed=True)

    def _fresh_settings(self) -> AgentSettings:
        if self.reload_settings is None:
            return self.settings
        try:
            return self.reload_settings()
        except Exception as error:  # noqa: BLE001 - a broken Secret must not stop the agent
            log.warning("settings_reload_failed", error=str(error))
            return self.settings

    def _mtls_client(self, connection: Connection) -> ConnectorClient:
        return ConnectorClient.for_certificate(
            connection.connector_url,
            connection.credentials,
            chain_file=str(self.store.chain_file),
            key_file=str(self.store.key_file),
            timeout=self.settings.http_timeout,
        )

    def _connection(self, director_url: str, connector_url: str, credentials: Credentials) -> Connection:
        return Connection(self.runtime_id, director_url, connector_url, credentials, self.store)

    @staticmethod
    def _certificate_status(credentials: Credentials, acquired: datetime) -> CertificateStatus:
        return CertificateStatus(
            acquired=acquired, not_before=credentials.not_before, not_after=credentials.not_after
        )


def remaining_share(credentials: Credentials, now: datetime) -> float:
    """The share of the certificate's validity left at ``now`` (for logs and the CLI)."""
    validity = credentials.not_after - credentials.not_before
    if validity <= timedelta(0):
        return 0.0
    return max(0.0, (credentials.not_after - now) / validity)
