from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, PortableJSON, TenantOwned

# The label whose value lists an object's formations (Compass keeps formations as this label).
SCENARIOS = "scenarios"

class Label(IdMixin, TenantOwned, Base):
    """A label on exactly one application, runtime or runtime context; ``scenarios`` is the stored truth of formations."""

    __tablename__ = "labels"
    # Per tenant: a tenant granted an object (director.tenantaccess) keeps its own ``scenarios`` on it.
    __table_args__ = (
        UniqueConstraint("tenant_id", "application_id", "key"),
        UniqueConstraint("tenant_id", "runtime_id", "key"),
        UniqueConstraint("tenant_id", "runtime_context_id", "key"),
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
