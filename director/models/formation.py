from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, PortableJSON, TenantOwned, utcnow

# The global template a formation gets when none is named (Compass's `model.DefaultTemplateName`); its id is fixed
# by migration 0013, which seeds it.
DEFAULT_TEMPLATE_ID = "5b0b9f4f-6a6b-4d54-9a5e-6f1c5d3c0a11"
DEFAULT_TEMPLATE_NAME = "Side-by-Side Extensibility with Kyma"


class Formation(IdMixin, TenantOwned, Base):
    __tablename__ = "formations"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(256))
    template_name: Mapped[str | None] = mapped_column(String(256))
    formation_template_id: Mapped[str] = mapped_column(
        ForeignKey("formation_templates.id"), index=True, default=DEFAULT_TEMPLATE_ID
    )
    state: Mapped[str] = mapped_column(String(32), default="READY")
    # Compass's FormationError {message errorCode}, set only by failed lifecycle notifications.
    error: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    last_state_change_timestamp: Mapped[datetime | None]
    last_notification_sent_timestamp: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped with the runtimes sharing it when an application in it changes: views shared between runtimes
    # (director/polling/shared_views.py) are keyed by it.
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The outbox of its template's FORMATION_LIFECYCLE webhook ("createFormation" or "deleteFormation" owed), as
    # FormationAssignment's.
    notification: Mapped[str | None] = mapped_column(String(16), index=True)
    claim: Mapped[str | None] = mapped_column(String(36))
    claimed_until: Mapped[datetime | None]


class FormationTemplate(IdMixin, Base):
    """A formation type; global (no tenant) or owned by the tenant that created it, as Compass scopes them."""

    __tablename__ = "formation_templates"

    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    application_types: Mapped[list[str]] = mapped_column(PortableJSON)
    runtime_types: Mapped[list[str] | None] = mapped_column(PortableJSON)
    runtime_type_display_name: Mapped[str | None] = mapped_column(String(256))
    runtime_artifact_kind: Mapped[str | None] = mapped_column(String(32))
    leading_product_ids: Mapped[list[str] | None] = mapped_column(PortableJSON)
    supports_reset: Mapped[bool] = mapped_column(Boolean, default=False)
    discovery_consumers: Mapped[list[str] | None] = mapped_column(PortableJSON)
    # The template's labels as one object: Compass labels templates; nothing filters them across objects.
    labels: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]


class FormationConstraint(IdMixin, Base):
    """Global, as in Compass: a constraint applies to every formation of the templates it is attached to (scope
    FORMATION_TYPE) or to all (GLOBAL)."""

    __tablename__ = "formation_constraints"

    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    constraint_type: Mapped[str] = mapped_column(String(16))
    target_operation: Mapped[str] = mapped_column(String(64))
    operator: Mapped[str] = mapped_column(String(256))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_subtype: Mapped[str] = mapped_column(String(256))
    input_template: Mapped[str] = mapped_column(Text)
    constraint_scope: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConstraintReference(Base):
    """A constraint attached to a formation template."""

    __tablename__ = "constraint_references"

    constraint_id: Mapped[str] = mapped_column(ForeignKey("formation_constraints.id", ondelete="CASCADE"), primary_key=True)
    template_id: Mapped[str] = mapped_column(
        ForeignKey("formation_templates.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class FormationAssignment(IdMixin, TenantOwned, Base):
    """One direction between two participants of a formation (and each participant's own, source = target)."""

    __tablename__ = "formation_assignments"
    # An object's assignments are found by either end (generating, unassigning): the unique index serves the
    # source, this one the target, which otherwise meant reading every assignment of the formation.
    __table_args__ = (
        UniqueConstraint("formation_id", "source", "target"),
        Index("ix_formation_assignments_formation_id_target", "formation_id", "target"),
    )

    formation_id: Mapped[str] = mapped_column(ForeignKey("formations.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(36))
    source_type: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(36))
    target_type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    value: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    last_state_change_timestamp: Mapped[datetime | None]
    last_notification_sent_timestamp: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The outbox (director/formationassignment/notifier.py): what the target's webhook is still to be told
    # ("assign" or "unassign", Compass's operation names), and which notifier holds it until when.
    notification: Mapped[str | None] = mapped_column(String(16), index=True)
    claim: Mapped[str | None] = mapped_column(String(36))
    claimed_until: Mapped[datetime | None]
    # Configuration exchanges so far: a configuration answered notifies the reverse assignment, up to Compass's
    # NotificationRecursionDepthLimit.
    exchanges: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AssignmentOperation(IdMixin, TenantOwned, Base):
    """What happened to an assignment: assigned (or reset, resynchronized), started and finished."""

    __tablename__ = "assignment_operations"

    assignment_id: Mapped[str] = mapped_column(ForeignKey("formation_assignments.id", ondelete="CASCADE"), index=True)
    formation_id: Mapped[str] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(16))
    triggered_by: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
