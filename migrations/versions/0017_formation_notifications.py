"""formation notifications

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The assignment row is the outbox: ``notification`` names what its participant is still to be told
    # (assign/unassign), ``claim`` and ``claimed_until`` the notifier that is telling it and until when.
    with op.batch_alter_table('formation_assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notification', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('claim', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('exchanges', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_index(batch_op.f('ix_formation_assignments_notification'), ['notification'], unique=False)
    # A formation's own lifecycle notification (createFormation/deleteFormation), the same way.
    with op.batch_alter_table('formations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notification', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('claim', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_formations_notification'), ['notification'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('formations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_formations_notification'))
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claim')
        batch_op.drop_column('notification')
    with op.batch_alter_table('formation_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_formation_assignments_notification'))
        batch_op.drop_column('exchanges')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claim')
        batch_op.drop_column('notification')
