"""The migrations build exactly the schema the models describe, and upgrade an office's database
that already holds data from every earlier revision, on both databases."""

import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import upgrade

from bimtek import MIGRATIONS_DIR
from bimtek.extensions import db, migrate
from tests.conftest import close_app, make_test_app

# "role IN ('peserta', …)" as written, or "((role)::text = ANY ((ARRAY['peserta'::…" as
# PostgreSQL reflects it: the column and the first allowed value.
IN_LIST = re.compile(
    r"^\W*(\w+)\W*(?:::\w+\s*)?(?:IN|= ANY)\W+(?:ARRAY\[)?'([^']*)'", re.IGNORECASE
)
# "score BETWEEN 1 AND 5" as written, "((score >= 1) AND (score <= 5))" as reflected: the lowest.
AT_LEAST = re.compile(r"^\W*(\w+)\W*(?:BETWEEN|>=)\s*(\d+)", re.IGNORECASE)
EITHER_NULL = re.compile(r"\((\w+) IS NULL\)\s*<>\s*\((\w+) IS NULL\)", re.IGNORECASE)


def test_models_match_migrations(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def _revisions(app) -> list[str]:
    with app.app_context():
        script = ScriptDirectory.from_config(migrate.get_config(MIGRATIONS_DIR))
        return [r.revision for r in reversed(list(script.walk_revisions()))]


def _row_for(table: sa.Table, inspector, existing: dict, number: int) -> dict:
    """One plausible row for a table as it stands at this revision: foreign keys point at rows
    seeded earlier, CHECK constraints' IN lists give the value, other columns get a value of
    their type."""
    row: dict = {}
    when = datetime(2024, 5, 26, 1, 0, tzinfo=UTC)
    for column in table.columns:
        if (
            column.primary_key
            and len(table.primary_key.columns) == 1
            and isinstance(column.type, sa.Integer)
            and not column.foreign_keys
        ):
            continue  # autoincrement
        fk = next(iter(column.foreign_keys), None)
        if fk is not None:
            target = existing.get(fk.column.table.name)
            if target is not None:
                row[column.name] = target[fk.column.name]
            elif not column.nullable:
                return {}  # cannot be seeded at this revision
            continue
        kind = column.type
        if isinstance(kind, sa.Boolean):
            row[column.name] = False
        elif isinstance(kind, sa.Integer | sa.Numeric | sa.Float):
            row[column.name] = number
        elif isinstance(kind, sa.DateTime):
            when += timedelta(hours=1)  # later columns later (ends_at after starts_at)
            row[column.name] = when
        elif isinstance(kind, sa.Date):
            row[column.name] = when.date()
        elif isinstance(kind, sa.JSON):
            row[column.name] = []
        elif isinstance(kind, sa.LargeBinary):
            row[column.name] = b"x"
        else:
            length = getattr(kind, "length", None) or 40
            row[column.name] = f"{column.name[:6]}{number}"[:length]
    for check in inspector.get_check_constraints(table.name):
        text = check["sqltext"]
        if match := IN_LIST.match(text):
            row[match.group(1)] = match.group(2)
        elif match := AT_LEAST.match(text):
            row[match.group(1)] = int(match.group(2))
        elif match := EITHER_NULL.search(text):
            row[match.group(2)] = None
    return row


# Tables a later revision replaced, and where their rows went.
MOVED = {"office_setting": "office"}  # 0012: the settings row became the first office


def test_every_revision_upgrades_with_data_in_it(empty_db_url):
    """Walk the chain one revision at a time; after each, put a row in every table that has
    none yet. At head, every row is still there with the values it was given."""
    app = make_test_app(empty_db_url)
    seeded: dict[str, dict] = {}
    try:
        for number, revision in enumerate(_revisions(app), start=1):
            with app.app_context():
                upgrade(directory=MIGRATIONS_DIR, revision=revision)
                inspector = sa.inspect(db.engine)
                metadata = sa.MetaData()
                metadata.reflect(db.engine)
                for table in metadata.sorted_tables:
                    if table.name in seeded or table.name == "alembic_version":
                        continue
                    with db.engine.connect() as conn:  # a row the migration itself wrote
                        if conn.scalar(sa.select(sa.func.count()).select_from(table)):
                            continue
                    row = _row_for(table, inspector, seeded, number)
                    if not row:
                        continue
                    with db.engine.begin() as conn:
                        result = conn.execute(table.insert().values(**row))
                        keys = result.inserted_primary_key or ()
                    for column, value in zip(table.primary_key.columns, keys, strict=False):
                        row[column.name] = value
                    seeded[table.name] = row
        with app.app_context():
            metadata = sa.MetaData()
            metadata.reflect(db.engine)
            with db.engine.connect() as conn:
                for name, row in seeded.items():
                    table = metadata.tables[MOVED.get(name, name)]
                    where = [table.c[k] == v for k, v in row.items() if k in table.c and v is not None
                             and not isinstance(v, datetime | list)]  # fmt: skip
                    assert (
                        conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where))
                        == 1
                    ), name
        assert len(seeded) >= 20, sorted(seeded)  # the chain really carried data
    finally:
        close_app(app)
