"""office settings: the office_setting row; the signer's NIP on certificate versions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 03:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('office_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('address_line', sa.String(length=300), nullable=True),
    sa.Column('signer_name', sa.String(length=200), nullable=True),
    sa.Column('signer_title', sa.String(length=200), nullable=True),
    sa.Column('signer_nip', sa.String(length=30), nullable=True),
    sa.Column('place', sa.String(length=100), nullable=True),
    sa.Column('timezone', sa.String(length=40), nullable=True),
    sa.Column('cert_number_template', sa.String(length=120), nullable=True),
    sa.Column('kode_kab', sa.String(length=10), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('previewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_office_setting_updated_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_office_setting'))
    )
    with op.batch_alter_table('certificate_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signer_nip', sa.String(length=30), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('certificate_version', schema=None) as batch_op:
        batch_op.drop_column('signer_nip')
    op.drop_table('office_setting')
