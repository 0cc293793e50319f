"""formation assignments: an index on (formation_id, target)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

An object's assignments are found by source or target; the unique (formation_id, source, target) index served only
the source, so each join of a formation scanned every assignment of the formation for the target (quadratic in
its participants).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("formation_assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_formation_assignments_formation_id_target", ["formation_id", "target"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("formation_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_formation_assignments_formation_id_target")
