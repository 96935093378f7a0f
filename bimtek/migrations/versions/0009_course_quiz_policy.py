"""quiz policy: evaluation order and parallel forms per course, review after the last attempt

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 04:00:00

Existing courses get the new rules switched on (server default true). Quizzes that showed the
key after every submit now show it once no attempt is left: for a single-attempt quiz that is
the same moment, for a quiz with retries it stops handing out the retry's answer sheet.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OLD_POLICIES = "review_policy IN ('score', 'after_submit', 'after_close')"
NEW_POLICIES = "review_policy IN ('score', 'after_last', 'after_submit', 'after_close')"


def upgrade():
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pretest_first', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('posttest_after_modules', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('parallel_forms', sa.Boolean(), server_default=sa.true(), nullable=False))

    with op.batch_alter_table('quiz', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_quiz_review_policy'), type_='check')
        batch_op.create_check_constraint(op.f('ck_quiz_review_policy'), NEW_POLICIES)
    op.execute("UPDATE quiz SET review_policy = 'after_last' WHERE review_policy = 'after_submit'")


def downgrade():
    op.execute("UPDATE quiz SET review_policy = 'after_submit' WHERE review_policy = 'after_last'")
    with op.batch_alter_table('quiz', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_quiz_review_policy'), type_='check')
        batch_op.create_check_constraint(op.f('ck_quiz_review_policy'), OLD_POLICIES)

    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.drop_column('parallel_forms')
        batch_op.drop_column('posttest_after_modules')
        batch_op.drop_column('pretest_first')
