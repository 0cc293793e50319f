"""applications, runtimes, bundles and definitions: Compass's remaining fields; integration dependencies

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

API and event definitions now always name their application (Compass's ``app_id``) and name a bundle only when
they are in one: an application may hold them directly. Existing rows take their bundle's application. The new
``updated_at`` columns start as ``created_at``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
_DEFINITIONS = ('api_definitions', 'event_definitions')


def _entity_columns() -> list[sa.Column[object]]:
    return [
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('tenant_id', sa.String(length=36), nullable=False),
    ]


def _tenant_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f(f'fk_{table}_tenant_id_tenants'), ondelete='CASCADE')


def _add_columns(table: str, *columns: sa.Column[object]) -> None:
    for column in columns:
        op.add_column(table, column)


def _changed_columns() -> list[sa.Column[object]]:
    return [
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
    ]


def upgrade() -> None:
    _add_columns(
        'applications',
        sa.Column('application_namespace', sa.String(length=256), nullable=True),
        sa.Column('local_tenant_id', sa.String(length=256), nullable=True),
        sa.Column('system_status', sa.String(length=256), nullable=True),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
    )
    op.create_index(op.f('ix_applications_local_tenant_id'), 'applications', ['local_tenant_id'], unique=False)
    op.add_column('runtimes', sa.Column('application_namespace', sa.String(length=256), nullable=True))
    _add_columns('bundles', sa.Column('correlation_ids', _JSON, nullable=True), *_changed_columns())
    _add_columns('documents', *_changed_columns())
    for table in _DEFINITIONS:
        _add_columns(table, *_changed_columns(), sa.Column('application_id', sa.String(length=36), nullable=True))
        op.execute(
            f'UPDATE {table} SET application_id = '  # noqa: S608 - table names are this module's constants
            f'(SELECT bundles.application_id FROM bundles WHERE bundles.id = {table}.bundle_id)'
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('application_id', existing_type=sa.String(length=36), nullable=False)
            batch_op.alter_column('bundle_id', existing_type=sa.String(length=36), nullable=True)
            batch_op.create_foreign_key(
                batch_op.f(f'fk_{table}_application_id_applications'), 'applications', ['application_id'], ['id'],
                ondelete='CASCADE',
            )
            batch_op.create_index(batch_op.f(f'ix_{table}_application_id'), ['application_id'], unique=False)
    for table in ('bundles', 'documents', *_DEFINITIONS):
        op.execute(f'UPDATE {table} SET updated_at = created_at')  # noqa: S608 - table names are constants

    op.create_table('integration_dependencies',
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('ord_id', sa.String(length=256), nullable=False),
    sa.Column('part_of_package', sa.String(length=256), nullable=True),
    sa.Column('visibility', sa.String(length=64), nullable=True),
    sa.Column('release_status', sa.String(length=64), nullable=True),
    sa.Column('mandatory', sa.Boolean(), nullable=True),
    sa.Column('version_value', sa.String(length=64), nullable=True),
    sa.Column('version_deprecated', sa.Boolean(), nullable=True),
    sa.Column('version_deprecated_since', sa.String(length=64), nullable=True),
    sa.Column('version_for_removal', sa.Boolean(), nullable=True),
    sa.Column('labels', _JSON, nullable=True),
    *_entity_columns(),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_integration_dependencies_application_id_applications'), ondelete='CASCADE'),
    _tenant_key('integration_dependencies'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_dependencies'))
    )
    op.create_table('aspects',
    sa.Column('integration_dependency_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('mandatory', sa.Boolean(), nullable=True),
    sa.Column('api_resources', _JSON, nullable=True),
    *_entity_columns(),
    sa.ForeignKeyConstraint(['integration_dependency_id'], ['integration_dependencies.id'], name=op.f('fk_aspects_integration_dependency_id_integration_dependencies'), ondelete='CASCADE'),
    _tenant_key('aspects'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aspects'))
    )
    op.create_table('aspect_event_resources',
    sa.Column('aspect_id', sa.String(length=36), nullable=False),
    sa.Column('ord_id', sa.String(length=256), nullable=False),
    sa.Column('subset', _JSON, nullable=True),
    *_entity_columns(),
    sa.ForeignKeyConstraint(['aspect_id'], ['aspects.id'], name=op.f('fk_aspect_event_resources_aspect_id_aspects'), ondelete='CASCADE'),
    _tenant_key('aspect_event_resources'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aspect_event_resources'))
    )
    for table, parent in (
        ('integration_dependencies', 'application_id'),
        ('aspects', 'integration_dependency_id'),
        ('aspect_event_resources', 'aspect_id'),
    ):
        op.create_index(op.f(f'ix_{table}_{parent}'), table, [parent], unique=False)
        op.create_index(op.f(f'ix_{table}_tenant_id'), table, ['tenant_id'], unique=False)


def _drop_columns(table: str, *names: str) -> None:
    # Not batch: on SQLite that rebuilds the table, and dropping the old one would cascade to its children.
    for name in names:
        op.drop_column(table, name)


def downgrade() -> None:
    for table in ('aspect_event_resources', 'aspects', 'integration_dependencies'):
        op.drop_table(table)
    for table in _DEFINITIONS:
        # The older schema has no place for definitions outside a bundle.
        op.execute(f'DELETE FROM {table} WHERE bundle_id IS NULL')  # noqa: S608 - table names are constants
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_application_id'))
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_application_id_applications'), type_='foreignkey')
            batch_op.alter_column('bundle_id', existing_type=sa.String(length=36), nullable=False)
            batch_op.drop_column('application_id')
            batch_op.drop_column('error')
            batch_op.drop_column('deleted_at')
            batch_op.drop_column('updated_at')
    _drop_columns('documents', 'error', 'deleted_at', 'updated_at')
    _drop_columns('bundles', 'error', 'deleted_at', 'updated_at', 'correlation_ids')
    _drop_columns('runtimes', 'application_namespace')
    op.drop_index(op.f('ix_applications_local_tenant_id'), table_name='applications')
    _drop_columns('applications', 'error', 'deleted_at', 'system_status', 'local_tenant_id', 'application_namespace')
