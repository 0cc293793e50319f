"""Token redemption and certificate issuance, renewal and revocation.

The service owns its transactions (unlike the Director's services): a refusal rolls back the attempted change,
yet its audit event must still be written, in a transaction of its own.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn, Protocol

import structlog
from cryptography import x509
from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy.ext.asyncio import AsyncSession

from connector.ca.authority import CertificateAuthority
from connector.ca.authority import IssuedCertificate as SignedCertificate
from connector.ca.csr import parse_and_validate_csr
from connector.ca.subject import CertificateSubject
from connector.errors import (
    CertificateLimitError,
    CertificateRevokedError,
    InvalidTokenError,
    RateLimitedError,
    TokenAlreadyUsedError,
    TokenExpiredError,
)
from credentials.audit.repository import AuditRepository, audit_event
from credentials.certificate.repository import CertificateRepository
from credentials.models import IssuedCertificate, OneTimeToken, SystemAuth
from credentials.systemauth.repository import OneTimeTokenRepository, SystemAuthRepository
from credentials.token.repository import TokenRedemptionRepository
from credentials.tokens import TokenType, hash_token, new_token
from kernel.changes import KeptValues, identity_tags
from kernel.db import Database
from kernel.errors import CompassError
from kernel.models import utcnow
from kernel.observability.metrics import CERTIFICATES_EXPIRING_SOON
from kernel.principal import CertificateIdentity, ClientKind
from kernel.settings import Settings

KEY_ALGORITHM = "rsa2048"
# Agents renew when less than 30% of the validity is left; a certificate still below that is "expiring soon".
EXPIRING_SHARE = 0.3
CONNECTION_TOKEN_TYPES = (TokenType.RUNTIME.value, TokenType.APPLICATION.value)
# Rows deleted per upkeep transaction: a backlog (a first run, a long outage) never holds the write lock for long.
PRUNE_BATCH = 1000

log = structlog.get_logger("connector.service")

OwnerCheck = Callable[[AsyncSession, SystemAuth], Awaitable[None]]
"""Called in the redeeming transaction with the token's client; raising refuses the token, which stays unspent."""


@dataclass(frozen=True)
class ConnectionConfiguration:
    tenant_id: str
    client_id: str
    token: str
    subject: str
    key_algorithm: str
    director_url: str
    certificate_secured_connector_url: str


class Prunable(Protocol):
    async def prune(self, before: datetime, *, limit: int) -> int: ...


@dataclass(frozen=True)
class Upkeep:
    """What one ``maintain()`` run deleted."""

    certificates: int
    tokens: int
    audit_events: int


@dataclass(frozen=True)
class CertificationResult:
    certificate_chain: str
    ca_certificate: str
    client_certificate: str


def _b64(pem: str) -> str:
    return base64.b64encode(pem.encode()).decode()


