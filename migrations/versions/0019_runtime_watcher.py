"""runtime watcher: watchers, watch events

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

Watchers (a tenant's, or global with no tenant) name what a runtime's admission webhook reports; watch events
are what runtimes delivered, each kept with its runtime (a bounded number per runtime).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('watchers',
    sa.Column('tenant_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('module', sa.String(length=63), nullable=False),
    sa.Column('group', sa.String(length=253), nullable=False),
    sa.Column('version', sa.String(length=63), nullable=False),
    sa.Column('resource', sa.String(length=253), nullable=False),
    sa.Column('labels', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('field', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_watchers_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_watchers')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_watchers_tenant_id_name'))
    )
    with op.batch_alter_table('watchers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_watchers_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('uq_watchers_global_name', ['name'], unique=True, sqlite_where=sa.text('tenant_id IS NULL'), postgresql_where=sa.text('tenant_id IS NULL'))

    op.create_table('watch_events',
    sa.Column('runtime_id', sa.String(length=36), nullable=False),
    sa.Column('module', sa.String(length=63), nullable=False),
    sa.Column('namespace', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=253), nullable=False),
    sa.Column('group', sa.String(length=253), nullable=False),
    sa.Column('version', sa.String(length=63), nullable=False),
    sa.Column('kind', sa.String(length=63), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['runtime_id'], ['runtimes.id'], name=op.f('fk_watch_events_runtime_id_runtimes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_watch_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_watch_events'))
    )
    with op.batch_alter_table('watch_events', schema=None) as batch_op:
        batch_op.create_index('ix_watch_events_runtime_id_received_at', ['runtime_id', 'received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_watch_events_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('watch_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watch_events_tenant_id'))
        batch_op.drop_index('ix_watch_events_runtime_id_received_at')

    op.drop_table('watch_events')
    with op.batch_alter_table('watchers', schema=None) as batch_op:
        batch_op.drop_index('uq_watchers_global_name')
        batch_op.drop_index(batch_op.f('ix_watchers_tenant_id'))

    op.drop_table('watchers')
