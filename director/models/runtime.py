from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, TenantOwned, utcnow


class Runtime(IdMixin, TenantOwned, Base):
    __tablename__ = "runtimes"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    status_condition: Mapped[str] = mapped_column(String(32), default="INITIAL")
    status_timestamp: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]
    application_namespace: Mapped[str | None] = mapped_column(String(256))
    # Bumped by writes to this runtime alone (its labels, formations, status): only its own view changes.
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