class ConnectorService:
    def __init__(
        self, database: Database, ca: CertificateAuthority, settings: Settings, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.database = database
        self.ca = ca
        self.settings = settings
        self.clock = clock
        self.subject_template = CertificateSubject(
            organization=settings.subject_organization,
            organizational_unit=settings.subject_organizational_unit,
            locality=settings.subject_locality,
            province=settings.subject_province,
            country=settings.subject_country,
            common_name="client-id",
        )
        # Per process, as the token-call limit: with N workers a client gets N times the rate.
        self.certificate_rate = RateLimitItemPerMinute(settings.certificate_calls_per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.identities: KeptValues[str, CertificateIdentity] = KeptValues(
            database.changes, max_entries=settings.kept_identities
        )

    def subject_for(self, client_id: str) -> CertificateSubject:
        return self.subject_template.with_common_name(client_id)

    # --- configuration ------------------------------------------------------------------------------------

    async def configuration_for_token(
        self,
        raw_token: str,
        *,
        remote_addr: str | None,
        types: tuple[str, ...] = CONNECTION_TOKEN_TYPES,
        owner: OwnerCheck | None = None,
    ) -> ConnectionConfiguration:
        """Redeems a one-time token from the Director and hands out the single-use token for the signing call.
        ``types`` narrows the tokens accepted (the REST API takes applications' only), ``owner`` their clients (a
        Remote Environment's); another stays unspent."""
        now = self.clock()
        token_hash = hash_token(raw_token)
        try:
            async with self.database.transaction() as session:
                record = await self._redeem(session, token_hash, types, now)
                await self._require_client(session, record, None, owner)
                signing_token = await self._signing_token(session, record.tenant_id, record.system_auth_id, now)
                AuditRepository(session).record(
                    audit_event(
                        "token_redeemed",
                        tenant_id=record.tenant_id,
                        client_id=record.system_auth_id,
                        remote_addr=remote_addr,
                        detail={"type": record.type},
                    )
                )
        except CompassError as error:
            await self._audit_refusal("token_refused", error, remote_addr=remote_addr, token_hash=token_hash)
            raise
        return self._configuration(record.tenant_id, record.system_auth_id, signing_token)

    async def configuration_for_certificate(
        self, identity: CertificateIdentity, *, remote_addr: str | None = None
    ) -> ConnectionConfiguration:
        """Renewal starts like a first connection, authenticated by the certificate instead of a token."""
        if identity.revoked or not await self._unrevoked(identity):
            # Even where revoked certificates may still call the Director ("renewal-only"): the signing token
            # handed out here would buy a new certificate over plain HTTP.
            await self.refuse_revoked(identity, remote_addr=remote_addr)
        await self._limit(identity)
        now = self.clock()
        async with self.database.transaction() as session:
            signing_token = await self._signing_token(session, identity.tenant_id, identity.client_id, now)
        return self._configuration(identity.tenant_id, identity.client_id, signing_token)

    async def _unrevoked(self, identity: CertificateIdentity) -> bool:
        """Read again, not kept: a kept identity may be a moment behind a revocation another process made."""
        async with self.database.read_sessions() as session:
            found = await CertificateRepository(session).with_system_auths([identity.serial])
        return bool(found) and found[0][0].revoked_at is None

    async def refuse_revoked(self, identity: CertificateIdentity, *, remote_addr: str | None) -> NoReturn:
        """Audits the attempt of a revoked certificate to get another one, and refuses it."""
        await self._limit(identity)
        error = CertificateRevokedError("the certificate is revoked and cannot be renewed")
        await self._audit_refusal(
            "certificate_refused", error, remote_addr=remote_addr, tenant_id=identity.tenant_id,
            client_id=identity.client_id, serial=identity.serial,
        )
        raise error

    async def _limit(self, identity: CertificateIdentity) -> None:
        """Every certificate call at the Connector may write (a token, a certificate, an audit event): a client
        over its rate is refused before anything is written."""
        if not await self._limiter.hit(self.certificate_rate, identity.client_id):
            raise RateLimitedError(
                f"more than {self.certificate_rate.amount} certificate calls per minute from this client; "
                "retry in a minute"
            )

    def _configuration(self, tenant_id: str, client_id: str, signing_token: str) -> ConnectionConfiguration:
        return ConnectionConfiguration(
            tenant_id=tenant_id,
            client_id=client_id,
            token=signing_token,
            subject=self.subject_for(client_id).to_compass_string(),
            key_algorithm=KEY_ALGORITHM,
            director_url=self.settings.mtls_director_url,
            certificate_secured_connector_url=self.settings.certificate_secured_connector_url,
        )

    async def _signing_token(self, session: AsyncSession, tenant_id: str, client_id: str, now: datetime) -> str:
        """A new signing token replaces the client's unspent one: a client holds one at a time, however often
        it calls (Compass keeps them all; only a hash is stored, so the old one cannot be handed out again)."""
        await TokenRedemptionRepository(session).delete_unused(client_id, TokenType.CSR.value)
        token = new_token()
        await OneTimeTokenRepository(session).add(
            OneTimeToken(
                tenant_id=tenant_id,
                system_auth_id=client_id,
                token_hash=hash_token(token),
                type=TokenType.CSR.value,
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.signing_token_ttl_seconds),
            )
        )
        return token

    @staticmethod
    async def _require_client(
        session: AsyncSession, record: OneTimeToken, kind: ClientKind | None, owner: OwnerCheck | None
    ) -> None:
        """Raised inside the redeeming transaction, a refusal rolls the redemption back."""
        if kind is None and owner is None:
            return
        auth = await SystemAuthRepository(session).get(record.tenant_id, record.system_auth_id)
        if auth is None:
            raise InvalidTokenError("the token is not valid here: its client is gone")
        if kind is not None and _kind(auth) != kind:
            raise InvalidTokenError(f"the token is not valid here: only tokens of {kind.value} clients are")
        if owner is not None:
            await owner(session, auth)

    async def _redeem(
        self, session: AsyncSession, token_hash: str, types: tuple[str, ...], now: datetime
    ) -> OneTimeToken:
        repository = TokenRedemptionRepository(session)
        record = await repository.redeem(token_hash, types, now)
        if record is not None:
            return record
        existing = await repository.find(token_hash)
        if existing is None or existing.type not in types:
            raise InvalidTokenError("the token is not valid here: request a new one-time token from the Director")
        if existing.used_at is not None:
            raise TokenAlreadyUsedError("the token was already used: tokens are single use")
        raise TokenExpiredError("the token has expired: request a new one-time token from the Director")

    # --- signing ------------------------------------------------------------------------------------------

    async def sign_with_token(
        self,
        raw_token: str,
        csr_b64: str,
        *,
        remote_addr: str | None,
        kind: ClientKind | None = None,
        owner: OwnerCheck | None = None,
    ) -> CertificationResult:
        """``kind``, ``owner``: only a signing token of that kind of client, of a client ``owner`` accepts, is
        accepted; another stays unspent."""
        now = self.clock()
        token_hash = hash_token(raw_token)
        try:
            async with self.database.transaction() as session:
                record = await self._redeem(session, token_hash, (TokenType.CSR.value,), now)
                await self._require_client(session, record, kind, owner)
                issued = await self._issue(
                    session, tenant_id=record.tenant_id, client_id=record.system_auth_id, csr_b64=csr_b64, now=now,
                    renewed_from=None, remote_addr=remote_addr,
                )
        except CompassError as error:
            await self._audit_refusal("certificate_refused", error, remote_addr=remote_addr, token_hash=token_hash)
            raise
        return self._result(issued)

    async def sign_with_certificate(
        self, identity: CertificateIdentity, csr_b64: str, *, remote_addr: str | None
    ) -> CertificationResult:
        await self._limit(identity)
        now = self.clock()
        try:
            if identity.revoked:
                raise CertificateRevokedError("the certificate is revoked and cannot be renewed")
            async with self.database.transaction() as session:
                current = await CertificateRepository(session).get(identity.serial)
                if current is None or current.revoked_at is not None:
                    raise CertificateRevokedError("the certificate is revoked and cannot be renewed")
                issued = await self._issue(
                    session, tenant_id=identity.tenant_id, client_id=identity.client_id, csr_b64=csr_b64, now=now,
                    renewed_from=identity.serial, remote_addr=remote_addr,
                )
        except CompassError as error:
            await self._audit_refusal(
                "certificate_refused", error, remote_addr=remote_addr, tenant_id=identity.tenant_id,
                client_id=identity.client_id, serial=identity.serial,
            )
            raise
        return self._result(issued)

    async def _issue(
        self,
        session: AsyncSession,
        *,
        tenant_id: str,
        client_id: str,
        csr_b64: str,
        now: datetime,
        renewed_from: str | None,
        remote_addr: str | None,
    ) -> SignedCertificate:
        subject = self.subject_for(client_id)
        csr = parse_and_validate_csr(csr_b64, subject, max_bytes=self.settings.max_csr_bytes)
        certificates = CertificateRepository(session)
        # Count and insert under the client's row lock: concurrent renewals would otherwise all see room left.
        await SystemAuthRepository(session).lock(tenant_id, client_id)
        since = now - timedelta(seconds=self.settings.certificate_issue_window_seconds)
        if await certificates.count_valid_issued_since(client_id, since, now) >= self.settings.max_certificates_per_client:
            raise CertificateLimitError(
                f"client {client_id} already holds {self.settings.max_certificates_per_client} certificates issued "
                "within the renewal window; revoke one or wait"
            )
        issued = await self.ca.sign_async(
            csr, subject, validity=timedelta(days=self.settings.certificate_validity_days), now=now
        )
        await certificates.add(
            IssuedCertificate(
                serial=issued.serial_hex,
                fingerprint_sha256=issued.fingerprint_sha256_hex,
                tenant_id=tenant_id,
                system_auth_id=client_id,
                subject=subject.to_compass_string(),
                not_before=issued.not_before,
                not_after=issued.not_after,
                issued_at=now,
                renewed_from=renewed_from,
            )
        )
        AuditRepository(session).record(
            audit_event(
                "certificate_renewed" if renewed_from else "certificate_issued",
                tenant_id=tenant_id,
                client_id=client_id,
                serial=issued.serial_hex,
                remote_addr=remote_addr,
                detail={"not_after": issued.not_after.isoformat(), "renewed_from": renewed_from},
            )
        )
        return issued

    def _result(self, issued: SignedCertificate) -> CertificationResult:
        return CertificationResult(
            certificate_chain=_b64(issued.chain_pem),
            ca_certificate=_b64(self.ca.ca_chain_pem),
            client_certificate=_b64(issued.pem),
        )

    # --- revocation ---------------------------------------------------------------------------------------

    async def revoke(self, identity: CertificateIdentity, *, remote_addr: str | None) -> bool:
        await self._limit(identity)
        now = self.clock()
        async with self.database.transaction() as session:
            revoked = await CertificateRepository(session).revoke(identity.serial, now)
            # A renewal the certificate started (or a thief with it) must not finish with the token it got.
            await TokenRedemptionRepository(session).expire_unused([identity.client_id], TokenType.CSR.value, now)
            if revoked:
                AuditRepository(session).record(
                    audit_event(
                        "certificate_revoked",
                        tenant_id=identity.tenant_id,
                        client_id=identity.client_id,
                        serial=identity.serial,
                        remote_addr=remote_addr,
                        reason="revoked by its holder",
                    )
                )
        return True

    async def maintain(self) -> Upkeep:
        """Periodic upkeep: expired certificates leave the store, spent or expired tokens and audit events past
        their retention are deleted, and the expiring-soon gauge is refreshed."""
        now = self.clock()
        async with self.database.transaction() as session:
            certificates = CertificateRepository(session)
            pruned = await certificates.prune_expired(now)
            CERTIFICATES_EXPIRING_SOON.set(await certificates.count_expiring(now, EXPIRING_SHARE))
        upkeep = Upkeep(
            certificates=pruned,
            tokens=await self._prune(TokenRedemptionRepository, self.settings.token_retention_days, now),
            audit_events=await self._prune(AuditRepository, self.settings.audit_retention_days, now),
        )
        if upkeep.tokens or upkeep.audit_events:
            log.info("upkeep_pruned", tokens=upkeep.tokens, audit_events=upkeep.audit_events)
        return upkeep

    async def _prune(
        self, repository: Callable[[AsyncSession], Prunable], retention_days: int, now: datetime
    ) -> int:
        """Rows past the retention (0 days: none), batch after batch, each in its own transaction."""
        if not retention_days:
            return 0
        before = now - timedelta(days=retention_days)
        total = 0
        while True:
            async with self.database.transaction() as session:
                deleted = await repository(session).prune(before, limit=PRUNE_BATCH)
            total += deleted
            if deleted < PRUNE_BATCH:
                return total

    async def crl(self) -> x509.CertificateRevocationList:
        now = self.clock()
        async with self.database.transaction() as session:
            certificates = CertificateRepository(session)
            await certificates.prune_expired(now)
            revoked = await certificates.revoked_unexpired(now)
        return self.ca.crl(
            [(int(record.serial, 16), record.revoked_at or now) for record in revoked],
            now=now,
            next_update=now + timedelta(hours=1),
        )

    # --- identity -----------------------------------------------------------------------------------------

    async def identify(self, serial: str, client_id: str) -> CertificateIdentity | None:
        """The caller behind a verified certificate, or None when it was never issued here or its client is gone.
        Kept in memory until a change names it (``kernel.changes``): a poll reads none of it."""
        identity = await self.identities.read(serial, lambda: self._identity_of(serial))
        return identity if identity is not None and identity.client_id == client_id else None

    async def _identity_of(self, serial: str) -> tuple[CertificateIdentity, list[str]] | None:
        async with self.database.read_sessions() as session:
            found = await CertificateRepository(session).with_system_auths([serial])
        if not found:
            return None
        identity = _identity(*found[0])
        return identity, list(identity_tags(identity))

    async def revalidate(self) -> int:
        """Every kept identity read again (the bound on staleness when a change notification was missed)."""

        async def current(serials: list[str]) -> dict[str, CertificateIdentity]:
            async with self.database.read_sessions() as session:
                found = await CertificateRepository(session).with_system_auths(serials)
            return {record.serial: _identity(record, auth) for record, auth in found}

        return await self.identities.revalidate(current)

    async def _audit_refusal(
        self,
        event: str,
        error: CompassError,
        *,
        remote_addr: str | None,
        token_hash: str | None = None,
        **fields: str | None,
    ) -> None:
        async with self.database.transaction() as session:
            # A used, expired or misplaced token still names its client: reuse of a token is worth tracing.
            token = await TokenRedemptionRepository(session).find(token_hash) if token_hash else None
            if token is not None:
                fields = {"tenant_id": token.tenant_id, "client_id": token.system_auth_id, **fields}
            AuditRepository(session).record(
                audit_event(event, reason=f"{error.code}: {error.message}", remote_addr=remote_addr, **fields)
            )


def _kind(auth: SystemAuth) -> ClientKind:
    return ClientKind.RUNTIME if auth.runtime_id else ClientKind.APPLICATION


def _identity(record: IssuedCertificate, auth: SystemAuth) -> CertificateIdentity:
    return CertificateIdentity(
        serial=record.serial,
        client_id=auth.id,
        tenant_id=record.tenant_id,
        kind=_kind(auth),
        object_id=auth.runtime_id or auth.application_id or "",
        not_after=record.not_after,
        revoked=record.revoked_at is not None,
    )
