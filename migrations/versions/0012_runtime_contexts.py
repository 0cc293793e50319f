"""runtime contexts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

Runtime contexts (Compass's), and their labels: a label now belongs to an application, a runtime or a runtime
context (its ``scenarios`` label names the formations the context is assigned to).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('runtime_contexts',
    sa.Column('runtime_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('value', sa.String(length=512), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['runtime_id'], ['runtimes.id'], name=op.f('fk_runtime_contexts_runtime_id_runtimes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_runtime_contexts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runtime_contexts'))
    )
    with op.batch_alter_table('runtime_contexts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runtime_contexts_runtime_id'), ['runtime_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_runtime_contexts_tenant_id'), ['tenant_id'], unique=False)

    # Batch: SQLite adds a foreign key or a unique constraint only by rebuilding the table (nothing refers to
    # labels, so dropping the old one cascades nowhere).
    with op.batch_alter_table('labels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('runtime_context_id', sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_labels_runtime_context_id_runtime_contexts'), 'runtime_contexts', ['runtime_context_id'], ['id'], ondelete='CASCADE')
        batch_op.create_unique_constraint(batch_op.f('uq_labels_runtime_context_id_key'), ['runtime_context_id', 'key'])
        batch_op.create_index(batch_op.f('ix_labels_runtime_context_id'), ['runtime_context_id'], unique=False)


def downgrade() -> None:
    # A context's labels would be left owned by nothing.
    op.execute(sa.text('DELETE FROM labels WHERE runtime_context_id IS NOT NULL'))
    with op.batch_alter_table('labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_labels_runtime_context_id'))
        batch_op.drop_constraint(batch_op.f('uq_labels_runtime_context_id_key'), type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_labels_runtime_context_id_runtime_contexts'), type_='foreignkey')
        batch_op.drop_column('runtime_context_id')

    with op.batch_alter_table('runtime_contexts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runtime_contexts_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_runtime_contexts_runtime_id'))

    op.drop_table('runtime_contexts')
