from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, TenantOwned, utcnow


class BundleInstanceAuth(IdMixin, TenantOwned, Base):
    """Credentials of one consumer (e.g. a runtime) for a bundle: the default ones, or set by the application."""

    __tablename__ = "bundle_instance_auths"

    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"), index=True)
    runtime_id: Mapped[str | None] = mapped_column(ForeignKey("runtimes.id", ondelete="SET NULL"), index=True)
    context: Mapped[str | None] = mapped_column(Text)
    input_params: Mapped[str | None] = mapped_column(Text)
    auth: Mapped[dict[str, Any] | None]
    status_condition: Mapped[str] = mapped_column(String(32))
    status_reason: Mapped[str] = mapped_column(String(64))
    status_message: Mapped[str] = mapped_column(Text)
    status_timestamp: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
