"""bundle instance auths

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('bundle_instance_auths',
    sa.Column('bundle_id', sa.String(length=36), nullable=False),
    sa.Column('runtime_id', sa.String(length=36), nullable=True),
    sa.Column('context', sa.Text(), nullable=True),
    sa.Column('input_params', sa.Text(), nullable=True),
    sa.Column('auth', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('status_condition', sa.String(length=32), nullable=False),
    sa.Column('status_reason', sa.String(length=64), nullable=False),
    sa.Column('status_message', sa.Text(), nullable=False),
    sa.Column('status_timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_bundle_instance_auths_bundle_id_bundles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['runtime_id'], ['runtimes.id'], name=op.f('fk_bundle_instance_auths_runtime_id_runtimes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_bundle_instance_auths_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bundle_instance_auths'))
    )
    with op.batch_alter_table('bundle_instance_auths', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bundle_instance_auths_bundle_id'), ['bundle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bundle_instance_auths_runtime_id'), ['runtime_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bundle_instance_auths_tenant_id'), ['tenant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('bundle_instance_auths', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bundle_instance_auths_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_bundle_instance_auths_runtime_id'))
        batch_op.drop_index(batch_op.f('ix_bundle_instance_auths_bundle_id'))

    op.drop_table('bundle_instance_auths')
