from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, TenantOwned, utcnow


class FetchRequest(IdMixin, TenantOwned, Base):
    """Where the spec of one API or event definition, or one document, is fetched from, and how the last fetch
    went. Exactly one of the three owners is set; each owner has at most one, and takes it along when deleted."""

    __tablename__ = "fetch_requests"

    api_definition_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_definitions.id", ondelete="CASCADE"), unique=True
    )
    event_definition_id: Mapped[str | None] = mapped_column(
        ForeignKey("event_definitions.id", ondelete="CASCADE"), unique=True
    )
    document_id: Mapped[str | None] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), unique=True
    )
    url: Mapped[str] = mapped_column(String(256))
    auth: Mapped[dict[str, Any] | None]
    mode: Mapped[str] = mapped_column(String(16))
    filter: Mapped[str | None] = mapped_column(String(256))
    status_condition: Mapped[str] = mapped_column(String(16))
    status_message: Mapped[str | None] = mapped_column(Text)
    status_timestamp: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
