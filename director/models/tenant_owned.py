from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class TenantOwned:
    """Every tenant-scoped row carries its tenant, so that every query can (and must) filter by it."""

    @declared_attr
    def tenant_id(cls) -> Mapped[str]:  # noqa: N805
        return mapped_column(String(36), ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
