"""application normalized name

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

Runtimes know applications by normalized name, so within a tenant it must be unique (a unique index, which
also settles concurrent registrations). Applications that already share one are not merged or renamed here:
which of them runtimes should keep is the operator's decision. The migration then stops before changing
anything and lists them; rename or unregister all but one of each group (the previous pycompass still runs on
the database) and migrate again.
"""

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic.util import CommandError

from director.normalization import NORMALIZED_NAME_MAX_LENGTH, normalize_name

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = 'uq_applications_tenant_id_normalized_name'
_applications = sa.table(
    'applications',
    sa.column('id', sa.String),
    sa.column('tenant_id', sa.String),
    sa.column('name', sa.String),
    sa.column('normalized_name', sa.String),
)


def _colliding(rows: Sequence[sa.Row[str, str, str]]) -> list[str]:
    groups: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for application_id, tenant_id, name in rows:
        groups[(tenant_id, normalize_name(name))].append(f'{name!r} (id {application_id})')
    return [
        f'tenant {tenant_id}, {normalized!r}: {", ".join(sorted(names))}'
        for (tenant_id, normalized), names in sorted(groups.items())
        if len(names) > 1
    ]


def upgrade() -> None:
    connection = op.get_bind()
    columns = (_applications.c.id, _applications.c.tenant_id, _applications.c.name)
    rows = connection.execute(sa.select(*columns)).all()
    colliding = _colliding(rows)
    if colliding:
        # The message shows an UPDATE to run by hand; nothing here executes it.
        raise CommandError(
            'migration 0007 needs application names that stay distinct once normalized (runtimes see them '  # noqa: S608
            'normalized), but these applications share one:\n  ' + '\n  '.join(colliding) + '\nRename '
            "(UPDATE applications SET name = '<new name>' WHERE id = '<id>') or unregister all but one of "
            'each, then run `compass migrate` again. Nothing was changed.'
        )
    column = sa.Column(
        'normalized_name', sa.String(length=NORMALIZED_NAME_MAX_LENGTH), server_default='', nullable=False
    )
    op.add_column('applications', column)
    if rows:
        connection.execute(
            _applications.update()
            .where(_applications.c.id == sa.bindparam('application_id'))
            .values(normalized_name=sa.bindparam('normalized')),
            [{'application_id': row.id, 'normalized': normalize_name(row.name)} for row in rows],
        )
    op.create_index(INDEX, 'applications', ['tenant_id', 'normalized_name'], unique=True)


def downgrade() -> None:
    # Not batch: on SQLite that rebuilds the table, and dropping the old one would cascade to its children.
    op.drop_index(INDEX, table_name='applications')
    op.drop_column('applications', 'normalized_name')
