"""tenant access grants (addTenantAccess)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LABEL_OWNERS = ('application_id', 'runtime_id', 'runtime_context_id')
_SCENARIOS = sa.text("key = 'scenarios'")
_NOT_SCENARIOS = sa.text("key != 'scenarios'")


def upgrade() -> None:
    op.create_table('tenant_access',
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('resource_type', sa.String(length=32), nullable=False),
    sa.Column('resource_id', sa.String(length=36), nullable=False),
    sa.Column('source', sa.String(length=36), nullable=False),
    sa.Column('owner', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['source'], ['tenants.id'], name=op.f('fk_tenant_access_source_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tenant_access_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'resource_type', 'resource_id', 'source', name=op.f('pk_tenant_access'))
    )
    with op.batch_alter_table('tenant_access', schema=None) as batch_op:
        batch_op.create_index('ix_tenant_access_resource', ['resource_type', 'resource_id'], unique=False)

    # A label key is unique per object, but ``scenarios`` per tenant and object: a tenant granted an object keeps
    # its own formations on it. Partial unique indexes (SQLite and PostgreSQL); batch: SQLite drops a unique
    # constraint only by rebuilding the table (nothing refers to labels).
    with op.batch_alter_table('labels', schema=None) as batch_op:
        for owner in _LABEL_OWNERS:
            batch_op.drop_constraint(f'uq_labels_{owner}_key', type_='unique')
    for owner in _LABEL_OWNERS:
        op.create_index(
            f'uq_labels_{owner}_key', 'labels', [owner, 'key'], unique=True,
            sqlite_where=_NOT_SCENARIOS, postgresql_where=_NOT_SCENARIOS,
        )
        op.create_index(
            f'uq_labels_tenant_id_{owner}_scenarios', 'labels', ['tenant_id', owner], unique=True,
            sqlite_where=_SCENARIOS, postgresql_where=_SCENARIOS,
        )


def downgrade() -> None:
    # Each label goes back to the tenant the object was made in (the only one that sees it without grants), but
    # the formations other tenants set on it, which the per-object constraints would refuse.
    for owner in _LABEL_OWNERS:
        op.drop_index(f'uq_labels_tenant_id_{owner}_scenarios', table_name='labels')
        op.drop_index(f'uq_labels_{owner}_key', table_name='labels')
    labels = sa.table(
        'labels', sa.column('key', sa.String), sa.column('tenant_id', sa.String),
        *(sa.column(owner, sa.String) for owner in _LABEL_OWNERS),
    )
    for owner, table in zip(_LABEL_OWNERS, ('applications', 'runtimes', 'runtime_contexts'), strict=True):
        objects = sa.table(table, sa.column('id', sa.String), sa.column('tenant_id', sa.String))
        home = sa.select(objects.c.tenant_id).where(objects.c.id == labels.c[owner]).scalar_subquery()
        elsewhere = sa.and_(labels.c[owner].is_not(None), labels.c.tenant_id != home)
        op.execute(labels.delete().where(elsewhere, labels.c.key == 'scenarios'))
        op.execute(labels.update().where(elsewhere).values(tenant_id=home))
    with op.batch_alter_table('labels', schema=None) as batch_op:
        for owner in _LABEL_OWNERS:
            batch_op.create_unique_constraint(f'uq_labels_{owner}_key', [owner, 'key'])
    with op.batch_alter_table('tenant_access', schema=None) as batch_op:
        batch_op.drop_index('ix_tenant_access_resource')
    op.drop_table('tenant_access')
