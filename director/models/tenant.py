from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, utcnow


class Tenant(IdMixin, Base):
    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(256), unique=True)
    type: Mapped[str] = mapped_column(String(32), default="account")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped by every Director write in the tenant: runtimes' cached views are keyed by it.
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
