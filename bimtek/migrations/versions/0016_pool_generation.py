"""pool generation: a value every change to the question pools replaces (triggers)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 16:30:00.000000

A hall pressing "Mulai" together read the whole question pool of the course once per start.
The app now keeps a pool per process and uses it again while pool_generation.value is
unchanged. Triggers on question, question_version and course_module set the value to a new
random number on every INSERT, UPDATE and DELETE (and TRUNCATE on PostgreSQL), so every
writer (bank upload, content sync, the trainer workspace, a module swap, plain SQL) is covered.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLES = ("question", "question_version", "course_module")
# A random bigint (SQLite: 64 random bits; PostgreSQL: random() scaled, about 53 bits), never a
# counter: a restored backup brings back its own value with its own content.
SQLITE_NEW = "UPDATE pool_generation SET value = random()"
POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION pool_generation_bump() RETURNS trigger AS $$
BEGIN
    UPDATE pool_generation SET value = floor(random() * 9000000000000000000)::bigint;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def upgrade():
    op.create_table(
        "pool_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_generation")),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "INSERT INTO pool_generation (id, value) "
            "VALUES (1, floor(random() * 9000000000000000000)::bigint)"
        )
        op.execute(POSTGRES_FUNCTION)
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_pool_generation "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION pool_generation_bump()"
            )
    else:
        op.execute("INSERT INTO pool_generation (id, value) VALUES (1, random())")
        for table in TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_pool_generation_{event.lower()} "
                    f"AFTER {event} ON {table} BEGIN {SQLITE_NEW}; END"
                )


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_pool_generation ON {table}")
        else:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_pool_generation_{event}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS pool_generation_bump()")
    op.drop_table("pool_generation")
