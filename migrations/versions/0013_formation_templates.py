"""formations: status, assignments, templates, constraints

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Compass's default formation template (its migration 20220606171814, renamed in 20230517134244); every formation
# made before templates existed is of this type.
DEFAULT_TEMPLATE_ID = '5b0b9f4f-6a6b-4d54-9a5e-6f1c5d3c0a11'
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    templates = op.create_table('formation_templates',
    sa.Column('tenant_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('application_types', JSON, nullable=False),
    sa.Column('runtime_types', JSON, nullable=True),
    sa.Column('runtime_type_display_name', sa.String(length=256), nullable=True),
    sa.Column('runtime_artifact_kind', sa.String(length=32), nullable=True),
    sa.Column('leading_product_ids', JSON, nullable=True),
    sa.Column('supports_reset', sa.Boolean(), nullable=False),
    sa.Column('discovery_consumers', JSON, nullable=True),
    sa.Column('labels', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_formation_templates_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_formation_templates'))
    )
    with op.batch_alter_table('formation_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_formation_templates_tenant_id'), ['tenant_id'], unique=False)
    op.bulk_insert(templates, [{
        'id': DEFAULT_TEMPLATE_ID, 'tenant_id': None, 'name': 'Side-by-Side Extensibility with Kyma',
        'application_types': ['SAP Cloud for Customer', 'SAP Commerce Cloud', 'SAP Field Service Management',
                              'SAP Marketing Cloud'],
        'runtime_types': ['kyma'], 'runtime_type_display_name': 'SAP BTP Kyma',
        'runtime_artifact_kind': 'ENVIRONMENT_INSTANCE', 'leading_product_ids': None, 'supports_reset': True,
        'discovery_consumers': None, 'labels': {}, 'created_at': datetime.now(UTC), 'updated_at': None,
    }])

    op.create_table('formation_constraints',
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('constraint_type', sa.String(length=16), nullable=False),
    sa.Column('target_operation', sa.String(length=64), nullable=False),
    sa.Column('operator', sa.String(length=256), nullable=False),
    sa.Column('resource_type', sa.String(length=32), nullable=False),
    sa.Column('resource_subtype', sa.String(length=256), nullable=False),
    sa.Column('input_template', sa.Text(), nullable=False),
    sa.Column('constraint_scope', sa.String(length=32), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_formation_constraints'))
    )
    op.create_table('constraint_references',
    sa.Column('constraint_id', sa.String(length=36), nullable=False),
    sa.Column('template_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['constraint_id'], ['formation_constraints.id'], name=op.f('fk_constraint_references_constraint_id_formation_constraints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['formation_templates.id'], name=op.f('fk_constraint_references_template_id_formation_templates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('constraint_id', 'template_id', name=op.f('pk_constraint_references'))
    )
    with op.batch_alter_table('constraint_references', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_constraint_references_template_id'), ['template_id'], unique=False)

    with op.batch_alter_table('formations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('formation_template_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('error', JSON, nullable=True))
        batch_op.add_column(sa.Column('last_state_change_timestamp', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_notification_sent_timestamp', sa.DateTime(timezone=True), nullable=True))
    op.execute(sa.text('UPDATE formations SET formation_template_id = :id').bindparams(id=DEFAULT_TEMPLATE_ID))
    with op.batch_alter_table('formations', schema=None) as batch_op:
        batch_op.alter_column('formation_template_id', existing_type=sa.String(length=36), nullable=False)
        batch_op.create_index(batch_op.f('ix_formations_formation_template_id'), ['formation_template_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_formations_formation_template_id_formation_templates'), 'formation_templates', ['formation_template_id'], ['id'])

    op.create_table('formation_assignments',
    sa.Column('formation_id', sa.String(length=36), nullable=False),
    sa.Column('source', sa.String(length=36), nullable=False),
    sa.Column('source_type', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=36), nullable=False),
    sa.Column('target_type', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('last_state_change_timestamp', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_notification_sent_timestamp', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['formation_id'], ['formations.id'], name=op.f('fk_formation_assignments_formation_id_formations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_formation_assignments_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_formation_assignments')),
    sa.UniqueConstraint('formation_id', 'source', 'target', name=op.f('uq_formation_assignments_formation_id_source_target'))
    )
    with op.batch_alter_table('formation_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_formation_assignments_formation_id'), ['formation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_formation_assignments_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('assignment_operations',
    sa.Column('assignment_id', sa.String(length=36), nullable=False),
    sa.Column('formation_id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('triggered_by', sa.String(length=32), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['formation_assignments.id'], name=op.f('fk_assignment_operations_assignment_id_formation_assignments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_assignment_operations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment_operations'))
    )
    with op.batch_alter_table('assignment_operations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignment_operations_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignment_operations_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('assignment_operations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignment_operations_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_assignment_operations_assignment_id'))
    op.drop_table('assignment_operations')
    with op.batch_alter_table('formation_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_formation_assignments_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_formation_assignments_formation_id'))
    op.drop_table('formation_assignments')
    with op.batch_alter_table('formations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_formations_formation_template_id_formation_templates'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_formations_formation_template_id'))
        batch_op.drop_column('last_notification_sent_timestamp')
        batch_op.drop_column('last_state_change_timestamp')
        batch_op.drop_column('error')
        batch_op.drop_column('formation_template_id')
    with op.batch_alter_table('constraint_references', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_constraint_references_template_id'))
    op.drop_table('constraint_references')
    op.drop_table('formation_constraints')
    with op.batch_alter_table('formation_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_formation_templates_tenant_id'))
    op.drop_table('formation_templates')
