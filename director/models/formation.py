from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, TenantOwned, utcnow


class Formation(IdMixin, TenantOwned, Base):
    __tablename__ = "formations"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(256))
    template_name: Mapped[str | None] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(32), default="READY")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped with the runtimes sharing it when an application in it changes: views shared between runtimes
    # (director/polling/shared_views.py) are keyed by it.
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
