"""imbauan: circulars of an office and their read receipts

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('imbauan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.Column('confirmation_text', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_imbauan_created_by_id_user')),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_imbauan_office_id_office')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imbauan'))
    )
    with op.batch_alter_table('imbauan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imbauan_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_imbauan_office_id'), ['office_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_imbauan_published_at'), ['published_at'], unique=False)

    op.create_table('imbauan_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('imbauan_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['imbauan_id'], ['imbauan.id'], name=op.f('fk_imbauan_receipt_imbauan_id_imbauan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_imbauan_receipt_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imbauan_receipt')),
    sa.UniqueConstraint('imbauan_id', 'user_id', name=op.f('uq_imbauan_receipt_imbauan_id'))
    )
    with op.batch_alter_table('imbauan_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imbauan_receipt_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('imbauan_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_imbauan_receipt_user_id'))
    op.drop_table('imbauan_receipt')
    with op.batch_alter_table('imbauan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_imbauan_published_at'))
        batch_op.drop_index(batch_op.f('ix_imbauan_office_id'))
        batch_op.drop_index(batch_op.f('ix_imbauan_created_by_id'))
    op.drop_table('imbauan')
