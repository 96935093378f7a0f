"""report sums: precomputed dashboard figures per course, kabupaten/kota, kecamatan and badan

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 09:00:00.000000

A province's (or KPU RI's) dashboard read every participant of the course on each request. The
job worker now sums them once per course and kabupaten/kota into report_sum (a row per office,
kecamatan and badan), and report_sum_state says when; the dashboard adds up those rows. Nothing
to fill here: the first dashboard opened queues its refresh.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_sum',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('kabkota', sa.String(length=5), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=True),
    sa.Column('kecamatan_kode', sa.String(length=8), nullable=True),
    sa.Column('badan', sa.String(length=32), nullable=True),
    sa.Column('participants', sa.Integer(), nullable=False),
    sa.Column('modules_n', sa.Integer(), nullable=False),
    sa.Column('modules_sum', sa.Float(), nullable=False),
    sa.Column('attendance_n', sa.Integer(), nullable=False),
    sa.Column('attendance_sum', sa.Float(), nullable=False),
    sa.Column('gain_n', sa.Integer(), nullable=False),
    sa.Column('gain_sum', sa.Float(), nullable=False),
    sa.Column('both_n', sa.Integer(), nullable=False),
    sa.Column('pre_sum', sa.Float(), nullable=False),
    sa.Column('post_sum', sa.Float(), nullable=False),
    sa.Column('with_post', sa.Integer(), nullable=False),
    sa.Column('passed', sa.Integer(), nullable=False),
    sa.Column('complete', sa.Integer(), nullable=False),
    sa.Column('certificates', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_report_sum_course_id_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_sum'))
    )
    with op.batch_alter_table('report_sum', schema=None) as batch_op:
        batch_op.create_index('ix_report_sum_course_kabkota', ['course_id', 'kabkota'], unique=False)
    op.create_table('report_sum_state',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('kabkota', sa.String(length=5), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('participants', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_report_sum_state_course_id_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'kabkota', name=op.f('pk_report_sum_state'))
    )


def downgrade():
    op.drop_table('report_sum_state')
    with op.batch_alter_table('report_sum', schema=None) as batch_op:
        batch_op.drop_index('ix_report_sum_course_kabkota')
    op.drop_table('report_sum')
