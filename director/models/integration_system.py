"""Integration systems: global, as in Compass; what they own (applications) and their client credentials
(system auths without a tenant) point at them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, utcnow


class IntegrationSystem(IdMixin, Base):
    """A central system that integrates applications of any tenant (Compass's integration system)."""

    __tablename__ = "integration_systems"

    name: Mapped[str] = mapped_column(String(36), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
