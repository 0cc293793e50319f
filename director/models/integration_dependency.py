"""Integration dependencies (ORD): what an application needs of other systems, as aspects naming API and event
resources by ORD id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, PortableJSON, TenantOwned, utcnow


class TimestampColumns:
    """Compass's ``created_at``/``updated_at``/``deleted_at``/``error`` of every ORD entity."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class IntegrationDependency(IdMixin, TenantOwned, TimestampColumns, Base):
    __tablename__ = "integration_dependencies"

    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    ord_id: Mapped[str] = mapped_column(String(256))
    part_of_package: Mapped[str | None] = mapped_column(String(256))
    visibility: Mapped[str | None] = mapped_column(String(64))
    release_status: Mapped[str | None] = mapped_column(String(64))
    mandatory: Mapped[bool | None] = mapped_column(Boolean)
    version_value: Mapped[str | None] = mapped_column(String(64))
    version_deprecated: Mapped[bool | None] = mapped_column(Boolean)
    version_deprecated_since: Mapped[str | None] = mapped_column(String(64))
    version_for_removal: Mapped[bool | None] = mapped_column(Boolean)
    labels: Mapped[dict[str, Any] | None]


class Aspect(IdMixin, TenantOwned, TimestampColumns, Base):
    __tablename__ = "aspects"

    integration_dependency_id: Mapped[str] = mapped_column(
        ForeignKey("integration_dependencies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    mandatory: Mapped[bool | None] = mapped_column(Boolean)
    # ORD ids of the API resources the aspect needs (Compass keeps them as a JSON list too).
    api_resources: Mapped[list[str] | None] = mapped_column(PortableJSON)


class AspectEventResource(IdMixin, TenantOwned, TimestampColumns, Base):
    __tablename__ = "aspect_event_resources"

    aspect_id: Mapped[str] = mapped_column(ForeignKey("aspects.id", ondelete="CASCADE"), index=True)
    ord_id: Mapped[str] = mapped_column(String(256))
    # The event types of the resource the aspect needs; null: all of them.
    subset: Mapped[list[str] | None] = mapped_column(PortableJSON)
