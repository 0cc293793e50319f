"""Tables of the Connector: issued certificates (revocation lives on them) and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from director.models.base import Base, IdMixin, utcnow


class IssuedCertificate(Base):
    """A client certificate this CA signed; only recorded, unrevoked, unexpired ones authenticate."""

    __tablename__ = "certificates"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    fingerprint_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[str] = mapped_column(String(36), ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    # Kept (detached) when the runtime or application goes, so that its revoked certificates stay in the CRL.
    system_auth_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("system_auths.id", ondelete="SET NULL"), index=True
    )
    subject: Mapped[str] = mapped_column(Text)
    not_before: Mapped[datetime]
    not_after: Mapped[datetime] = mapped_column(index=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    renewed_from: Mapped[str | None] = mapped_column(String(40))
    revoked_at: Mapped[datetime | None]


class AuditEvent(IdMixin, Base):
    """One lifecycle event: token issued/redeemed/refused, certificate issued/renewed/revoked/refused."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"),)

    at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str | None] = mapped_column(String(36))
    client_id: Mapped[str | None] = mapped_column(String(36))
    serial: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None]
