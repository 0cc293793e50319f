from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from director.normalization import NORMALIZED_NAME_MAX_LENGTH, normalize_name
from kernel.models import Base, IdMixin, TenantOwned, utcnow


def _normalized_name(context: DefaultExecutionContext) -> str:
    return normalize_name(context.get_current_parameters()["name"])


class Application(IdMixin, TenantOwned, Base):
    __tablename__ = "applications"
    # Runtimes know applications by normalized name (``mp-shop`` for "shop", "SHOP" and "Shop!"): two of one
    # tenant with one normalized name would be one resource in a runtime, so the second is refused, as in
    # Compass. A unique index, not a constraint: SQLite adds an index to a filled table without rebuilding it.
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("uq_applications_tenant_id_normalized_name", "tenant_id", "normalized_name", unique=True),
    )

    name: Mapped[str] = mapped_column(String(256))
    # Derived from the name on every insert that does not give it. The server default is there only because
    # SQLite adds a NOT NULL column to a filled table only with one (migration 0007 then fills the column in).
    normalized_name: Mapped[str] = mapped_column(
        String(NORMALIZED_NAME_MAX_LENGTH), default=_normalized_name, server_default=""
    )
    system_number: Mapped[str | None] = mapped_column(String(64))
    base_url: Mapped[str | None] = mapped_column(String(2048))
    provider_name: Mapped[str | None] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    integration_system_id: Mapped[str | None] = mapped_column(String(36))
    healthcheck_url: Mapped[str | None] = mapped_column(String(2048))
    status_condition: Mapped[str] = mapped_column(String(32), default="INITIAL")
    status_timestamp: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Bundle(IdMixin, TenantOwned, Base):
    __tablename__ = "bundles"

    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    instance_auth_request_input_schema: Mapped[str | None] = mapped_column(Text)
    default_instance_auth: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DefinitionColumns:
    """Columns API and event definitions share."""

    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    group: Mapped[str | None] = mapped_column("group_name", String(256))
    spec_data: Mapped[str | None] = mapped_column(Text)
    spec_type: Mapped[str | None] = mapped_column(String(32))
    spec_format: Mapped[str | None] = mapped_column(String(16))
    version_value: Mapped[str | None] = mapped_column(String(64))
    version_deprecated: Mapped[bool | None] = mapped_column(Boolean)
    version_deprecated_since: Mapped[str | None] = mapped_column(String(64))
    version_for_removal: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class APIDefinition(IdMixin, TenantOwned, DefinitionColumns, Base):
    __tablename__ = "api_definitions"

    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"), index=True)
    target_url: Mapped[str] = mapped_column(String(2048))


class EventDefinition(IdMixin, TenantOwned, DefinitionColumns, Base):
    __tablename__ = "event_definitions"

    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"), index=True)


class Document(IdMixin, TenantOwned, Base):
    __tablename__ = "documents"

    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str | None] = mapped_column(String(256))
    data: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Webhook(IdMixin, TenantOwned, Base):
    __tablename__ = "webhooks"

    application_id: Mapped[str | None] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    runtime_id: Mapped[str | None] = mapped_column(ForeignKey("runtimes.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(2048))
    mode: Mapped[str | None] = mapped_column(String(32))
    auth: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
