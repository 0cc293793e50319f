"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tenants',
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants')),
    sa.UniqueConstraint('name', name=op.f('uq_tenants_name'))
    )
    op.create_table('applications',
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('system_number', sa.String(length=64), nullable=True),
    sa.Column('base_url', sa.String(length=2048), nullable=True),
    sa.Column('provider_name', sa.String(length=256), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('integration_system_id', sa.String(length=36), nullable=True),
    sa.Column('healthcheck_url', sa.String(length=2048), nullable=True),
    sa.Column('status_condition', sa.String(length=32), nullable=False),
    sa.Column('status_timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_applications_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_applications_tenant_id_name'))
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('formations',
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('template_name', sa.String(length=256), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_formations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_formations')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_formations_tenant_id_name'))
    )
    with op.batch_alter_table('formations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_formations_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('label_definitions',
    sa.Column('key', sa.String(length=256), nullable=False),
    sa.Column('schema', sa.JSON(), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_label_definitions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_label_definitions')),
    sa.UniqueConstraint('tenant_id', 'key', name=op.f('uq_label_definitions_tenant_id_key'))
    )
    with op.batch_alter_table('label_definitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_label_definitions_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('runtimes',
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status_condition', sa.String(length=32), nullable=False),
    sa.Column('status_timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_runtimes_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runtimes')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_runtimes_tenant_id_name'))
    )
    with op.batch_alter_table('runtimes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runtimes_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('bundles',
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('instance_auth_request_input_schema', sa.Text(), nullable=True),
    sa.Column('default_instance_auth', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_bundles_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_bundles_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bundles'))
    )
    with op.batch_alter_table('bundles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bundles_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bundles_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('labels',
    sa.Column('key', sa.String(length=256), nullable=False),
    sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=True),
    sa.Column('runtime_id', sa.String(length=36), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_labels_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['runtime_id'], ['runtimes.id'], name=op.f('fk_labels_runtime_id_runtimes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_labels_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_labels')),
    sa.UniqueConstraint('application_id', 'key', name=op.f('uq_labels_application_id_key')),
    sa.UniqueConstraint('runtime_id', 'key', name=op.f('uq_labels_runtime_id_key'))
    )
    with op.batch_alter_table('labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_labels_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_labels_key'), ['key'], unique=False)
        batch_op.create_index(batch_op.f('ix_labels_runtime_id'), ['runtime_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_labels_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('system_auths',
    sa.Column('application_id', sa.String(length=36), nullable=True),
    sa.Column('runtime_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_system_auths_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['runtime_id'], ['runtimes.id'], name=op.f('fk_system_auths_runtime_id_runtimes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_system_auths_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_system_auths'))
    )
    with op.batch_alter_table('system_auths', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_system_auths_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_system_auths_runtime_id'), ['runtime_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_system_auths_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('webhooks',
    sa.Column('application_id', sa.String(length=36), nullable=True),
    sa.Column('runtime_id', sa.String(length=36), nullable=True),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('mode', sa.String(length=32), nullable=True),
    sa.Column('auth', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_webhooks_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['runtime_id'], ['runtimes.id'], name=op.f('fk_webhooks_runtime_id_runtimes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_webhooks_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhooks'))
    )
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhooks_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhooks_runtime_id'), ['runtime_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhooks_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('api_definitions',
    sa.Column('bundle_id', sa.String(length=36), nullable=False),
    sa.Column('target_url', sa.String(length=2048), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('group_name', sa.String(length=256), nullable=True),
    sa.Column('spec_data', sa.Text(), nullable=True),
    sa.Column('spec_type', sa.String(length=32), nullable=True),
    sa.Column('spec_format', sa.String(length=16), nullable=True),
    sa.Column('version_value', sa.String(length=64), nullable=True),
    sa.Column('version_deprecated', sa.Boolean(), nullable=True),
    sa.Column('version_deprecated_since', sa.String(length=64), nullable=True),
    sa.Column('version_for_removal', sa.Boolean(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_api_definitions_bundle_id_bundles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_api_definitions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_definitions'))
    )
    with op.batch_alter_table('api_definitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_definitions_bundle_id'), ['bundle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_definitions_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('documents',
    sa.Column('bundle_id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=256), nullable=False),
    sa.Column('display_name', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=256), nullable=True),
    sa.Column('data', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_documents_bundle_id_bundles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_documents_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents'))
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_bundle_id'), ['bundle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('event_definitions',
    sa.Column('bundle_id', sa.String(length=36), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('group_name', sa.String(length=256), nullable=True),
    sa.Column('spec_data', sa.Text(), nullable=True),
    sa.Column('spec_type', sa.String(length=32), nullable=True),
    sa.Column('spec_format', sa.String(length=16), nullable=True),
    sa.Column('version_value', sa.String(length=64), nullable=True),
    sa.Column('version_deprecated', sa.Boolean(), nullable=True),
    sa.Column('version_deprecated_since', sa.String(length=64), nullable=True),
    sa.Column('version_for_removal', sa.Boolean(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_event_definitions_bundle_id_bundles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_event_definitions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_definitions'))
    )
    with op.batch_alter_table('event_definitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_definitions_bundle_id'), ['bundle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_definitions_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('one_time_tokens',
    sa.Column('system_auth_id', sa.String(length=36), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['system_auth_id'], ['system_auths.id'], name=op.f('fk_one_time_tokens_system_auth_id_system_auths'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_one_time_tokens_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_one_time_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_one_time_tokens_token_hash'))
    )
    with op.batch_alter_table('one_time_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_one_time_tokens_system_auth_id'), ['system_auth_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_one_time_tokens_tenant_id'), ['tenant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('one_time_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_one_time_tokens_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_one_time_tokens_system_auth_id'))

    op.drop_table('one_time_tokens')
    with op.batch_alter_table('event_definitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_definitions_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_event_definitions_bundle_id'))

    op.drop_table('event_definitions')
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_documents_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_documents_bundle_id'))

    op.drop_table('documents')
    with op.batch_alter_table('api_definitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_definitions_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_api_definitions_bundle_id'))

    op.drop_table('api_definitions')
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhooks_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_webhooks_runtime_id'))
        batch_op.drop_index(batch_op.f('ix_webhooks_application_id'))

    op.drop_table('webhooks')
    with op.batch_alter_table('system_auths', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_system_auths_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_system_auths_runtime_id'))
        batch_op.drop_index(batch_op.f('ix_system_auths_application_id'))

    op.drop_table('system_auths')
    with op.batch_alter_table('labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_labels_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_labels_runtime_id'))
        batch_op.drop_index(batch_op.f('ix_labels_key'))
        batch_op.drop_index(batch_op.f('ix_labels_application_id'))

    op.drop_table('labels')
    with op.batch_alter_table('bundles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bundles_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_bundles_application_id'))

    op.drop_table('bundles')
    with op.batch_alter_table('runtimes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runtimes_tenant_id'))

    op.drop_table('runtimes')
    with op.batch_alter_table('label_definitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_label_definitions_tenant_id'))

    op.drop_table('label_definitions')
    with op.batch_alter_table('formations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_formations_tenant_id'))

    op.drop_table('formations')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_tenant_id'))

    op.drop_table('applications')
    op.drop_table('tenants')
