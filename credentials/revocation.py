"""Revoking every certificate of a runtime or an application, in the caller's transaction: what unregistering one,
or an operator's `compass revoke`, does (a holder revoking its own certificate goes through the Connector)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from credentials.audit.repository import AuditRepository, audit_event
from credentials.certificate.repository import CertificateRepository
from credentials.systemauth.repository import SystemAuthRepository
from credentials.token.repository import TokenRedemptionRepository
from credentials.tokens import TokenType
from kernel.principal import ClientKind


async def revoke_for_object(
    session: AsyncSession, tenant_id: str, kind: ClientKind, object_id: str, *, now: datetime
) -> list[str]:
    """Revokes the object's certificates and spends its unused signing tokens; returns the revoked serials."""
    column = "runtime_id" if kind is ClientKind.RUNTIME else "application_id"
    serials = await CertificateRepository(session).revoke_for_owner(tenant_id, column, object_id, now)
    auths = (await SystemAuthRepository(session).grouped_by(tenant_id, column, [object_id])).get(object_id, [])
    await TokenRedemptionRepository(session).expire_unused([auth.id for auth in auths], TokenType.CSR.value, now)
    audit = AuditRepository(session)
    for serial in serials:
        audit.record(
            audit_event(
                "certificate_revoked",
                tenant_id=tenant_id,
                serial=serial,
                reason=f"operator revoked {kind.lower()} {object_id}",
            )
        )
    return serials
