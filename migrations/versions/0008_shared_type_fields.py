"""credentials, auths, webhooks, system auths: the fields Compass's shared types have

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

Credentials (certificateOAuth), accessStrategy and the CSRF request's parameters live in the auth JSON documents
and need no column. Webhooks get Compass's templates, correlation id key, retry interval, timeout and the ids of
the owners whose tables come in later revisions (application templates, formation templates, integration
systems): plain indexed columns here, without foreign keys to tables that do not exist yet.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OWNERS = ('application_template_id', 'formation_template_id', 'integration_system_id')
_TEMPLATES = ('url_template', 'input_template', 'header_template', 'output_template', 'status_template')


def upgrade() -> None:
    # Batch: SQLite rebuilds the table; nothing references webhooks, so the rebuild cascades nowhere.
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        for owner in _OWNERS:
            batch_op.add_column(sa.Column(owner, sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('correlation_id_key', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('retry_interval', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('timeout', sa.Integer(), nullable=True))
        for template in _TEMPLATES:
            batch_op.add_column(sa.Column(template, sa.Text(), nullable=True))
        for owner in _OWNERS:
            batch_op.create_index(batch_op.f(f'ix_webhooks_{owner}'), [owner], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        for owner in _OWNERS:
            batch_op.drop_index(batch_op.f(f'ix_webhooks_{owner}'))
        for column in (*_TEMPLATES, 'timeout', 'retry_interval', 'correlation_id_key', *_OWNERS):
            batch_op.drop_column(column)
