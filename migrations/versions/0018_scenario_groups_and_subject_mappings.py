"""scenario groups of one-time tokens, certificate subject mappings in use

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not batch: on SQLite that rebuilds system_auths, and dropping the old one would cascade to its tokens.
    op.add_column('system_auths', sa.Column('token_created_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('system_auths', sa.Column('token_scenario_groups', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))


def downgrade() -> None:
    op.drop_column('system_auths', 'token_scenario_groups')
    op.drop_column('system_auths', 'token_created_at')
