from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from director.models.base import Base, IdMixin, utcnow
from director.models.tenant_owned import TenantOwned


class SystemAuth(IdMixin, TenantOwned, Base):
    """An identity of an application or runtime; its id is the client id (CN) its certificate carries."""

    __tablename__ = "system_auths"

    application_id: Mapped[str | None] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    runtime_id: Mapped[str | None] = mapped_column(ForeignKey("runtimes.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OneTimeToken(IdMixin, TenantOwned, Base):
    """A single-use token; only its SHA-256 is stored."""

    __tablename__ = "one_time_tokens"

    system_auth_id: Mapped[str] = mapped_column(ForeignKey("system_auths.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
