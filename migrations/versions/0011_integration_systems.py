"""integration systems and OAuth client credentials

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('integration_systems',
    sa.Column('name', sa.String(length=36), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_systems'))
    )
    with op.batch_alter_table('integration_systems', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_integration_systems_name'), ['name'], unique=False)

    # An integration system's system auths are global: tenant_id becomes nullable.
    with op.batch_alter_table('system_auths', schema=None) as batch_op:
        batch_op.alter_column('tenant_id', existing_type=sa.String(length=36), nullable=True)
        batch_op.add_column(sa.Column('integration_system_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('client_secret_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.create_index(batch_op.f('ix_system_auths_integration_system_id'), ['integration_system_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_system_auths_integration_system_id_integration_systems'), 'integration_systems', ['integration_system_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    # Global system auths cannot become a tenant's again: they go with their integration systems.
    op.execute("DELETE FROM system_auths WHERE tenant_id IS NULL")
    with op.batch_alter_table('system_auths', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_system_auths_integration_system_id_integration_systems'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_system_auths_integration_system_id'))
        batch_op.drop_column('value')
        batch_op.drop_column('client_secret_hash')
        batch_op.drop_column('integration_system_id')
        batch_op.alter_column('tenant_id', existing_type=sa.String(length=36), nullable=False)

    with op.batch_alter_table('integration_systems', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_integration_systems_name'))

    op.drop_table('integration_systems')
