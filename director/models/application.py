from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from director.normalization import NORMALIZED_NAME_MAX_LENGTH, normalize_name
from kernel.models import Base, IdMixin, PortableJSON, TenantOwned, utcnow


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
    application_namespace: Mapped[str | None] = mapped_column(String(256))
    local_tenant_id: Mapped[str | None] = mapped_column(String(256), index=True)
    # Whether an on-premise system is reachable: written by Compass's system fetcher, kept as given here.
    system_status: Mapped[str | None] = mapped_column(String(256))
    deleted_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    # The template it was registered from. Not a foreign key: templates are global, and deleting one must not
    # write into every tenant (Compass sets it to null); ``applicationTemplate`` then answers null.
    application_template_id: Mapped[str | None] = mapped_column(String(36), index=True)


class Bundle(IdMixin, TenantOwned, Base):
    __tablename__ = "bundles"

    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    instance_auth_request_input_schema: Mapped[str | None] = mapped_column(Text)
    default_instance_auth: Mapped[dict[str, Any] | None]
    correlation_ids: Mapped[list[str] | None] = mapped_column(PortableJSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


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
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class APIDefinition(IdMixin, TenantOwned, DefinitionColumns, Base):
    """Of an application always (as Compass's ``app_id``), and of one of its bundles unless added to the
    application directly (``addAPIDefinitionToApplication``)."""

    __tablename__ = "api_definitions"

    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    bundle_id: Mapped[str | None] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"), index=True)
    target_url: Mapped[str] = mapped_column(String(2048))


class EventDefinition(IdMixin, TenantOwned, DefinitionColumns, Base):
    """Of an application always, and of one of its bundles unless added to the application directly."""

    __tablename__ = "event_definitions"

    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    bundle_id: Mapped[str | None] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"), index=True)


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
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class Webhook(IdMixin, TenantOwned, Base):
    __tablename__ = "webhooks"

    # TenantOwned's column made nullable: null for the webhooks of global owners (an application template's),
    # which tenant-scoped reads never see.
    tenant_id: Mapped[str | None] = mapped_column(  # type: ignore[assignment]
        String(36), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )

    application_id: Mapped[str | None] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    runtime_id: Mapped[str | None] = mapped_column(ForeignKey("runtimes.id", ondelete="CASCADE"), index=True)
    # Owners whose tables come later (application templates, formation templates, integration systems): plain
    # ids here; each owner's own migration may add its foreign key.
    application_template_id: Mapped[str | None] = mapped_column(String(36), index=True)
    formation_template_id: Mapped[str | None] = mapped_column(String(36), index=True)
    integration_system_id: Mapped[str | None] = mapped_column(String(36), index=True)
    type: Mapped[str] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(2048))
    mode: Mapped[str | None] = mapped_column(String(32))
    auth: Mapped[dict[str, Any] | None]
    correlation_id_key: Mapped[str | None] = mapped_column(String(256))
    retry_interval: Mapped[int | None]
    timeout: Mapped[int | None]
    url_template: Mapped[str | None] = mapped_column(Text)
    input_template: Mapped[str | None] = mapped_column(Text)
    header_template: Mapped[str | None] = mapped_column(Text)
    output_template: Mapped[str | None] = mapped_column(Text)
    status_template: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
