"""Tables the Director and the Connector share: system auths (client ids), their one-time tokens, issued
certificates (revocation lives on them) and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, PortableJSON, TenantOwned, utcnow


class SystemAuth(IdMixin, TenantOwned, Base):
    """An identity of an application, runtime or integration system; its id is the client id (CN) its certificate
    carries, or the OAuth client id of its client credentials."""

    __tablename__ = "system_auths"

    # Null only for an integration system's: those are global, as the integration systems are.
    tenant_id: Mapped[str | None] = mapped_column(  # type: ignore[assignment]
        String(36), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    application_id: Mapped[str | None] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    runtime_id: Mapped[str | None] = mapped_column(ForeignKey("runtimes.id", ondelete="CASCADE"), index=True)
    integration_system_id: Mapped[str | None] = mapped_column(
        ForeignKey("integration_systems.id", ondelete="CASCADE"), index=True
    )
    # The OAuth client secret's SHA-256 (a random 256-bit secret needs no slow hash); null: no client credentials.
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    # The Auth shown as the system auth's ``auth`` (Compass's value): the client credentials' id and token URL, or
    # what updateSystemAuth wrote.
    value: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The latest one-time token issued on it, as Compass keeps it in the system auth (and pruning keeps it here):
    # when, and the scenario groups of its request (the ``scenario_groups`` header), which ContainsScenarioGroups reads.
    token_created_at: Mapped[datetime | None]
    token_scenario_groups: Mapped[list[str] | None] = mapped_column(PortableJSON)


class OneTimeToken(IdMixin, TenantOwned, Base):
    """A single-use token; only its SHA-256 is stored."""

    __tablename__ = "one_time_tokens"

    system_auth_id: Mapped[str] = mapped_column(ForeignKey("system_auths.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


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
