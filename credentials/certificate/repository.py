from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from credentials.models import IssuedCertificate, SystemAuth
from kernel.changes import certificate_revoked, note


class CertificateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, record: IssuedCertificate) -> IssuedCertificate:
        self.session.add(record)
        await self.session.flush()
        return record

    async def get(self, serial: str) -> IssuedCertificate | None:
        return await self.session.get(IssuedCertificate, serial)

    async def with_system_auths(self, serials: Sequence[str]) -> list[tuple[IssuedCertificate, SystemAuth]]:
        """The certificates among ``serials`` whose system auth (of the same tenant) still exists, with it."""
        statement = (
            select(IssuedCertificate, SystemAuth)
            .join(
                SystemAuth,
                (SystemAuth.id == IssuedCertificate.system_auth_id) & (SystemAuth.tenant_id == IssuedCertificate.tenant_id),
            )
            .where(IssuedCertificate.serial.in_(serials))
        )
        return [(record, auth) for record, auth in (await self.session.execute(statement)).all()]

    async def count_valid_issued_since(self, system_auth_id: str, since: datetime, now: datetime) -> int:
        statement = select(func.count()).where(
            IssuedCertificate.system_auth_id == system_auth_id,
            IssuedCertificate.issued_at >= since,
            IssuedCertificate.not_after > now,
            IssuedCertificate.revoked_at.is_(None),
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def revoke(self, serial: str, now: datetime) -> bool:
        result = await self.session.execute(
            update(IssuedCertificate)
            .where(IssuedCertificate.serial == serial, IssuedCertificate.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        note(self.session, certificate_revoked(serial))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_for_owner(self, tenant_id: str, owner_column: str, owner_id: str, now: datetime) -> list[str]:
        """Revokes every unrevoked certificate of a runtime's or application's system auths; returns serials."""
        auths = select(SystemAuth.id).where(SystemAuth.tenant_id == tenant_id, getattr(SystemAuth, owner_column) == owner_id)
        serials = list(
            (
                await self.session.execute(
                    select(IssuedCertificate.serial).where(
                        IssuedCertificate.system_auth_id.in_(auths), IssuedCertificate.revoked_at.is_(None)
                    )
                )
            ).scalars()
        )
        if serials:
            await self.session.execute(
                update(IssuedCertificate).where(IssuedCertificate.serial.in_(serials)).values(revoked_at=now)
            )
            note(self.session, *map(certificate_revoked, serials))
        return serials

    async def revoked_unexpired(self, now: datetime) -> list[IssuedCertificate]:
        statement = select(IssuedCertificate).where(
            IssuedCertificate.revoked_at.is_not(None), IssuedCertificate.not_after > now
        )
        return list((await self.session.execute(statement)).scalars())

    async def prune_expired(self, now: datetime) -> int:
        """The revocation store stays bounded: an expired certificate fails the TLS handshake on its own."""
        result = await self.session.execute(delete(IssuedCertificate).where(IssuedCertificate.not_after <= now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def count_expiring(self, now: datetime, share_left: float) -> int:
        """Unrevoked, unexpired certificates with less than ``share_left`` of their validity left."""
        rows = await self.session.execute(
            select(IssuedCertificate.not_before, IssuedCertificate.not_after).where(
                IssuedCertificate.revoked_at.is_(None), IssuedCertificate.not_after > now
            )
        )
        return sum(1 for not_before, not_after in rows if not_after - now < (not_after - not_before) * share_left)
