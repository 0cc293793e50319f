from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, PortableJSON, TenantOwned

# The label whose value lists an object's formations (Compass keeps formations as this label).
SCENARIOS = "scenarios"

def _label_unique(owner: str) -> tuple[Index, Index]:
    """A key once per object, except ``scenarios``: once per tenant and object, since a tenant granted the object
    (``director.tenantaccess``) keeps its own formations on it. Partial unique indexes, on SQLite and PostgreSQL."""
    is_scenarios = text(f"key = '{SCENARIOS}'")
    not_scenarios = text(f"key != '{SCENARIOS}'")
    return (
        Index(
            f"uq_labels_{owner}_key", owner, "key", unique=True,
            sqlite_where=not_scenarios, postgresql_where=not_scenarios,
        ),
        Index(
            f"uq_labels_tenant_id_{owner}_scenarios", "tenant_id", owner, unique=True,
            sqlite_where=is_scenarios, postgresql_where=is_scenarios,
        ),
    )


class Label(IdMixin, TenantOwned, Base):
    """A label on exactly one application, runtime or runtime context; ``scenarios`` is the stored truth of formations."""

    __tablename__ = "labels"
    __table_args__ = (
        *_label_unique("application_id"),
        *_label_unique("runtime_id"),
        *_label_unique("runtime_context_id"),
    )

    key: Mapped[str] = mapped_column(String(256), index=True)
    value: Mapped[Any] = mapped_column(PortableJSON)
    application_id: Mapped[str | None] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    runtime_id: Mapped[str | None] = mapped_column(ForeignKey("runtimes.id", ondelete="CASCADE"), index=True)
    runtime_context_id: Mapped[str | None] = mapped_column(
        ForeignKey("runtime_contexts.id", ondelete="CASCADE"), index=True
    )


class LabelDefinition(IdMixin, TenantOwned, Base):
    __tablename__ = "label_definitions"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(String(256))
    schema: Mapped[dict[str, Any] | None] = mapped_column(JSON)
