"""The ceiling: a minimal Flask app doing one INSERT per request on the same database.

Served by bench/quiz_burst.py with the same gunicorn settings as bimtek, so the ratio
bimtek / ceiling says how much our own work costs per request.
"""

import os
import sys

from flask import Flask, jsonify
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    Table,
    create_engine,
    event,
    func,
    insert,
)

URL = os.environ["BIMTEK_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
engine = create_engine(URL, pool_pre_ping=True)
metadata = MetaData()
hits = Table(
    "ceiling_hit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), server_default=func.now()),
)

if engine.dialect.name == "sqlite":

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        dbapi_connection.execute("PRAGMA busy_timeout=10000")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # Under `gunicorn -c python:bimtek.gunicorn_conf` the bimtek package is imported, and
        # its Engine-wide listener already begins (BEGIN IMMEDIATE for a POST): not twice.
        if "bimtek.extensions" in sys.modules:
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE")


app = Flask(__name__)


@app.post("/hit")
def hit():
    with engine.begin() as conn:
        conn.execute(insert(hits))
    return jsonify(ok=True)


def create_table() -> None:
    metadata.create_all(engine)
