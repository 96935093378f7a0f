"""offices: the satker tree; office_setting becomes office 1; rows get their office

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 08:00:00.000000

A single-office database upgrades to one unbound office (id 1, no region) that keeps every
saved setting and owns every existing row: nothing it shows or does changes.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

SETTING_COLUMNS = (
    'name', 'address_line', 'signer_name', 'signer_title', 'signer_nip', 'place', 'timezone',
    'cert_number_template', 'kode_kab', 'updated_at', 'updated_by_id', 'previewed_at',
)
OWNED_TABLES = (
    'user', 'audit_log', 'participant_import', 'module', 'course', 'training_session',
    'certificate',
)


def upgrade():
    op.create_table('office',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('level', sa.String(length=12), nullable=False),
    sa.Column('wilayah_kode', sa.String(length=5), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
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
    sa.CheckConstraint("level IN ('pusat', 'provinsi', 'kabkota')", name=op.f('ck_office_level')),
    sa.ForeignKeyConstraint(['parent_id'], ['office.id'], name=op.f('fk_office_parent_id_office')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_office')),
    sa.UniqueConstraint('wilayah_kode', name=op.f('uq_office_wilayah_kode'))
    )
    with op.batch_alter_table('office', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_office_parent_id'), ['parent_id'], unique=False)

    columns = ', '.join(SETTING_COLUMNS)
    op.execute(
        f"INSERT INTO office (id, level, created_at, {columns}) "
        f"SELECT id, 'kabkota', CURRENT_TIMESTAMP, {columns} FROM office_setting"
    )
    op.execute(
        "INSERT INTO office (id, level, created_at) SELECT 1, 'kabkota', CURRENT_TIMESTAMP "
        "WHERE NOT EXISTS (SELECT 1 FROM office WHERE id = 1)"
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("SELECT setval(pg_get_serial_sequence('office', 'id'), "
                   "(SELECT max(id) FROM office))")
    op.drop_table('office_setting')

    for table in OWNED_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('office_id', sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f'ix_{table}_office_id'), ['office_id'], unique=False)
            batch_op.create_foreign_key(
                batch_op.f(f'fk_{table}_office_id_office'), 'office', ['office_id'], ['id']
            )
        op.execute(f'UPDATE "{table}" SET office_id = 1')


def downgrade():
    for table in reversed(OWNED_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_office_id_office'), type_='foreignkey')
            batch_op.drop_index(batch_op.f(f'ix_{table}_office_id'))
            batch_op.drop_column('office_id')
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
    columns = ', '.join(SETTING_COLUMNS)
    op.execute(f"INSERT INTO office_setting (id, {columns}) SELECT id, {columns} FROM office "
               "WHERE id = 1")
    op.drop_table('office')
