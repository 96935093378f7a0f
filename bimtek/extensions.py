"""Flask extensions, created here and bound in create_app."""

import logging
from datetime import datetime

from flask import current_app, g, has_app_context, has_request_context, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator

from bimtek.timeutil import as_utc

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Every datetime column: stored in UTC, read back aware and in UTC on both databases.

    PostgreSQL has timestamptz (and hands values back in the connection's zone); SQLite keeps
    text without an offset and hands back naive values. Making them aware here, once, keeps
    naive times out of comparisons, pages, JSON and scripts (a naive ISO string is read as the
    phone's local time by a browser). Writes are converted to UTC first, because SQLite would
    otherwise store the wall-clock time of whatever zone an aware value carries.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if isinstance(value, datetime):
            return as_utc(value)
        return value

    def process_result_value(self, value, dialect):
        if isinstance(value, datetime):
            return as_utc(value)
        return value


class Base(DeclarativeBase):
    # Times are stored in UTC; timestamptz on PostgreSQL so the server's zone never shifts them.
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime(timezone=True)},
    )


# Objects stay loaded after commit: a view commits once at its end, and reloading the signed-in
# user for the response headers would cost a second transaction on every request.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    """WAL, foreign keys and a busy timeout on every SQLite connection.

    pysqlite's own BEGIN handling is switched off so that `_sqlite_on_begin`
    decides how each transaction starts.
    """
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    """Start write transactions with BEGIN IMMEDIATE on SQLite.

    A deferred BEGIN that reads and later writes cannot wait for the write
    lock (busy_timeout does not apply to the upgrade), so concurrent writers
    fail with "database is locked". Requests that only read (GET/HEAD) keep
    a deferred BEGIN so they never queue behind writers.
    """
    if conn.dialect.name != "sqlite":
        return
    reads_first = (
        has_request_context()
        and not g.get("db_write", False)
        # a @writes_late view reads first; its begin_write() takes the lock later
        and (request.method in _READ_ONLY_METHODS or _writes_late(request.endpoint))
    ) or (
        # a background job that only reads (an export): never hold the write lock for it
        has_app_context() and g.get("db_reads_first", False) and not g.get("db_write", False)
    )
    conn.exec_driver_sql("BEGIN" if reads_first else "BEGIN IMMEDIATE")


def _writes_late(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return getattr(view, "writes_late", False)


def writes_late(view):
    """Mark a POST view that reads first (sign-in, checks) and calls begin_write() right
    before it writes. On SQLite the write lock is then held for the write alone, not for the
    whole request: with two workers the other one no longer sleeps in the busy handler."""
    view.writes_late = True
    return view


def begin_write() -> None:
    """Switch this request to writing: a GET that must write, or a @writes_late POST.

    Ends the current (read) transaction; the next one starts with
    BEGIN IMMEDIATE on SQLite, so the write waits for the lock instead of
    failing. PostgreSQL needs neither: row locks are taken as rows are written.
    """
    g.db_write = True
    if db.engine.dialect.name == "sqlite":
        db.session.commit()


def refresh_statistics() -> None:
    """Refresh the query planner's statistics after a bulk write (an import, a content sync).

    Without them both databases plan the per-kecamatan reports and the exports as if the tables
    were empty: the rekap export took up to 40 % longer after a large import. Called after the
    write is committed, in its own short transaction. PostgreSQL's ANALYZE samples (about 30,000
    rows a table), and SQLite's is capped by analysis_limit, so it stays cheap at province size.
    A failure here is logged and never undoes or fails the write that was already committed.
    """
    try:
        if db.engine.dialect.name == "sqlite":
            db.session.execute(text("PRAGMA analysis_limit=1000"))
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        logging.getLogger(__name__).warning(
            "ANALYZE failed; statistics left as they were", exc_info=True
        )
