"""courses offered down; certificate numbers per issuing office

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 09:00:00.000000

A province (or KPU RI) course can be offered to the offices below it (course.offered_down).
Each kabupaten/kota then issues that course's certificates with its own numbers: the counter
series is kept per office (certificate_counter.office_id, part of the key) and a number is unique
within its issuing office, so two offices with the same template never collide. A single-office
database keeps its counters (office 1) and its numbers.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('offered_down', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table('certificate_counter', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('office_id', sa.Integer(), server_default='1', nullable=False)
        )
        batch_op.drop_constraint('pk_certificate_counter', type_='primary')
        batch_op.create_primary_key('pk_certificate_counter', ['office_id', 'series', 'year'])
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_constraint('uq_certificate_number', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_certificate_office_id'), ['office_id', 'number']
        )


def downgrade():
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_certificate_office_id'), type_='unique')
        batch_op.create_unique_constraint('uq_certificate_number', ['number'])
    # Only the first office's series survive in a key without offices.
    op.execute('DELETE FROM certificate_counter WHERE office_id <> 1')
    with op.batch_alter_table('certificate_counter', schema=None) as batch_op:
        batch_op.drop_constraint('pk_certificate_counter', type_='primary')
        batch_op.create_primary_key('pk_certificate_counter', ['series', 'year'])
        batch_op.drop_column('office_id')
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.drop_column('offered_down')
