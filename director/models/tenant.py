from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, PortableJSON, utcnow

# The provider of tenants made with `compass tenant create`: Compass's tenant fetchers name their own.
CLI_PROVIDER = "pycompass"


class Tenant(IdMixin, Base):
    """Compass's business tenant mapping: ``id`` is the internal id every row is scoped by, ``external_id`` the
    id the tenant has in the system it comes from (for a tenant made with the CLI, its internal id)."""

    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(256), unique=True)
    external_id: Mapped[str] = mapped_column(String(256), unique=True)
    type: Mapped[str] = mapped_column(String(32), default="account")
    provider: Mapped[str] = mapped_column(String(256), default=CLI_PROVIDER, server_default=CLI_PROVIDER)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped by every Director write in the tenant: runtimes' cached views are keyed by it.
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class TenantParent(Base):
    """A tenant's parent (e.g. a subaccount's account): Compass's ``tenant_parents``."""

    __tablename__ = "tenant_parents"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    parent_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True, index=True)


class TenantLabel(IdMixin, Base):
    """A label on the tenant itself (subdomain, region... as Compass's tenant fetcher writes them)."""

    __tablename__ = "tenant_labels"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(256))
    value: Mapped[Any] = mapped_column(PortableJSON)
