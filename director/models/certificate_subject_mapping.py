from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, utcnow


class CertificateSubjectMapping(IdMixin, Base):
    """Compass's mapping of an external certificate's subject to a consumer; global, like Compass's (no tenant)."""

    __tablename__ = "certificate_subject_mappings"

    subject: Mapped[str] = mapped_column(String(255))
    consumer_type: Mapped[str] = mapped_column(String(255))
    internal_consumer_id: Mapped[str | None] = mapped_column(String(255))
    tenant_access_levels: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]
