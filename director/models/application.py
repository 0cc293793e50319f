from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from director.models.base import Base, IdMixin, utcnow
from director.models.tenant_owned import TenantOwned


class Application(IdMixin, TenantOwned, Base):
    __tablename__ = "applications"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(256))
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
