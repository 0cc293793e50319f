"""tenants, tenant access, certificate subject mappings, operations

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

Tenants get Compass's external id (an existing tenant's is its internal id, which is what its operators have
been sending), a provider, parents and labels of their own; certificate subject mappings are new.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_tenants = sa.table('tenants', sa.column('id', sa.String), sa.column('external_id', sa.String))


def upgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('provider', sa.String(length=256), server_default='pycompass', nullable=False))
    op.execute(_tenants.update().values(external_id=_tenants.c.id))
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.alter_column('external_id', existing_type=sa.String(length=256), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_tenants_external_id'), ['external_id'])

    op.create_table('tenant_parents',
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('parent_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['tenants.id'], name=op.f('fk_tenant_parents_parent_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tenant_parents_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'parent_id', name=op.f('pk_tenant_parents'))
    )
    with op.batch_alter_table('tenant_parents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenant_parents_parent_id'), ['parent_id'], unique=False)

    op.create_table('tenant_labels',
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=256), nullable=False),
    sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tenant_labels_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenant_labels')),
    sa.UniqueConstraint('tenant_id', 'key', name=op.f('uq_tenant_labels_tenant_id_key'))
    )

    op.create_table('certificate_subject_mappings',
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('consumer_type', sa.String(length=255), nullable=False),
    sa.Column('internal_consumer_id', sa.String(length=255), nullable=True),
    sa.Column('tenant_access_levels', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_subject_mappings'))
    )


def downgrade() -> None:
    op.drop_table('certificate_subject_mappings')
    op.drop_table('tenant_labels')
    with op.batch_alter_table('tenant_parents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenant_parents_parent_id'))
    op.drop_table('tenant_parents')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_tenants_external_id'), type_='unique')
        batch_op.drop_column('provider')
        batch_op.drop_column('external_id')
