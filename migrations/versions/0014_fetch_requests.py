"""specifications fetched from a URL

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('fetch_requests',
    sa.Column('api_definition_id', sa.String(length=36), nullable=True),
    sa.Column('event_definition_id', sa.String(length=36), nullable=True),
    sa.Column('document_id', sa.String(length=36), nullable=True),
    sa.Column('url', sa.String(length=256), nullable=False),
    sa.Column('auth', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('filter', sa.String(length=256), nullable=True),
    sa.Column('status_condition', sa.String(length=16), nullable=False),
    sa.Column('status_message', sa.Text(), nullable=True),
    sa.Column('status_timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['api_definition_id'], ['api_definitions.id'], name=op.f('fk_fetch_requests_api_definition_id_api_definitions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_definition_id'], ['event_definitions.id'], name=op.f('fk_fetch_requests_event_definition_id_event_definitions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_fetch_requests_document_id_documents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_fetch_requests_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fetch_requests')),
    sa.UniqueConstraint('api_definition_id', name=op.f('uq_fetch_requests_api_definition_id')),
    sa.UniqueConstraint('event_definition_id', name=op.f('uq_fetch_requests_event_definition_id')),
    sa.UniqueConstraint('document_id', name=op.f('uq_fetch_requests_document_id'))
    )
    with op.batch_alter_table('fetch_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fetch_requests_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fetch_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fetch_requests_tenant_id'))

    op.drop_table('fetch_requests')
