"""application templates

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Templates are global (no tenant), as in Compass. ``applications.application_template_id`` names the template an
application was registered from; it is no foreign key (see the model), so adding it is a plain ADD COLUMN on
both databases. A template's webhooks are global like it: ``webhooks.tenant_id`` becomes nullable (rebuilding
``webhooks`` on SQLite is safe: no table refers to it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
INDEX = 'ix_applications_application_template_id'


def upgrade() -> None:
    op.create_table('application_templates',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('application_namespace', sa.String(length=256), nullable=True),
    sa.Column('application_input', JSON, nullable=False),
    sa.Column('placeholders', JSON, nullable=False),
    sa.Column('access_level', sa.String(length=16), nullable=False),
    sa.Column('labels', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_templates'))
    )
    op.create_index(op.f('ix_application_templates_name'), 'application_templates', ['name'], unique=False)
    op.add_column('applications', sa.Column('application_template_id', sa.String(length=36), nullable=True))
    op.create_index(INDEX, 'applications', ['application_template_id'], unique=False)
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.alter_column('tenant_id', existing_type=sa.String(length=36), nullable=True)


def downgrade() -> None:
    op.execute('DELETE FROM webhooks WHERE tenant_id IS NULL')
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.alter_column('tenant_id', existing_type=sa.String(length=36), nullable=False)
    # Not batch: on SQLite that rebuilds the table, and dropping the old one would cascade to its children.
    op.drop_index(INDEX, table_name='applications')
    op.drop_column('applications', 'application_template_id')
    op.drop_index(op.f('ix_application_templates_name'), table_name='application_templates')
    op.drop_table('application_templates')
