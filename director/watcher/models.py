"""The watchers (what a runtime's admission webhook reports) and the watch events runtimes sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, TenantOwned, utcnow

# Kubernetes' limits: a DNS label, a DNS subdomain (names, groups, plural resources), a version or kind.
LABEL_LENGTH = 63
SUBDOMAIN_LENGTH = 253


class Watcher(IdMixin, Base):
    """Kyma's ``Watcher``: which resources of a runtime to report, for which module. A tenant's, or global
    (``tenant_id`` NULL: added by the platform operator with ``compass watchers create --global``)."""

    __tablename__ = "watchers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        # The constraint above holds no NULL tenant to another: the global watchers' names need their own index.
        Index(
            "uq_watchers_global_name",
            "name",
            unique=True,
            sqlite_where=text("tenant_id IS NULL"),
            postgresql_where=text("tenant_id IS NULL"),
        ),
    )

    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(LABEL_LENGTH))
    module: Mapped[str] = mapped_column(String(LABEL_LENGTH))
    group: Mapped[str] = mapped_column(String(SUBDOMAIN_LENGTH))
    version: Mapped[str] = mapped_column(String(LABEL_LENGTH))
    resource: Mapped[str] = mapped_column(String(SUBDOMAIN_LENGTH))
    labels: Mapped[dict[str, Any] | None]
    field: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WatchEvent(IdMixin, TenantOwned, Base):
    """One event a runtime's watcher delivered: the runtime is its certificate's, never the body's."""

    __tablename__ = "watch_events"
    __table_args__ = (Index("ix_watch_events_runtime_id_received_at", "runtime_id", "received_at"),)

    runtime_id: Mapped[str] = mapped_column(ForeignKey("runtimes.id", ondelete="CASCADE"))
    module: Mapped[str] = mapped_column(String(LABEL_LENGTH))
    namespace: Mapped[str] = mapped_column(String(LABEL_LENGTH))
    name: Mapped[str] = mapped_column(String(SUBDOMAIN_LENGTH))
    group: Mapped[str] = mapped_column(String(SUBDOMAIN_LENGTH))
    version: Mapped[str] = mapped_column(String(LABEL_LENGTH))
    kind: Mapped[str] = mapped_column(String(LABEL_LENGTH))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
